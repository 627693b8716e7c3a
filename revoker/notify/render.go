package notify

import (
	"fmt"
	"github.com/leakstop/leakstop/credential"
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
func kindName(kind credential.Kind) string {
	switch kind {
	case credential.AuthToken:
		return "Twilio Auth Token"
	case credential.APIKey:
		return "Twilio API Key"
	case "":
		return "Twilio credential"
	}
	return "Twilio credential (" + clean(string(kind)) + ")"
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

// view is a Message made ready to show in any format: every value
// cleaned, every list cut to its limit. The formats differ only in how
// they escape and mark it up (see format).
type view struct {
	subject   string
	what      string
	fields    []field
	locations []Location // cleaned; URL only when safe
	moreLocs  int        // locations not listed
	actions   []Action   // cleaned
	moreActs  int        // actions not listed
	todo      []string   // cleaned, at most maxTodo
}

// field is one label/value pair that describes the credential; a verbatim
// value (a SID, a fingerprint) is shown as code.
type field struct {
	label, value string
	verbatim     bool
}

// Section titles, the same in every format.
const (
	titleWhat  = "What leaked"
	titleWhere = "Where it was found"
	titleDid   = "What leakstop did"
	titleTodo  = "What you must do"
	footer     = "Sent by leakstop. Notifications never contain the secret itself."
)

func newView(m Message) view {
	v := view{subject: subject(m), what: clean(m.What)}
	c := m.Credential
	v.fields = append(v.fields, field{label: "Credential", value: kindName(c.Kind)})
	for _, f := range []field{
		{"Account", clean(c.AccountSID), true},
		{"Key SID", clean(c.KeySID), true},
		{"Value", clean(c.Redacted), true},
		{"Fingerprint", shortFingerprint(c.Fingerprint), true},
		{"Severity", clean(m.Severity), false},
	} {
		if f.value != "" {
			v.fields = append(v.fields, f)
		}
	}
	for i, l := range m.Locations {
		if i == maxLocations {
			v.moreLocs = len(m.Locations) - maxLocations
			break
		}
		v.locations = append(v.locations, Location{Repo: clean(l.Repo), Commit: clean(l.Commit), Path: clean(l.Path), Line: l.Line, URL: safeURL(l.URL)})
	}
	for i, a := range m.Actions {
		if i == maxActions {
			v.moreActs = len(m.Actions) - maxActions
			break
		}
		v.actions = append(v.actions, Action{Step: clean(a.Step), At: a.At, Outcome: clean(a.Outcome)})
	}
	v.todo = todo(m)
	v.todo = v.todo[:min(len(v.todo), maxTodo)]
	return v
}

// format is how one output escapes and marks up a view's values.
type format struct {
	text   func(string) string // prose
	code   func(string) string // a value shown as it is (paths, SIDs)
	strong func(string) string // emphasis, on escaped text
	link   func(url string) string
}

func (f format) value(fl field) string {
	if fl.verbatim {
		return f.code(fl.value)
	}
	return f.text(fl.value)
}

// where lists the locations, one line each, without list markers.
func (f format) where(v view) []string {
	var out []string
	for _, l := range v.locations {
		var parts []string
		if l.Repo != "" {
			parts = append(parts, f.code(l.Repo))
		}
		if l.Commit != "" {
			parts = append(parts, "at commit "+f.code(l.Commit))
		}
		if l.Path != "" {
			s := "in " + f.code(l.Path)
			if l.Line > 0 {
				s += " line " + strconv.Itoa(l.Line)
			}
			parts = append(parts, s)
		}
		if len(parts) == 0 {
			parts = append(parts, "(unknown place)")
		}
		s := strings.Join(parts, " ")
		if l.URL != "" {
			s += f.link(l.URL)
		}
		out = append(out, s)
	}
	if v.moreLocs > 0 {
		out = append(out, fmt.Sprintf("…and %d more", v.moreLocs))
	}
	if len(out) == 0 {
		out = append(out, "(no location given)")
	}
	return out
}

// did lists what leakstop did, one line each, without list markers.
func (f format) did(v view) []string {
	var out []string
	for _, a := range v.actions {
		s := when(a.At) + " — " + f.strong(f.text(a.Step))
		if a.Outcome != "" {
			s += ": " + f.text(a.Outcome)
		}
		out = append(out, s)
	}
	if v.moreActs > 0 {
		out = append(out, fmt.Sprintf("…and %d more steps", v.moreActs))
	}
	if len(out) == 0 {
		out = append(out, "Nothing yet.")
	}
	return out
}

// must lists what people must do, numbered.
func (f format) must(v view) []string {
	out := make([]string, len(v.todo))
	for i, t := range v.todo {
		out[i] = strconv.Itoa(i+1) + ". " + f.text(t)
	}
	return out
}

// document is a format laid out as a page: Markdown or plain text.
type document struct {
	format
	title   string // Sprintf format of the subject line(s)
	what    string // … of the "What leaked" line(s): label, value
	field   string // … of one field: label, value
	section string // … of a section heading
	indent  string // before every list line
	bullet  string // before an unnumbered list line, after indent
	footer  string
}

func (d document) render(v view) string {
	var b strings.Builder
	fmt.Fprintf(&b, d.title, d.text(v.subject))
	if v.what != "" {
		fmt.Fprintf(&b, d.what, titleWhat, d.text(v.what))
	}
	for _, f := range v.fields {
		fmt.Fprintf(&b, d.field, f.label, d.value(f))
	}
	for _, sec := range []struct {
		title, marker string
		lines         []string
	}{{titleWhere, d.bullet, d.where(v)}, {titleDid, d.bullet, d.did(v)}, {titleTodo, "", d.must(v)}} {
		fmt.Fprintf(&b, d.section, sec.title)
		for _, l := range sec.lines {
			b.WriteString(d.indent + sec.marker + l + "\n")
		}
	}
	b.WriteString(d.footer)
	return b.String()
}

func plain(s string) string { return s }

var (
	markdown = document{
		format: format{
			text:   mdText,
			code:   mdCode,
			strong: func(s string) string { return "**" + s + "**" },
			link:   func(u string) string { return " ([view](" + mdLinkTarget(u) + "))" },
		},
		title: "## %s\n\n", what: "**%s:** %s\n\n", field: "- **%s:** %s\n", section: "\n### %s\n\n", bullet: "- ",
		footer: "\n<sub>" + footer + "</sub>\n",
	}
	text = document{
		format: format{text: plain, code: plain, strong: plain, link: func(u string) string { return " (" + u + ")" }},
		title:  "%s\n\n", what: "%s: %s\n", field: "%s: %s\n", section: "\n%s:\n", indent: "  ", bullet: "- ",
	}
)

// Render returns m as GitHub-flavoured Markdown: what leaked, where, what
// leakstop did and when, and what people must do. Values taken from the
// scanned repository (paths, commits) are shown as code, so they cannot
// inject Markdown or HTML.
func Render(m Message) string { return markdown.render(newView(m)) }

// RenderText returns m as plain text with the same content as Render.
func RenderText(m Message) string { return text.render(newView(m)) }

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
