// Package report writes scan results for people (text) and for machines
// (JSON, SARIF, CSV), and reads the JSON form back: a baseline of known
// findings (--baseline, applied by package policy) and the revoker's input.
//
// Secrets stay redacted in every format unless Options.NoRedact is set,
// and SARIF — which is uploaded to code-scanning services — never holds a
// full secret at all. Identifiers (SIDs) are not secrets and print in full.
package report

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/leakstop/leakstop/credential"
	"github.com/leakstop/leakstop/scanner"
)

// Format is an output format.
type Format string

// The output formats.
const (
	Text  Format = "text"
	JSON  Format = "json"
	SARIF Format = "sarif"
	CSV   Format = "csv"
)

// Formats lists the output formats, in the order help texts show them.
func Formats() []Format { return []Format{Text, JSON, SARIF, CSV} }

// ParseFormat reads a format name (case-insensitive).
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	for _, k := range Formats() {
		if f == k {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown report format %q (want text, json, sarif or csv)", s)
}

// Options control how a report is written.
type Options struct {
	// NoRedact prints full secrets in text, JSON and CSV (only with
	// --no-redact). SARIF ignores it: it is always redacted.
	NoRedact bool
	// Color enables ANSI colours in text output. The CLI sets it when
	// stdout is a terminal and NO_COLOR is unset.
	Color bool
	// ToolVersion is leakstop's version, for JSON and SARIF metadata.
	ToolVersion string
	// Root is what was scanned, for JSON metadata and the SARIF %SRCROOT%
	// base (originalUriBaseIds): for a directory, the directory; for a
	// single file (whose location path is as named) the working
	// directory; none for stdin ("-") or a path that does not exist.
	Root string
	// Remarks, by fingerprint, say what a front end knows of a finding
	// beyond its locations (the Action: a credential already on a pull
	// request's base branch, one that a later commit of the pull request
	// removed). JSON and SARIF carry the text; Notice lowers the level to
	// "note".
	Remarks map[string]Remark
}

// Remark is a front end's word on one finding: see Options.Remarks.
type Remark struct {
	Text   string
	Notice bool
}

// level is the finding's level under o's remarks.
func (o Options) level(f *scanner.Finding) string {
	if o.Remarks[f.Fingerprint].Notice {
		return "note"
	}
	return levelOf(f)
}

// Report is what gets written.
type Report struct {
	Findings []scanner.Finding
	Stats    scanner.Stats
	// Notes are facts the user should know (a shallow history, …).
	Notes []string
	// Target is what was scanned, as named on the command line.
	Target string
	// PublishedExamples counts the findings left out as Twilio's published
	// example credentials.
	PublishedExamples int
	// Scope says what the scan read ("history of 129 commits + working
	// tree (3 modified, 1 untracked)"); "" when not known.
	Scope string
}

// Write writes r to w in format f.
func Write(w io.Writer, f Format, r Report, o Options) error {
	var err error
	switch f {
	case Text:
		err = writeText(w, r, o)
	case JSON:
		err = writeJSON(w, r, o)
	case SARIF:
		err = writeSARIF(w, r, o)
	case CSV:
		err = writeCSV(w, r, o)
	default:
		return fmt.Errorf("write report: unknown format %q", string(f))
	}
	if err != nil {
		return fmt.Errorf("write %s report: %w", f, err)
	}
	return nil
}

// ToolName and InformationURI describe leakstop in JSON and SARIF.
const (
	ToolName       = "leakstop"
	InformationURI = "https://leakstop.dev"
)

// IgnoreFileName is the name of the ignore file, read at the top of the
// scanned tree by package policy and named in the reports' help: the one
// place it is spelled.
const IgnoreFileName = ".leakstopignore"

// secretText is the form of a secret that a format may print.
func secretText(f *scanner.Finding, noRedact bool) string {
	if noRedact {
		return f.Secret.Reveal()
	}
	return f.Secret.String()
}

// labels names the halves of a credential for people.
type labels struct{ identifier, secret, credential string }

// labelsFor names f's halves. Only the Twilio kinds are called Twilio
// credentials: a custom rule's finding is "secret (rule ID)".
func labelsFor(f *scanner.Finding) labels {
	switch f.Credential {
	case credential.AuthToken:
		return labels{"Account SID", "Auth Token", "Twilio Auth Token"}
	case credential.APIKey:
		return labels{"API Key SID", "API Key secret", "Twilio API Key"}
	}
	what := "secret (rule " + f.RuleID + ")"
	if f.RuleID == "" {
		what = "secret"
	}
	switch {
	case strings.HasPrefix(f.Identifier, "AC"):
		return labels{"Account SID", "secret", what}
	case strings.HasPrefix(f.Identifier, "SK"):
		return labels{"API Key SID", "secret", what}
	}
	return labels{"identifier", "secret", what}
}

// verificationText says what Twilio answered and when, for people:
// "live (checked 2024-05-01T10:00:00Z)"; "" when it was not checked.
func verificationText(f *scanner.Finding) string {
	if f.Verification == "" {
		return ""
	}
	what := f.Verification
	switch f.Verification {
	case "live":
		what = "live: it works, rotate it now"
	case "dead":
		what = "dead: Twilio rejects it"
	case "unknown":
		what = "unknown: Twilio's answer was inconclusive"
	case "unreachable":
		what = "unreachable: could not reach Twilio (network error or timeout); it may be live"
	case "test":
		what = "test credentials"
	}
	if !f.VerifiedAt.IsZero() {
		what += " (checked " + f.VerifiedAt.UTC().Format(time.RFC3339) + ")"
	}
	return what
}

// tipText says whether a git location is still present at a branch tip.
func tipText(c *scanner.Commit) string {
	switch len(c.AtTips) {
	case 0:
		return "history only"
	case 1:
		return "still at tip of " + c.AtTips[0]
	}
	return "still at tips of " + strings.Join(c.AtTips, ", ")
}

func countLocations(fs []scanner.Finding) int {
	n := 0
	for i := range fs {
		n += len(fs[i].Locations)
	}
	return n
}

// capitalize upper-cases the first letter of an ASCII sentence.
func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
