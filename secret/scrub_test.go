package secret

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Test secrets: no run of eight characters of one occurs in the other, or
// twice in one; not credential-shaped, so no scanner flags them.
const (
	secretA = "0123456789abcdefghijklmnopqrstuv"
	secretB = "ABCDEFGHIJKLMNOPQRSTUVWXYZ-+=/!?"
)

// From revoker/sink (TestScrub): whole secrets and pieces of eight or more.
func TestScrub(t *testing.T) {
	sv := secretA
	s := New(sv)
	cases := map[string]string{
		"a " + sv + " b":                   "a [REDACTED] b",
		sv + sv:                            "[REDACTED][REDACTED]",
		"head " + sv[:10]:                  "head [REDACTED]",
		sv[20:] + " tail":                  "[REDACTED] tail",
		"mid " + sv[5:13] + " x":           "mid [REDACTED] x",
		"nothing here":                     "nothing here",
		"short " + sv[:minPiece-1] + " ok": "short " + sv[:minPiece-1] + " ok",
	}
	for in, want := range cases {
		if got := Scrub(in, s); got != want {
			t.Errorf("Scrub(%q) = %q, want %q", in, got, want)
		}
	}
	short := New("abc")
	if got := Scrub("xabcx", short); got != "x[REDACTED]x" {
		t.Errorf("short secret: %q", got)
	}
	if got := Scrub("anything", Value{}); got != "anything" {
		t.Errorf("zero secret: %q", got)
	}
}

// From revoker (scrub of several secrets): each is removed.
func TestScrubSeveral(t *testing.T) {
	a, b := secretA, secretB
	got := Scrub("token "+a+" and secret "+b+".", New(a), Value{}, New(b))
	if got != "token [REDACTED] and secret [REDACTED]." {
		t.Fatalf("Scrub = %q", got)
	}
	if got := Scrub("no secrets given"); got != "no secrets given" {
		t.Fatalf("Scrub without secrets = %q", got)
	}
}

// From revoker/sink (TestScrubError): an error that is itself the leak
// does not unwrap to itself.
func TestScrubError(t *testing.T) {
	s := New(secretA)
	plain := errors.New("plain")
	if ScrubError(plain, s) != plain {
		t.Fatal("clean error replaced")
	}
	if ScrubError(nil, s) != nil || ScrubError(plain) != plain || ScrubError(plain, Value{}) != plain {
		t.Fatal("ScrubError must leave nil, and errors with no secret to scrub, alone")
	}
	leaky := errors.New("x " + s.Reveal())
	got := ScrubError(leaky, s)
	if strings.Contains(got.Error(), s.Reveal()) || errors.Is(got, leaky) {
		t.Fatalf("ScrubError = %v (still unwraps to the original: %v)", got, errors.Is(got, leaky))
	}
}

type typedError struct{ status int }

func (e *typedError) Error() string { return fmt.Sprintf("status %d", e.status) }

// From revoker/twilio (TestScrub): the clean part of the chain is kept for
// errors.As, the part that holds the secret is not reachable.
func TestScrubErrorKeepsTheCleanChain(t *testing.T) {
	pw := strings.Repeat("z9", 16)
	base := &typedError{status: 500}
	leak := fmt.Errorf("dial %s: %w", pw, base)
	err := ScrubError(fmt.Errorf("call: %w", leak), New(pw))
	if strings.Contains(err.Error(), pw) || !strings.Contains(err.Error(), Redacted) {
		t.Fatalf("ScrubError: %v", err)
	}
	var e *typedError
	if !errors.As(err, &e) || e != base {
		t.Fatal("ScrubError lost the chain")
	}
	if errors.Is(err, leak) {
		t.Fatal("ScrubError unwraps to an error that holds the secret")
	}
	// Both branches of a joined error are searched.
	other := errors.New("other cause")
	err = ScrubError(errors.Join(fmt.Errorf("a %s: %w", pw, base), other), New(pw))
	if !errors.As(err, &e) || !errors.Is(err, other) || strings.Contains(err.Error(), pw) {
		t.Fatalf("joined: %v", err)
	}
	for u := []error{err}; len(u) > 0; {
		x := u[0]
		u = u[1:]
		if strings.Contains(x.Error(), pw) {
			t.Fatalf("an error in the chain prints the secret: %v", x)
		}
		switch w := x.(type) {
		case interface{ Unwrap() error }:
			if n := w.Unwrap(); n != nil {
				u = append(u, n)
			}
		case interface{ Unwrap() []error }:
			u = append(u, w.Unwrap()...)
		}
	}
}
