package secret

import "strings"

// Redacted replaces a secret, or a piece of one, scrubbed out of text.
const Redacted = "[REDACTED]"

// minPiece is the shortest run of a secret's characters that Scrub removes
// when it is not the whole secret: a program may print part of what it
// read (truncated, or split across lines).
const minPiece = 8

// Scrub removes from text every occurrence of each secret's value and every
// run of at least eight characters that also occurs in it (the whole
// secret when it is shorter than that), replacing each with Redacted. Use
// it on any text bound for a person, a log, an error or the state store
// that may have seen a secret.
func Scrub(text string, secrets ...Value) string {
	for _, s := range secrets {
		text = scrubOne(text, s.Reveal())
	}
	return text
}

func scrubOne(text, sv string) string {
	if sv == "" || text == "" {
		return text
	}
	text = strings.ReplaceAll(text, sv, Redacted)
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
			b.WriteString(Redacted)
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

// ScrubError returns err unchanged when its message holds nothing of the
// secrets, and otherwise an error whose message is scrubbed (see Scrub).
//
// The scrubbed error keeps the part of err's chain that is clean: it
// unwraps to the first errors down each branch whose own messages hold
// nothing of the secrets, so errors.Is and errors.As still find typed
// causes below the point where the secret entered. The errors that hold
// it are dropped from the chain, as reaching them would print the secret
// again.
func ScrubError(err error, secrets ...Value) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := Scrub(msg, secrets...)
	if clean == msg {
		return err
	}
	return &scrubbedError{msg: clean, causes: cleanCauses(err, secrets)}
}

// cleanCauses returns the first errors below err, down each branch of its
// chain, whose messages Scrub leaves alone.
func cleanCauses(err error, secrets []Value) []error {
	var next []error
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		if c := u.Unwrap(); c != nil {
			next = append(next, c)
		}
	case interface{ Unwrap() []error }:
		next = append(next, u.Unwrap()...)
	}
	var out []error
	for _, c := range next {
		if c == nil {
			continue
		}
		if msg := c.Error(); Scrub(msg, secrets...) == msg {
			out = append(out, c)
			continue
		}
		out = append(out, cleanCauses(c, secrets)...)
	}
	return out
}

// scrubbedError carries the scrubbed message of an error that held a
// secret, and the clean part of its chain.
type scrubbedError struct {
	msg    string
	causes []error
}

func (e *scrubbedError) Error() string   { return e.msg }
func (e *scrubbedError) Unwrap() []error { return e.causes }
