package hook

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/leakstop/leakstop/credential"
	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/scanner"
)

// WriteBlocked explains to the person committing why the commit was
// refused: every staged credential (secret redacted) with its place, then
// how to fix it and how to allow a false positive.
func WriteBlocked(w io.Writer, findings []scanner.Finding) error {
	return WriteBlockedScope(w, Scope{Kind: ScopeStaged}, findings)
}

// WriteBlockedScope is WriteBlocked for what the hook scanned: the staged
// index, the files a hook framework passed, or the commits of a range or
// a push.
func WriteBlockedScope(w io.Writer, sc Scope, findings []scanner.Finding) error {
	var b strings.Builder
	n := len(findings)
	what := "a Twilio credential is"
	if n > 1 {
		what = strconv.Itoa(n) + " Twilio credentials are"
	}
	fmt.Fprintf(&b, "leakstop: %s: %s %s.\n\n", sc.Blocked(), what, sc.Where())
	for i := range findings {
		f := &findings[i]
		l := labelsFor(f.Credential)
		fmt.Fprintf(&b, "  ● %s  %s", l.credential, f.Secret.String())
		var about []string
		if f.Identifier != "" {
			about = append(about, l.identifier+" "+safe(f.Identifier))
		} else {
			about = append(about, "no "+l.identifier+" found")
		}
		about = append(about, "confidence "+f.Confidence.String())
		if f.Test {
			about = append(about, "looks like Twilio test credentials")
		}
		fmt.Fprintf(&b, "  (%s)\n", strings.Join(about, "; "))
		for _, loc := range f.Locations {
			fmt.Fprintf(&b, "    %s:%d:%d\n", safe(loc.Path), loc.Line, loc.Column)
		}
		fmt.Fprintf(&b, "    fingerprint %s\n\n", safe(f.Fingerprint))
	}
	b.WriteString("How to fix:\n")
	b.WriteString(sc.fix())
	b.WriteString("How to allow a false positive (a fixture, Twilio test credentials):\n")
	b.WriteString("  - put \"leakstop:allow\" in a comment on the line, or\n")
	fmt.Fprintf(&b, "  - add the fingerprint to %s at the top of the repository, saying why:\n", report.IgnoreFileName)
	if n > 0 {
		fmt.Fprintf(&b, "      echo '%s  # why it is safe' >> %s\n", safe(findings[0].Fingerprint), report.IgnoreFileName)
	}
	if skip := sc.Skip(); skip != "" {
		fmt.Fprintf(&b, "To skip this check once, deliberately: %s\n", skip)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type labels struct{ credential, identifier string }

func labelsFor(kind credential.Kind) labels {
	switch kind {
	case credential.AuthToken:
		return labels{"Twilio Auth Token", "Account SID"}
	case credential.APIKey:
		return labels{"Twilio API Key secret", "API Key SID"}
	}
	return labels{"secret", "identifier"}
}

// safe returns s as is when it is printable on one line, else Go-quoted:
// a file name can hold newlines or terminal escapes.
func safe(s string) string {
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}
