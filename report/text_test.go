package report

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/leakstop/leakstop/scanner"
)

func TestTextStructure(t *testing.T) {
	fx := newFixture(21)
	r := sampleReport(fx)
	out := render(t, Text, r, Options{})
	a, k, u := r.Findings[0], r.Findings[1], r.Findings[2]
	for _, want := range []string{
		"● Twilio Auth Token  twilio-auth-token  confidence high\n",
		"  Account SID  " + a.Identifier + "\n",
		"  Auth Token   " + a.Secret.String() + "\n",
		"  fingerprint  " + a.Fingerprint + "\n",
		"    config/.env:3:19  (SID on line 2)\n",
		"    deploy/app.yaml:12:19  (SID on line 11)\n",
		"      commit " + a.Locations[1].Commit.Hash[:10] + " by Jane Doe on 2024-03-05 \"add config\" · still at tip of main\n",
		"● Twilio API Key  twilio-api-key  confidence medium\n",
		"  API Key SID     " + k.Identifier + "\n",
		"  Account SID     " + k.Account + "\n",
		"  API Key secret  " + k.Secret.String() + "\n",
		"    src/app.js:40:19  (base64-encoded; SID on line 39)\n",
		"· history only\n",
		"confidence low  [test credentials]\n",
		"  fingerprint  " + u.Fingerprint + "\n",
		"(none found: the secret is unpaired)",
		"    test/fixture.env:1:19\n",
		"note: history is shallow: 7 commits\n",
		"3 credentials in 4 places (1 of them Twilio test credentials, reported as notes); 1,234 files, 5.6 MB, 7 commits scanned (skipped 2 binary)\n",
		IgnoreFileName,
		"--baseline",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Error("escape sequences without Color")
	}
	// Grouped by credential: each fingerprint once, each location once.
	for _, f := range r.Findings {
		if n := strings.Count(out, f.Fingerprint); n != 1 {
			t.Errorf("fingerprint printed %d times", n)
		}
	}
}

func TestTextColor(t *testing.T) {
	r := sampleReport(newFixture(22))
	out := render(t, Text, r, Options{Color: true})
	if !strings.Contains(out, ansiRed) || !strings.Contains(out, ansiReset) {
		t.Errorf("no colours with Color: %q", out)
	}
	plain := render(t, Text, r, Options{})
	if stripANSI(out) != plain {
		t.Errorf("coloured output differs from plain beyond colours:\n%s\n---\n%s", stripANSI(out), plain)
	}
}

func stripANSI(s string) string {
	for _, c := range []string{ansiReset, ansiBold, ansiDim, ansiRed, ansiYellow, ansiCyan} {
		s = strings.ReplaceAll(s, c, "")
	}
	return s
}

func TestTextSummary(t *testing.T) {
	fx := newFixture(23)
	one := Report{Findings: []scanner.Finding{fx.authToken(loc("a", 2))}, Stats: scanner.Stats{Files: 1, Bytes: 512}}
	if out := render(t, Text, one, Options{}); !strings.Contains(out, "1 credential in 1 place; 1 file, 512 B scanned\n") {
		t.Errorf("singular summary: %s", out)
	}
	none := Report{Stats: scanner.Stats{Files: 1_234_567, Bytes: 2_500_000_000}}
	if out := render(t, Text, none, Options{}); out != "No Twilio credentials found; 1,234,567 files, 2.5 GB scanned\n" {
		t.Errorf("clean summary: %q", out)
	}
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 999_949: "999.9 kB", 999_950: "1.0 MB", 5_600_000: "5.6 MB"} {
		if got := byteSize(n); got != want {
			t.Errorf("byteSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// hostileNames are file names (and commit fields) an attacker controls.
var hostileNames = []string{
	"evil\nconfig/.env:1:1  fake finding",
	"clear\x1b[2J\x1b[Hscreen.env",
	"title\x1b]0;pwned\x07.env",
	"cr\rover.env",
	"bidi\u202etxt.exe",
	"nel\u0085line\u2028sep.env",
	"bad\xff\xfeutf8.env",
	"tab\tand\x00nul.env",
	"csi\u009b31m.env",
	`"quoted".env`,
}

func TestTextHostileNames(t *testing.T) {
	fx := newFixture(24)
	for _, name := range hostileNames {
		f := fx.authToken(loc(name, 3))
		f.Locations[0].IdentifierPath = name + "2"
		f.Locations = append(f.Locations, loc("ok.env", 9))
		f.Locations[1].Commit = &scanner.Commit{Hash: name, Author: name, Date: name, Summary: name, AtTips: []string{name}}
		hostile := Report{Findings: []scanner.Finding{f}, Notes: []string{name}}
		for _, color := range []bool{false, true} {
			out := render(t, Text, hostile, Options{Color: color})
			benign := stripANSI(out)
			if !utf8.ValidString(benign) {
				t.Errorf("%q: output is not valid UTF-8", name)
			}
			for _, r := range benign {
				if r < 0x20 && r != '\n' || r == 0x7f || 0x80 <= r && r < 0xa0 || r == '\u202e' || r == '\u2028' {
					t.Errorf("%q (color %v): output holds control character %U:\n%s", name, color, r, out)
					break
				}
			}
			// The same report with a plain name has as many lines.
			plain := fx.authToken(loc("plain.env", 3))
			plain.Locations[0].IdentifierPath = "plain2.env"
			plain.Locations = append(plain.Locations, f.Locations[1])
			plain.Locations[1].Commit = &scanner.Commit{Hash: "h", Author: "a", Date: "d", Summary: "s", AtTips: []string{"main"}}
			want := len(lines(render(t, Text, Report{Findings: []scanner.Finding{plain}, Notes: []string{"n"}}, Options{})))
			if got := len(lines(benign)); got != want {
				t.Errorf("%q: %d lines, want %d:\n%s", name, got, want, out)
			}
			for _, l := range lines(benign) {
				if strings.HasPrefix(l, "config/.env") {
					t.Errorf("%q: faked a line: %q", name, l)
				}
			}
		}
	}
}

func TestSafePath(t *testing.T) {
	for in, want := range map[string]string{
		"config/.env":       "config/.env",
		"dir with space/x":  "dir with space/x",
		"é/ünï.env":         "é/ünï.env",
		"a\nb":              `"a\nb"`,
		"\x1b[31m":          `"\x1b[31m"`,
		"bidi\u202e":        `"bidi\u202e"`,
		`"x`:                `"\"x"`,
		"":                  `""`,
		"bad\xff":           `"bad\xff"`,
		`back\slash`:        `back\slash`,
		`quote"inside.env`:  `quote"inside.env`,
		"nbsp\u00a0x":       `"nbsp\u00a0x"`,
		"zero\u200bwidth":   `"zero\u200bwidth"`,
		"ok-name_1.2~3.env": "ok-name_1.2~3.env",
	} {
		if got := safePath(in); got != want {
			t.Errorf("safePath(%q) = %s, want %s", in, got, want)
		}
	}
	if got := safeText("summary\x1b[31m red\n"); got != `summary\x1b[31m red\n` {
		t.Errorf("safeText = %s", got)
	}
}
