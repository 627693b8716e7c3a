package sink

import (
	"errors"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/secret"
)

func TestScrub(t *testing.T) {
	sv := randHex(t, 16)
	s := secret.New(sv)
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
		if got := scrub(in, s); got != want {
			t.Errorf("scrub(%q) = %q, want %q", in, got, want)
		}
	}
	short := secret.New("abc")
	if got := scrub("xabcx", short); got != "x[REDACTED]x" {
		t.Errorf("short secret: %q", got)
	}
	if got := scrub("anything", secret.Value{}); got != "anything" {
		t.Errorf("zero secret: %q", got)
	}
}

func TestScrubError(t *testing.T) {
	s := secret.New(randHex(t, 16))
	plain := errors.New("plain")
	if scrubError(plain, s) != plain {
		t.Fatal("clean error replaced")
	}
	leaky := errors.New("x " + s.Reveal())
	got := scrubError(leaky, s)
	if strings.Contains(got.Error(), s.Reveal()) || errors.Is(got, leaky) {
		t.Fatalf("scrubError = %v (still unwraps to the original: %v)", got, errors.Is(got, leaky))
	}
}
