package notify

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/leakstop/leakstop/secret"
)

// Limits that keep a notification readable and within Slack's and
// GitHub's sizes.
const (
	maxField     = 500 // characters of one value
	maxLocations = 20  // locations listed; the rest are counted
	maxActions   = 30
	maxTodo      = 15
)

// tokenShape is a bare 32-hex-digit token: a Twilio auth token's shape.
// SIDs (AC/SK + 32 hex), commit ids (40) and fingerprints (64) do not
// match: the word boundaries exclude them.
var tokenShape = regexp.MustCompile(`\b[0-9a-fA-F]{32}\b`)

// clean makes a value safe to show: one line, no control characters, at
// most maxField characters, credential-shaped tokens redacted.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			return -1
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	s = tokenShape.ReplaceAllString(s, secret.Redacted)
	if r := []rune(s); len(r) > maxField {
		s = string(r[:maxField-1]) + "…"
	}
	return s
}

// kindName says what kind of credential it is, for people.
func kindName(kind string) string {
	switch kind {
	case "auth-token":
		return "Twilio Auth Token"
	case "api-key":
		return "Twilio API Key"
	case "":
		return "Twilio credential"
	}
	return "Twilio credential (" + clean(kind) + ")"
}

// subject is the title of a notification.
func subject(m Message) string {
	if s := clean(m.Subject); s != "" {
		return s
	}
	if w := clean(m.What); w != "" {
		return "Leaked credential: " + w
	}
	return "Leaked credential: " + kindName(m.Credential.Kind)
}

// todo is m.Todo, or the default steps for the credential's kind.
func todo(m Message) []string {
	var out []string
	for _, t := range m.Todo {
		if t = clean(t); t != "" {
			out = append(out, t)
		}
	}
	if len(out) > 0 {
		return out
	}
	return []string{
		"Remove the credential from the code and from the repository's history (for example with git filter-repo), and check forks, caches and build artefacts.",
		"Check the Twilio console's logs for use you do not recognise between the leak and the rotation.",
		"Make sure every system that used the old credential now has the new one; leakstop delivered it only to the stores it was configured with.",
		"Find out how the credential got into the repository and keep it from happening again (secret stores, pre-commit scanning).",
	}
}

// when formats a time for people, in UTC.
func when(t time.Time) string {
	if t.IsZero() {
		return "(time unknown)"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// safeURL returns u when it is an absolute http(s) URL, else "".
func safeURL(u string) string {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
		return ""
	}
	return p.String()
}

// shortFingerprint shortens a fingerprint for display.
func shortFingerprint(fp string) string {
	fp = clean(fp)
	if len(fp) > 16 {
		return fp[:16] + "…"
	}
	return fp
}

// credentialFields are the label/value pairs that describe the credential.
func credentialFields(m Message) [][2]string {
	c := m.Credential
	fields := [][2]string{{"Credential", kindName(c.Kind)}}
	if v := clean(c.AccountSID); v != "" {
		fields = append(fields, [2]string{"Account", v})
	}
	if v := clean(c.KeySID); v != "" {
		fields = append(fields, [2]string{"Key SID", v})
	}
	if v := clean(c.Redacted); v != "" {
		fields = append(fields, [2]string{"Value", v})
	}
	if v := shortFingerprint(c.Fingerprint); v != "" {
		fields = append(fields, [2]string{"Fingerprint", v})
	}
	if v := clean(m.Severity); v != "" {
		fields = append(fields, [2]string{"Severity", v})
	}
	return fields
}

// Render returns m as GitHub-flavoured Markdown: what leaked, where, what
// leakstop did and when, and what people must do. Values taken from the
// scanned repository (paths, commits) are shown as code, so they cannot
// inject Markdown or HTML.
func Render(m Message) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## %s\n\n", mdText(subject(m)))
	if w := clean(m.What); w != "" {
		fmt.Fprintf(&b, "**What leaked:** %s\n\n", mdText(w))
	}
	for _, f := range credentialFields(m) {
		v := mdCode(f[1])
		if f[0] == "Credential" || f[0] == "Severity" {
			v = mdText(f[1])
		}
		fmt.Fprintf(&b, "- **%s:** %s\n", f[0], v)
	}

	b.WriteString("\n### Where it was found\n\n")
	if len(m.Locations) == 0 {
		b.WriteString("- (no location given)\n")
	}
	for i, l := range m.Locations {
		if i == maxLocations {
			fmt.Fprintf(&b, "- …and %d more\n", len(m.Locations)-maxLocations)
			break
		}
		b.WriteString("- " + mdLocation(l) + "\n")
	}

	b.WriteString("\n### What leakstop did\n\n")
	if len(m.Actions) == 0 {
		b.WriteString("- Nothing yet.\n")
	}
	for i, a := range m.Actions {
		if i == maxActions {
			fmt.Fprintf(&b, "- …and %d more steps\n", len(m.Actions)-maxActions)
			break
		}
		fmt.Fprintf(&b, "- %s — **%s**", when(a.At), mdText(clean(a.Step)))
		if o := clean(a.Outcome); o != "" {
			fmt.Fprintf(&b, ": %s", mdText(o))
		}
		b.WriteString("\n")
	}

	b.WriteString("\n### What you must do\n\n")
	for i, t := range todo(m) {
		if i == maxTodo {
			break
		}
		fmt.Fprintf(&b, "%d. %s\n", i+1, mdText(t))
	}
	b.WriteString("\n<sub>Sent by leakstop. Notifications never contain the secret itself.</sub>\n")
	return b.String()
}

func mdLocation(l Location) string {
	var parts []string
	if r := clean(l.Repo); r != "" {
		parts = append(parts, mdCode(r))
	}
	if c := clean(l.Commit); c != "" {
		parts = append(parts, "at commit "+mdCode(c))
	}
	if p := clean(l.Path); p != "" {
		s := "in " + mdCode(p)
		if l.Line > 0 {
			s += " line " + strconv.Itoa(l.Line)
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		parts = append(parts, "(unknown place)")
	}
	s := strings.Join(parts, " ")
	if u := safeURL(l.URL); u != "" {
		s += " ([view](" + mdLinkTarget(u) + "))"
	}
	return s
}

// mdText escapes what would let text turn into HTML (or an HTML comment
// that looks like leakstop's marker) or ping someone in GitHub Markdown;
// it leaves emphasis alone.
func mdText(s string) string {
	return mdEscaper.Replace(s)
}

var mdEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "@", "@\u200b")

// mdCode wraps s in a code span long enough to hold its backticks.
func mdCode(s string) string {
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdLinkTarget escapes the characters that would end a Markdown link.
func mdLinkTarget(u string) string {
	return strings.NewReplacer("(", "%28", ")", "%29", " ", "%20", "<", "%3C", ">", "%3E").Replace(u)
}

// RenderText returns m as plain text with the same content as Render.
func RenderText(m Message) string {
	var b strings.Builder
	b.WriteString(subject(m) + "\n\n")
	if w := clean(m.What); w != "" {
		b.WriteString("What leaked: " + w + "\n")
	}
	for _, f := range credentialFields(m) {
		b.WriteString(f[0] + ": " + f[1] + "\n")
	}
	b.WriteString("\nWhere it was found:\n")
	if len(m.Locations) == 0 {
		b.WriteString("  - (no location given)\n")
	}
	for i, l := range m.Locations {
		if i == maxLocations {
			fmt.Fprintf(&b, "  - …and %d more\n", len(m.Locations)-maxLocations)
			break
		}
		b.WriteString("  - " + textLocation(l) + "\n")
	}
	b.WriteString("\nWhat leakstop did:\n")
	if len(m.Actions) == 0 {
		b.WriteString("  - Nothing yet.\n")
	}
	for i, a := range m.Actions {
		if i == maxActions {
			fmt.Fprintf(&b, "  - …and %d more steps\n", len(m.Actions)-maxActions)
			break
		}
		b.WriteString("  - " + when(a.At) + " — " + clean(a.Step))
		if o := clean(a.Outcome); o != "" {
			b.WriteString(": " + o)
		}
		b.WriteString("\n")
	}
	b.WriteString("\nWhat you must do:\n")
	for i, t := range todo(m) {
		if i == maxTodo {
			break
		}
		fmt.Fprintf(&b, "  %d. %s\n", i+1, t)
	}
	return b.String()
}

func textLocation(l Location) string {
	var parts []string
	if r := clean(l.Repo); r != "" {
		parts = append(parts, r)
	}
	if c := clean(l.Commit); c != "" {
		parts = append(parts, "at commit "+c)
	}
	if p := clean(l.Path); p != "" {
		s := "in " + p
		if l.Line > 0 {
			s += " line " + strconv.Itoa(l.Line)
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		parts = append(parts, "(unknown place)")
	}
	s := strings.Join(parts, " ")
	if u := safeURL(l.URL); u != "" {
		s += " (" + u + ")"
	}
	return s
}
