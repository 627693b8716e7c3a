package ghaction

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/leakstop/leakstop/credential"
	"github.com/leakstop/leakstop/policy"
	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/scanner"
)

// mdText escapes text for Markdown (a table cell or a line): characters
// that Markdown or HTML would interpret become character references, and
// line breaks become spaces, so a file name cannot inject markup, links
// or mentions.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case r < 0x20 || r == 0x7f:
			b.WriteString("\uFFFD")
		case strings.ContainsRune("\\`*_{}[]<>()#+-.!|~&@:\"'=$", r):
			b.WriteString("&#" + strconv.Itoa(int(r)) + ";")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// code renders s as a Markdown code span when it is made of characters
// that are safe there, else as escaped text.
func code(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("…[]._-/*", r)) {
			return mdText(s)
		}
	}
	if s == "" {
		return ""
	}
	return "`" + s + "`"
}

// rotationSteps says how to cut off a leaked credential.
func rotationSteps(kind credential.Kind) []string {
	switch kind {
	case credential.AuthToken:
		return []string{
			"In the Twilio Console (Account › API keys & tokens), request a secondary Auth Token.",
			"Deploy the secondary token everywhere the account's Auth Token is used.",
			"Promote the secondary token to primary: the leaked token stops working at once.",
			"Check the account's usage and logs for activity you do not recognise.",
		}
	case credential.APIKey:
		return []string{
			"In the Twilio Console (Account › API keys & tokens), create a new API key.",
			"Deploy the new key SID and secret everywhere the leaked key is used.",
			"Delete the leaked API key: its secret stops working at once.",
			"Check the account's usage and logs for activity you do not recognise.",
		}
	}
	return []string{"Rotate the credential in the Twilio Console, deploy the new one, and revoke the leaked one."}
}

const historyNote = "Deleting the line is not enough: the secret stays in the branch's history, in forks and in clones."

func numbered(steps []string) string {
	var b strings.Builder
	for i, s := range steps {
		fmt.Fprintf(&b, "%d. %s\n", i+1, s)
	}
	return b.String()
}

// allowHelp says how to allow a false positive, in Markdown.
func allowHelp(fp string) string {
	return "**Not a live credential?** (a test fixture, Twilio test credentials) Add `leakstop:allow` in a comment on the line, " +
		"or add the fingerprint to `" + report.IgnoreFileName + "` at the root of the repository, saying why:\n\n```\n" +
		fp + "  # why it is safe\n```\n"
}

// summaryInput is what the job summary says.
type summaryInput struct {
	scope    Scope
	findings []scanner.Finding
	ignored  int
	// ignoreFrom is the commit .leakstopignore was read from ("" for
	// the checkout).
	ignoreFrom string
	stats      scanner.Stats
	notes      []string
	// pending maps the fingerprints the proposal's own configuration
	// would silence to the note saying so; pendingNotes lists the notes
	// in the order they are given.
	pending      map[string]string
	pendingNotes []string
	// place says where a proposal's findings stand.
	place placement
}

// mdNote renders a note made of plain words and file names in Markdown.
func mdNote(note string) string {
	note = strings.ReplaceAll(note, scanner.AllowComment, "`"+scanner.AllowComment+"`")
	return strings.ReplaceAll(note, report.IgnoreFileName, "`"+report.IgnoreFileName+"`")
}

// summaryMarkdown is the job summary.
func summaryMarkdown(in summaryInput) string {
	var b strings.Builder
	findings := in.findings
	pre := in.place.count(preExisting)
	n := len(findings) - pre
	switch {
	case n == 0 && pre > 0:
		fmt.Fprintf(&b, "## leakstop: no Twilio credentials added by this %s\n\n", in.place.noun)
	case n == 0:
		b.WriteString("## leakstop: no Twilio credentials found\n\n")
	default:
		fmt.Fprintf(&b, "## leakstop: %d Twilio credential%s found\n\n", n, plural(n))
	}
	fmt.Fprintf(&b, "Scanned %s — %d commit%s, %d file%s.", mdText(in.scope.Describe),
		in.stats.Commits, plural(int(in.stats.Commits)), in.stats.Files, plural(int(in.stats.Files)))
	if in.ignored > 0 {
		fmt.Fprintf(&b, " %d credential%s ignored by `%s`", in.ignored, plural(in.ignored), report.IgnoreFileName)
		if in.ignoreFrom != "" {
			fmt.Fprintf(&b, " of the base commit %s", code(short(in.ignoreFrom)))
		}
		b.WriteString(".")
	}
	b.WriteString("\n\n")
	for _, note := range in.notes {
		fmt.Fprintf(&b, "> %s\n\n", mdText(note))
	}
	if pre > 0 {
		fmt.Fprintf(&b, "**%d pre-existing credential%s already on the base branch** (base commit %s): %s does not add %s, so %s not fail this check. "+
			"%s still leaked: rotate %s.\n\n", pre, plural(pre), code(short(in.place.base)), "this "+in.place.noun, pick(pre, "it", "them"),
			pick(pre, "it does", "they do"), pick(pre, "It is", "They are"), pick(pre, "it", "them"))
	}
	if r := in.place.count(removedLater); r > 0 {
		fmt.Fprintf(&b, "**%d credential%s removed later in this %s** %s still in its history, and fail%s this check.\n\n", r, plural(r),
			in.place.noun, pick(r, "is", "are"), pick(r, "s", ""))
	}
	if len(findings) == 0 {
		return b.String()
	}
	for _, note := range in.pendingNotes {
		p := 0
		for fp, v := range in.pending {
			// A pre-existing credential does not count in this check.
			if v == note && in.place.of(fp) != preExisting {
				p++
			}
		}
		if p == 0 {
			continue
		}
		fmt.Fprintf(&b, "**%d credential%s %s %s.** Until then %s reported and %s in this check.\n\n", p, plural(p),
			pick(p, "is", "are"), mdNote(note), pick(p, "it is", "they are"), pick(p, "counts", "count"))
	}
	b.WriteString("| Credential | Identifier | Secret (redacted) | Where | Commit | Fingerprint |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	creds := map[credential.Kind]bool{}
	for i := range findings {
		f := &findings[i]
		creds[f.Credential] = true
		l := labelsFor(f.Credential)
		name := l.credential
		if f.Test {
			name += " (test credentials)"
		}
		id := "(none found)"
		if f.Identifier != "" {
			id = code(f.Identifier)
		}
		fp := code(f.Fingerprint)
		if note := in.pending[f.Fingerprint]; note != "" {
			fp += " — " + mdNote(note)
		}
		for _, loc := range f.Locations {
			commit := ""
			if loc.Commit != nil && loc.Commit.Hash != "" {
				commit = code(short(loc.Commit.Hash))
			}
			switch in.place.of(f.Fingerprint) {
			case preExisting:
				commit = "pre-existing: on the base branch"
			case removedLater:
				commit += " — " + mdText(in.place.remark(f.Fingerprint))
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s:%d | %s | %s |\n", mdText(name), id, code(f.Secret.String()),
				mdText(loc.Path), loc.Line, commit, fp)
		}
	}
	b.WriteString("\n### How to fix\n\n")
	for _, c := range []credential.Kind{credential.AuthToken, credential.APIKey} {
		if creds[c] {
			fmt.Fprintf(&b, "**%s**\n\n%s\n", labelsFor(c).credential, numbered(rotationSteps(c)))
		}
	}
	if creds[""] || creds["secret"] {
		b.WriteString(numbered(rotationSteps("")) + "\n")
	}
	b.WriteString(historyNote + "\n\n### How to allow a false positive\n\n")
	b.WriteString(allowHelp("FINGERPRINT"))
	if in.ignoreFrom != "" {
		fmt.Fprintf(&b, "\nOn a %s, `%s` and `%s` are read from the base commit, not from the %s: "+
			"an entry it adds takes effect once a maintainer merges it.\n", in.scope.proposalNoun(), report.IgnoreFileName, policy.RulesFile,
			in.scope.proposalNoun())
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
