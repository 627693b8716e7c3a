package sink

import (
	"strings"

	"github.com/leakstop/leakstop/secret"
)

// redacted replaces a secret, or a piece of one, scrubbed out of text.
const redacted = "[REDACTED]"

// minPiece is the shortest run of a secret's characters that scrub removes
// when it is not the whole secret: a program may print part of what it
// read (truncated, or split across lines).
const minPiece = 8

// scrub removes from text every occurrence of s's value and every run of
// at least minPiece characters that also occurs in it (all of it when the
// secret is shorter than that).
func scrub(text string, s secret.Value) string {
	sv := s.Reveal()
	if sv == "" || text == "" {
		return text
	}
	text = strings.ReplaceAll(text, sv, redacted)
	minLen := min(minPiece, len(sv))
	var b strings.Builder
	changed := false
	for i := 0; i < len(text); {
		best := 0
		for j := 0; j < len(sv)-best; j++ {
			best = max(best, commonPrefix(text[i:], sv[j:]))
		}
		if best >= minLen {
			if !changed {
				b.Grow(len(text))
				b.WriteString(text[:i])
				changed = true
			}
			b.WriteString(redacted)
			i += best
			continue
		}
		if changed {
			b.WriteByte(text[i])
		}
		i++
	}
	if !changed {
		return text
	}
	return b.String()
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// scrubbedError carries the message of an error that contained the secret
// (or a piece of it), with that removed. It deliberately does not unwrap:
// the original would print the secret again.
type scrubbedError struct{ msg string }

func (e *scrubbedError) Error() string { return e.msg }

// scrubError returns err unchanged when its message holds nothing of the
// secret, and a scrubbed copy of the message otherwise.
func scrubError(err error, s secret.Value) error {
	if err == nil || s.IsZero() {
		return err
	}
	msg := err.Error()
	if clean := scrub(msg, s); clean != msg {
		return &scrubbedError{msg: clean}
	}
	return err
}
