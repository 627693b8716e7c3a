package scanner

import (
	"testing"

	"github.com/leakstop/leakstop/rules"
)

// TestTestCredentialsByName: a credential is a test one when a marker
// names it (its line, or a comment just above it), never because of a
// magic test number nearby, and a test block above does not label the
// live credential below it.
func TestTestCredentialsByName(t *testing.T) {
	d := defaultDetector(t)
	cases := []struct {
		name, tmpl string
		test       bool
	}{
		{"named", "TWILIO_TEST_ACCOUNT_SID={{sid s}}\nTWILIO_TEST_AUTH_TOKEN={{token t}}", true},
		{"comment above", "# Twilio test credentials\nTWILIO_ACCOUNT_SID={{sid s}}\nTWILIO_AUTH_TOKEN={{token t}}", true},
		{"magic number", "client = Client(\"{{sid s}}\", \"{{token t}}\")\nclient.messages.create(from_=\"+15005550006\", to=to)", false},
		{"magic number above", "FROM=+15005550006\nTWILIO_ACCOUNT_SID={{sid s}}\nTWILIO_AUTH_TOKEN={{token t}}", false},
		{"live below a test block", "# test credentials\nTWILIO_TEST_ACCOUNT_SID={{sid}}\nTWILIO_TEST_AUTH_TOKEN={{token}}\n# live\nTWILIO_ACCOUNT_SID={{sid s}}\nTWILIO_AUTH_TOKEN={{token t}}", false},
		{"comment beyond a blank line", "# Twilio test credentials\n\nTWILIO_ACCOUNT_SID={{sid s}}\nTWILIO_AUTH_TOKEN={{token t}}", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := rules.NewGenerator(11)
			text, err := g.Expand(c.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			var got *Finding
			fs := d.Pair([]FileHits{{Path: "f", Hits: d.Hits([]byte(text))}})
			for i := range fs {
				if fs[i].Secret.Reveal() == g.Values["t"] {
					got = &fs[i]
				}
			}
			if got == nil {
				t.Fatal("not found")
			}
			if got.Test != c.test {
				t.Errorf("test %v, want %v", got.Test, c.test)
			}
		})
	}
}

// TestColourCodesAreSeparators: a SID and token wrapped in terminal colour
// codes, raw or escaped, are found.
func TestColourCodesAreSeparators(t *testing.T) {
	d := defaultDetector(t)
	for _, esc := range []string{"\x1b", `\x1b`, `\u001b`, `\033`, `\e`} {
		g := rules.NewGenerator(5)
		text, err := g.Expand("account " + esc + "[33m{{sid s}}" + esc + "[0m token " + esc + "[1;33m{{token t}}" + esc + "[0m\n")
		if err != nil {
			t.Fatal(err)
		}
		fs := d.Pair([]FileHits{{Path: "ci.log", Hits: d.Hits([]byte(text))}})
		if len(fs) != 1 || fs[0].Identifier != g.Values["s"] || fs[0].Secret.Reveal() != g.Values["t"] {
			t.Errorf("%q: %d findings", esc, len(fs))
		}
	}
}
