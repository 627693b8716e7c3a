package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/scanner"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadIgnore(t *testing.T) {
	fx := newFixture(61)
	a, b, c := fx.authToken(loc("a", 2)), fx.apiKey(loc("b", 2)), fx.unpaired(loc("c", 2))
	content := "\xef\xbb\xbf# fixtures, not live credentials\n" +
		"\n" +
		a.Fingerprint + "  # testdata/twilio.env\r\n" +
		"   \t\n" +
		strings.ToUpper(b.Fingerprint) + "#no space before the comment\n" +
		"  # indented comment\n" +
		a.Fingerprint + "\n" // a repeat is harmless
	p := writeFile(t, report.IgnoreFileName, content)
	ig, err := LoadIgnore(p)
	if err != nil {
		t.Fatal(err)
	}
	if ig.Len() != 2 || ig.Path != p {
		t.Fatalf("Len %d, Path %q", ig.Len(), ig.Path)
	}
	e := ig.Entries()
	if e[0].Fingerprint != a.Fingerprint || e[0].Comment != "testdata/twilio.env" || e[0].Line != 3 ||
		e[1].Fingerprint != b.Fingerprint || e[1].Comment != "no space before the comment" || e[1].Line != 5 {
		t.Errorf("entries %+v", e)
	}
	kept, ignored := ig.Filter([]scanner.Finding{a, b, c})
	if len(kept) != 1 || kept[0].Fingerprint != c.Fingerprint || len(ignored) != 2 || ignored[0].Fingerprint != a.Fingerprint {
		t.Errorf("Filter: kept %d, ignored %d", len(kept), len(ignored))
	}
	if u := ig.Unused([]scanner.Finding{b, c}); len(u) != 1 || u[0].Fingerprint != a.Fingerprint {
		t.Errorf("Unused %+v", u)
	}

	// Missing file: empty, no error. A nil Ignore ignores nothing.
	ig, err = LoadIgnore(filepath.Join(t.TempDir(), "nope"))
	if err != nil || ig.Len() != 0 {
		t.Errorf("missing file: %v, %d entries", err, ig.Len())
	}
	var none *Ignore
	if kept, ignored := none.Filter([]scanner.Finding{a}); len(kept) != 1 || len(ignored) != 0 {
		t.Error("nil Ignore filtered")
	}
	if _, err := LoadIgnore(t.TempDir()); err == nil {
		t.Error("a directory loaded as an ignore file")
	}
}

func TestLoadIgnoreErrors(t *testing.T) {
	fp := scanner.Fingerprint("r", "i", randomHex(16))
	tok := newFixture(62).expand("{{token}}")
	for _, c := range []struct {
		name, content, want string
	}{
		{"short", "# ok\n" + fp[:31] + "\n", ":2: want a fingerprint of 40 hexadecimal digits"},
		{"long", fp + "0\n", ":1: want a fingerprint"},
		{"not hex", "\n\n" + strings.Repeat("g", 32) + "  # x\n", ":3: want a fingerprint"},
		{"two", fp + " " + fp + "\n", ":1: want one fingerprint per line"},
		{"path", "config/.env\n", ":1: want a fingerprint"},
		{"a secret pasted", "TWILIO_AUTH_TOKEN=" + tok + "1\n", ":1: want a fingerprint"},
		{"too long", fp + "\n" + strings.Repeat("#", maxIgnoreLine+1) + "\n", ":2: line longer than"},
	} {
		p := writeFile(t, report.IgnoreFileName, c.content)
		_, err := LoadIgnore(p)
		if err == nil || !strings.Contains(err.Error(), p+c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, p+c.want)
			continue
		}
		// The error never repeats the line: it might be a secret.
		if strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), "config/.env") {
			t.Errorf("%s: error quotes the line: %v", c.name, err)
		}
	}
}
