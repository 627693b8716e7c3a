package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/leakstop/leakstop/scanner"
)

// ANSI styles for text output.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

type painter bool

func (p painter) paint(style, s string) string {
	if !p || s == "" {
		return s
	}
	return style + s + ansiReset
}

// writeText writes the report for people: one block per credential, its
// locations below it, then a summary line and a hint.
//
//	● Twilio Auth Token  twilio-auth-token  confidence high
//	  Account SID  AC…
//	  Auth Token   abcd…[REDACTED]
//	  fingerprint  0f…
//	  config/.env:3:19  (paired with the SID at config/.env:2)
//	  app.py:10:5  commit 1a2b3c4d by Jane Doe on 2024-01-02 "add config" · still at tip of main
//
//	2 credentials in 3 places; 1,234 files, 5.6 MB scanned
func writeText(w io.Writer, r Report, o Options) error {
	p := painter(o.Color)
	var b strings.Builder
	for i := range r.Findings {
		writeTextFinding(&b, p, &r.Findings[i], o.NoRedact)
		b.WriteString("\n")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "%s %s\n", p.paint(ansiCyan, "note:"), safeText(n))
	}
	n, places := len(r.Findings), countLocations(r.Findings)
	scanned := scannedText(r.Stats)
	if r.Scope != "" {
		scanned = "scanned " + safeText(r.Scope) + ": " + scanned
	}
	if r.PublishedExamples > 0 {
		scanned += fmt.Sprintf("; %s ignored", plural(r.PublishedExamples, "published example credential", "published example credentials"))
	}
	if n == 0 {
		fmt.Fprintf(&b, "%s; %s\n", p.paint(ansiBold, "No Twilio credentials found"), scanned)
		_, err := io.WriteString(w, b.String())
		return err
	}
	summary := fmt.Sprintf("%s in %s", plural(n, "credential", "credentials"), plural(places, "place", "places"))
	if tests := countTestCredentials(r.Findings); tests > 0 {
		summary += fmt.Sprintf(" (%d of them Twilio test credentials, reported as notes)", tests)
	}
	fmt.Fprintf(&b, "%s; %s\n", p.paint(ansiBold+ansiRed, summary), scanned)
	if !o.NoRedact {
		b.WriteString(p.paint(ansiDim, "Secrets are redacted; --no-redact prints them in full.") + "\n")
	}
	b.WriteString(p.paint(ansiDim, "Rotate a leaked credential: removing it from the files leaves it in git history and every clone.") + "\n")
	b.WriteString(p.paint(ansiDim, "To allow one that is not a risk, add its fingerprint to "+IgnoreFileName+" (\"FINGERPRINT # why\"); to report only new ones, pass --baseline with a saved JSON report.") + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func writeTextFinding(b *strings.Builder, p painter, f *scanner.Finding, noRedact bool) {
	l := labelsFor(f)
	head := p.paint(ansiBold+ansiRed, "● "+l.credential)
	if f.IsTestCredential() {
		head = p.paint(ansiYellow, "○ note: "+l.credential)
	}
	fmt.Fprintf(b, "%s  %s  confidence %s", head, safeText(f.RuleID), f.Confidence)
	if f.IsTestCredential() {
		b.WriteString("  " + p.paint(ansiYellow, "[test credentials]"))
	}
	b.WriteString("\n")
	if f.Description != "" {
		fmt.Fprintf(b, "  %s\n", p.paint(ansiDim, safeText(f.Description)))
	}
	width := max(len(l.identifier), len(l.secret), len("fingerprint"))
	if f.Account != "" && f.Account != f.Identifier {
		width = max(width, len("Account SID"))
	}
	field := func(name, value string) {
		fmt.Fprintf(b, "  %-*s  %s\n", width, name, value)
	}
	if f.Identifier != "" {
		field(l.identifier, p.paint(ansiBold, safeText(f.Identifier)))
	} else {
		field(l.identifier, p.paint(ansiDim, "(none found: the secret is unpaired)"))
	}
	if f.Account != "" && f.Account != f.Identifier {
		field("Account SID", safeText(f.Account))
	}
	field(l.secret, safeText(secretText(f, noRedact)))
	field("fingerprint", safeText(f.Fingerprint))
	if v := verificationText(f); v != "" {
		style := ansiDim
		if f.Verification == "live" {
			style = ansiBold + ansiRed
		}
		field("verified", p.paint(style, safeText(v)))
	}
	for i := range f.Locations {
		writeTextLocation(b, p, &f.Locations[i])
	}
}

func writeTextLocation(b *strings.Builder, p painter, loc *scanner.Location) {
	b.WriteString("    ")
	if loc.Binary {
		b.WriteString(p.paint(ansiBold, safePath(loc.Path)+" @ byte "+strconv.FormatInt(loc.Offset, 10)))
	} else {
		b.WriteString(p.paint(ansiBold, safePath(loc.Path)+":"+strconv.Itoa(loc.Line)+":"+strconv.Itoa(loc.Column)))
	}
	var extra []string
	if loc.State != "" {
		extra = append(extra, safeText(loc.State))
	}
	if loc.Binary {
		extra = append(extra, "in binary content")
	}
	if loc.Encoding != "" {
		extra = append(extra, safeText(loc.Encoding)+"-encoded")
	}
	if loc.IdentifierPath != "" && loc.IdentifierLine > 0 {
		if loc.IdentifierPath == loc.Path {
			extra = append(extra, "SID on line "+strconv.Itoa(loc.IdentifierLine))
		} else {
			extra = append(extra, "SID at "+safePath(loc.IdentifierPath)+":"+strconv.Itoa(loc.IdentifierLine))
		}
	}
	if len(extra) > 0 {
		b.WriteString("  " + p.paint(ansiDim, "("+strings.Join(extra, "; ")+")"))
	}
	b.WriteString("\n")
	if c := loc.Commit; c != nil {
		parts := []string{"commit " + safeText(shortHash(c.Hash))}
		if c.Author != "" {
			parts = append(parts, "by "+safeText(c.Author))
		}
		if c.Date != "" {
			parts = append(parts, "on "+safeText(shortDate(c.Date)))
		}
		line := strings.Join(parts, " ")
		if c.Summary != "" {
			line += ` "` + safeText(c.Summary) + `"`
		}
		tip := safeText(tipText(c))
		if len(c.AtTips) > 0 {
			tip = p.paint(ansiRed, tip)
		} else {
			tip = p.paint(ansiDim, tip)
		}
		fmt.Fprintf(b, "      %s · %s\n", p.paint(ansiDim, line), tip)
	}
}

func shortHash(h string) string {
	if len(h) > 10 {
		return h[:10]
	}
	return h
}

// shortDate shows the day of an RFC 3339 date.
func shortDate(d string) string {
	if t, err := time.Parse(time.RFC3339, d); err == nil {
		return t.Format(time.DateOnly)
	}
	return d
}

// scannedText is "1,234 files, 5.6 MB scanned" with git and skip counts.
func scannedText(s scanner.Stats) string {
	parts := []string{plural(int(s.Files), "file", "files"), byteSize(s.Bytes)}
	if s.Commits > 0 {
		parts = append(parts, plural(int(s.Commits), "commit", "commits"))
	}
	out := strings.Join(parts, ", ") + " scanned"
	var skipped []string
	if s.SkippedBinary > 0 {
		skipped = append(skipped, group(s.SkippedBinary)+" binary")
	}
	if s.SkippedLarge > 0 {
		skipped = append(skipped, group(s.SkippedLarge)+" too large")
	}
	if s.Unreadable > 0 {
		skipped = append(skipped, group(s.Unreadable)+" unreadable")
	}
	if n := s.SkippedOther + s.Symlinks; n > 0 {
		skipped = append(skipped, group(n)+" symlinks or special files")
	}
	if len(skipped) > 0 {
		out += " (skipped " + strings.Join(skipped, ", ") + ")"
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return group(int64(n)) + " " + many
}

// group writes n with thousands separators: 1234567 → "1,234,567".
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// byteSize writes a size in SI units: 512 B, 5.6 MB.
func byteSize(n int64) string {
	if n < 1000 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, unit := float64(n)/1000, "kB"
	for _, next := range []string{"MB", "GB", "TB", "PB"} {
		if v < 999.95 {
			break
		}
		v, unit = v/1000, next
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
}

func countTestCredentials(fs []scanner.Finding) int {
	n := 0
	for i := range fs {
		if fs[i].IsTestCredential() {
			n++
		}
	}
	return n
}
