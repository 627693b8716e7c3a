package rules

import (
	"strings"
	"testing"
)

const validNames = `
[[names]]
id = "acme"
owner = ['acme']
secret = ['token']
context = ['api']
other = ['id', 'release_sha']
owner_examples = ['ACME_TOKEN']
other_examples = ['ACME_REQUEST_ID']
`

func TestNamesErrorsNameFileLine(t *testing.T) {
	cases := []struct{ name, file, want string }{
		{"bad word regex", "[[names]]\nid = \"n\"\nowner = ['acme']\nsecret = ['(tok']\nowner_examples = ['x']\nother_examples = ['y']\n",
			`x.toml:4: rule "n": secret pattern does not compile: missing closing )`},
		{"upper case", "[[names]]\nid = \"n\"\nowner = ['Acme']\nsecret = ['token']\nowner_examples = ['x']\nother_examples = ['y']\n",
			`x.toml:3: rule "n": owner pattern "Acme": names are matched in lower case`},
		{"word with underscore", "[[names]]\nid = \"n\"\nowner = ['acme']\nsecret = ['auth_token']\nowner_examples = ['x']\nother_examples = ['y']\n",
			`x.toml:4: rule "n": secret pattern "auth_token": one word`},
		{"no owner", "[[names]]\nid = \"n\"\nsecret = ['token']\nowner_examples = ['x']\nother_examples = ['y']\n",
			`x.toml:1: rule "n": a name model needs owner words`},
		{"no examples", "[[names]]\nid = \"n\"\nowner = ['acme']\nsecret = ['token']\n",
			`x.toml:1: rule "n": a name model needs owner_examples and other_examples`},
		{"unknown model", validRule + "names = \"ghost\"\n",
			`x.toml:2: rule "r1": names = "ghost": no such name model`},
		{"names on identifier", "[[rules]]\nid = \"i\"\nkind = \"identifier\"\nregex = '(?P<secret>x+)'\nkeywords = [\"x\"]\nnames = \"acme\"\nexamples = [\"x\"]\n" + validNames,
			`x.toml:6: rule "i": names is for secret rules`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("x.toml", []byte(c.file))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\nwant it to contain %q", err, c.want)
			}
		})
	}
}

// TestNamesExtend: a [[names]] table with the id of a default model adds
// its words to it, so users extend the model.
func TestNamesExtend(t *testing.T) {
	base, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	m := base.NameModel("twilio")
	if got := m.Classify("TWILIO_AUTH_TOKEN_FROBNITZ"); got != NameOwner {
		t.Fatalf("before: %s", got)
	}
	ext, err := Parse("ext.toml", []byte("[extend]\ndefault = true\n[[names]]\nid = \"twilio\"\nowner = ['twilio']\nsecret = ['token']\nother = ['frobnitz']\nowner_examples = ['TWILIO_TOKEN']\nother_examples = ['TWILIO_AUTH_TOKEN_FROBNITZ']\n"))
	if err != nil {
		t.Fatal(err)
	}
	merged, err := Merge(base, ext)
	if err != nil {
		t.Fatal(err)
	}
	mm := merged.NameModel("twilio")
	if got := mm.Classify("TWILIO_AUTH_TOKEN_FROBNITZ"); got != NameOther {
		t.Errorf("after: %s", got)
	}
	if got := mm.Classify("trace_id"); got != NameOther {
		t.Errorf("default words lost: trace_id is %s", got)
	}
	if base.NameModel("twilio").Classify("TWILIO_AUTH_TOKEN_FROBNITZ") != NameOwner {
		t.Error("merge changed the base model")
	}
	if n := len(mm.Examples); n != len(m.Examples)+2 {
		t.Errorf("examples not merged: %d", n)
	}
}
