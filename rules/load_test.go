package rules

import (
	"strings"
	"testing"
)

func TestDefaultRulesLoad(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Rules) == 0 || len(s.Pairs) == 0 {
		t.Fatal("no rules")
	}
	for _, r := range s.Rules {
		if r.MinRun < 32 {
			t.Errorf("rule %s: MinRun %d, want ≥ 32 (every default value is a 32+ alphanumeric run)", r.ID, r.MinRun)
		}
	}
}

const validRule = `
[[rules]]
id = "r1"
kind = "secret"
regex = '''key=(?P<secret>[a-z0-9]{20})'''
keywords = ["key"]
examples = ["key={{token}}"]
`

func TestParseErrorsNameFileLineRule(t *testing.T) {
	cases := []struct {
		name, file, want string
	}{
		{"bad regex", "\n[[rules]]\nid = \"bad\"\nkind = \"secret\"\nregex = '''(?P<secret>[a-z'''\nkeywords = [\"k\"]\nexamples = [\"k\"]\n",
			`x.toml:5: rule "bad": regex does not compile: missing closing ]`},
		{"no secret group", "[[rules]]\nid = \"ng\"\nkind = \"secret\"\nregex = 'k=([a-z]+)'\nkeywords = [\"k\"]\nexamples = [\"k\"]\n",
			`x.toml:4: rule "ng": regex has no (?P<secret>...) group`},
		{"bad kind", "[[rules]]\nid = \"bk\"\nkind = \"token\"\nregex = '(?P<secret>x+)'\nkeywords = [\"x\"]\nexamples = [\"x\"]\n",
			`x.toml:3: rule "bk": kind "token" is not identifier or secret`},
		{"syntax", "[[rules]]\nid = \"s\"\nkind = \n", `x.toml:3: invalid TOML`},
		{"unknown key", validRule + "regx = 'a'\n", `x.toml:8: unknown key "rules.regx"`},
		{"no keywords", "[[rules]]\nid = \"nk\"\nkind = \"secret\"\nregex = '(?P<secret>x+)'\nexamples = [\"x\"]\n",
			`x.toml:1: rule "nk": needs keywords, or near = an identifier rule`},
		{"dangling near", "[[rules]]\nid = \"n\"\nkind = \"secret\"\nnear = \"ghost\"\nregex = '(?P<secret>x+)'\nexamples = [\"x\"]\n",
			`x.toml:1: rule "n": near = "ghost": no such rule`},
		{"pair refs", validRule + "[[pairs]]\nid = \"p\"\ncredential = \"c\"\nidentifier = \"r1\"\nsecrets = [\"r1\"]\n",
			`x.toml:8: rule "p": identifier "r1": rule is not of kind identifier`},
		{"bad template", "[[rules]]\nid = \"bt\"\nkind = \"secret\"\nregex = '(?P<secret>x+)'\nkeywords = [\"x\"]\nexamples = [\"{{nope}}\"]\n",
			`x.toml:1: rule "bt": example: unknown template function "nope"`},
		{"empty match", "[[rules]]\nid = \"em\"\nkind = \"secret\"\nregex = '(?P<secret>x*)'\nkeywords = [\"x\"]\nexamples = [\"x\"]\n",
			`x.toml:4: rule "em": regex matches the empty string`},
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

func TestMergeExtendsAndOverrides(t *testing.T) {
	base, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	ext, err := Parse("ext.toml", []byte("[extend]\ndefault = true\ndisabled = [\"twilio-api-key\"]\n"+validRule))
	if err != nil {
		t.Fatal(err)
	}
	if !ext.ExtendDefault {
		t.Fatal("extend.default not read")
	}
	m, err := Merge(base, ext)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rule("r1") == nil || m.Rule("twilio-account-sid") == nil {
		t.Error("merged set lacks a base or an added rule")
	}
	for _, p := range m.Pairs {
		if p.ID == "twilio-api-key" {
			t.Error("disabled pair kept")
		}
	}
}

func TestTemplates(t *testing.T) {
	g := NewGenerator(7)
	out, err := g.Expand(`{{sid s}} {{upper token:t}} {{b64 s ":" t}} {{repeat "0" 3}} {{"{{"}}`)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(out)
	if len(f) != 5 || f[0] != g.Values["s"] || !strings.HasPrefix(f[0], "AC") || len(f[0]) != 34 ||
		f[1] != strings.ToUpper(g.Values["t"]) || f[3] != "000" || f[4] != "{{" {
		t.Errorf("unexpected expansion %q", out)
	}
	if again, _ := NewGenerator(7).Expand(`{{sid s}}`); again != f[0] {
		t.Error("same seed, different value")
	}
}

// FuzzParse: arbitrary rules files never panic, and errors never echo a
// planted secret-looking example expansion.
func FuzzParse(f *testing.F) {
	f.Add([]byte(validRule))
	f.Add([]byte("[[rules]]\nid='a'\nregex='(?P<secret>'\n"))
	f.Add([]byte("[[pairs]]\nid='p'\nwindow=-1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.toml", data)
		if err == nil && file == nil {
			t.Fatal("nil file without error")
		}
		if err != nil && !strings.HasPrefix(err.Error(), "fuzz.toml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}
