package report

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Text from scanned content — file names, commit authors and summaries,
// branch names — is hostile: it may hold newlines that fake report lines,
// ANSI escape sequences that rewrite the terminal, or bidirectional
// overrides that make one name look like another. Text output escapes it.

// safePath returns a file name that is safe to print on one line: as is
// when every character is printable, else Go-quoted ("a\nb", "\x1b[31m"),
// so an escaped name can never be mistaken for a real one.
func safePath(s string) string {
	if s == "" {
		return `""`
	}
	if printable(s) && s[0] != '"' {
		return s
	}
	return strconv.Quote(s)
}

// safeText escapes the characters of free text that are not printable
// (controls, invalid UTF-8, format characters, line separators) and keeps
// the rest, so a commit summary reads naturally but cannot drive the
// terminal or break a line.
func safeText(s string) string {
	if printable(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])|0x100, 16)[1:])
		case r == ' ' || strconv.IsPrint(r):
			b.WriteString(s[i : i+size])
		default:
			q := strconv.QuoteRune(r) // '\n', '\x1b', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}

// printable reports whether s is valid UTF-8 of printable characters and
// ASCII spaces only.
func printable(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || !strconv.IsPrint(r) {
			return false
		}
		i += size
	}
	return true
}
