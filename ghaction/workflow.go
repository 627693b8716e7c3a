package ghaction

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/leakstop/leakstop/credential"
	"github.com/leakstop/leakstop/report"
	"github.com/leakstop/leakstop/scanner"
)

// Workflow commands (::error …::) are parsed by the runner from the
// step's output. Their data and property values must be escaped, or a
// hostile file name could end the command early and start another one.

// EscapeData escapes a workflow command's message.
func EscapeData(s string) string {
	s = strings.ReplaceAll(s, "%", "%25")
	s = strings.ReplaceAll(s, "\r", "%0D")
	return strings.ReplaceAll(s, "\n", "%0A")
}

// EscapeProperty escapes a workflow command's property value.
func EscapeProperty(s string) string {
	s = EscapeData(s)
	s = strings.ReplaceAll(s, ":", "%3A")
	return strings.ReplaceAll(s, ",", "%2C")
}

// Annotation is one ::error or ::warning command.
type Annotation struct {
	Level          string // "error", "warning" or "notice"
	File           string
	Line, Col      int
	Title, Message string
}

// String renders the command line (without the newline).
func (a Annotation) String() string {
	var props []string
	if a.File != "" {
		props = append(props, "file="+EscapeProperty(a.File))
		if a.Line > 0 {
			props = append(props, "line="+strconv.Itoa(a.Line))
			if a.Col > 0 {
				props = append(props, "col="+strconv.Itoa(a.Col))
			}
		}
	}
	if a.Title != "" {
		props = append(props, "title="+EscapeProperty(a.Title))
	}
	cmd := "::" + a.Level
	if len(props) > 0 {
		cmd += " " + strings.Join(props, ",")
	}
	return cmd + "::" + EscapeData(a.Message)
}

// annotations returns one annotation per location of every finding.
// Twilio test credentials are notices (they do not fail the run); the
// rest are errors. A finding
// whose fingerprint is in pending (silenced by the proposal's own
// configuration, not yet in force) says so with its note.
//
// On a proposal (pl), a credential its base commit already holds is a
// notice that says so and names no commit; one that a later commit of it
// removed is located in the message (the introducing commit's path and
// line), not on a line of the head version, which does not hold it.
func annotations(findings []scanner.Finding, pending map[string]string, pl placement) []Annotation {
	var out []Annotation
	for i := range findings {
		f := &findings[i]
		l := labelsFor(f.Credential)
		level := "error"
		st := pl.of(f.Fingerprint)
		if f.IsTestCredential() || st == preExisting {
			level = "notice"
		}
		title := "Leaked " + l.credential
		switch st {
		case preExisting:
			title = "Pre-existing " + l.credential + " (already on the base branch)"
		case removedLater:
			title += " (removed later in this " + pl.noun + "; still in history)"
		}
		for _, loc := range f.Locations {
			var msg strings.Builder
			fmt.Fprintf(&msg, "%s %s", l.secret, f.Secret.String())
			if f.Identifier != "" {
				fmt.Fprintf(&msg, " with %s %s", l.identifier, f.Identifier)
			}
			fmt.Fprintf(&msg, " (confidence %s", f.Confidence)
			if f.IsTestCredential() {
				msg.WriteString(", Twilio test credentials")
			}
			msg.WriteString(")")
			if loc.Commit != nil && loc.Commit.Hash != "" {
				fmt.Fprintf(&msg, ", added in commit %s", short(loc.Commit.Hash))
			}
			switch st {
			case removedLater:
				fmt.Fprintf(&msg, " at %s line %d; %s", loc.Path, loc.Line, pl.remark(f.Fingerprint))
			case preExisting:
				fmt.Fprintf(&msg, "; %s, so it does not fail this check", pl.remark(f.Fingerprint))
			}
			fmt.Fprintf(&msg, ". Fingerprint %s.\n", f.Fingerprint)
			if note := pending[f.Fingerprint]; note != "" {
				fmt.Fprintf(&msg, "%s. If it is a live credential, rotate it in the Twilio Console: deleting the line leaves it in git history.",
					capitalize(note))
			} else {
				msg.WriteString("Rotate it in the Twilio Console: deleting the line leaves it in git history. ")
				fmt.Fprintf(&msg, "Not a live credential? Add the fingerprint to %s with the reason, or leakstop:allow on the line.", report.IgnoreFileName)
			}
			a := Annotation{Level: level, File: loc.Path, Line: loc.Line, Col: loc.Column, Title: title, Message: msg.String()}
			if st == removedLater {
				a.Line, a.Col = 0, 0 // the head's line there is another line
			}
			out = append(out, a)
		}
	}
	return out
}

// outputs appends name=value lines to the $GITHUB_OUTPUT file, in a
// stable order; a value with a newline uses the heredoc form.
func writeOutputs(path string, values map[string]string) error {
	if path == "" {
		return nil
	}
	names := make([]string, 0, len(values))
	for k := range values {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		v := values[k]
		if !strings.ContainsAny(v, "\r\n") {
			fmt.Fprintf(&b, "%s=%s\n", k, v)
			continue
		}
		delim := "ghadelimiter_" + randomHex(16)
		fmt.Fprintf(&b, "%s<<%s\n%s\n%s\n", k, delim, v, delim)
	}
	return appendFile(path, b.String())
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := io.WriteString(f, s); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return hex.EncodeToString(b)
}

type labels struct{ credential, secret, identifier string }

func labelsFor(kind credential.Kind) labels {
	switch kind {
	case credential.AuthToken:
		return labels{"Twilio Auth Token", "Auth Token", "Account SID"}
	case credential.APIKey:
		return labels{"Twilio API Key", "API Key secret", "API Key SID"}
	}
	return labels{"Twilio credential", "secret", "identifier"}
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// escapeLines writes each complete line through EscapeData, starting with
// "leakstop: " (never "::"): the revoker's diagnostics, so that nothing in
// them can start a workflow command.
type escapeLines struct {
	w   io.Writer
	buf []byte
}

func (e *escapeLines) Write(p []byte) (int, error) {
	e.buf = append(e.buf, p...)
	for {
		i := bytes.IndexByte(e.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(e.buf[:i])
		e.buf = e.buf[i+1:]
		if !strings.HasPrefix(line, "leakstop: ") {
			line = "leakstop: " + line
		}
		if _, err := fmt.Fprintln(e.w, EscapeData(line)); err != nil {
			return len(p), err
		}
	}
}
