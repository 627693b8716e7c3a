package twilio

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/leakstop/leakstop/internal/wait"
	"github.com/leakstop/leakstop/secret"
)

func TestBackoffBounds(t *testing.T) {
	c := New(Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 80 * time.Millisecond})
	for attempt := range 10 {
		ceil := min(10*time.Millisecond<<attempt, 80*time.Millisecond)
		for range 200 {
			if d := c.backoff(attempt, 0); d < 0 || d > ceil {
				t.Fatalf("attempt %d: %v outside [0, %v]", attempt, d, ceil)
			}
		}
	}
	if d := c.backoff(0, 50*time.Millisecond); d != 50*time.Millisecond {
		t.Errorf("Retry-After not used: %v", d)
	}
	if d := c.backoff(0, time.Hour); d != 80*time.Millisecond {
		t.Errorf("Retry-After not capped: %v", d)
	}
	// Huge attempt numbers must not overflow.
	if d := c.backoff(1000, 0); d < 0 || d > 80*time.Millisecond {
		t.Errorf("attempt 1000: %v", d)
	}
}

func TestDefaults(t *testing.T) {
	c := New(Options{})
	if c.timeout != DefaultTimeout || c.maxRetries != DefaultMaxRetries || c.minBackoff != DefaultMinBackoff ||
		c.maxBackoff != DefaultMaxBackoff || c.userAgent != DefaultUserAgent || c.initErr != nil ||
		c.api.String() != DefaultAPIBaseURL || c.accounts.String() != DefaultAccountsBaseURL || c.hc.Timeout != DefaultTimeout {
		t.Fatalf("defaults: %+v", c)
	}
	c = New(Options{APIBaseURL: "https://user:pw@proxy.example/twilio/"})
	if c.api.User != nil || c.api.String() != "https://proxy.example/twilio" {
		t.Fatalf("base URL kept user info or slash: %s", c.api)
	}
	if New(Options{MaxRetries: -3}).maxRetries != 0 {
		t.Fatal("negative MaxRetries must mean none")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := map[string]time.Duration{
		"":     0,
		"3":    3 * time.Second,
		" 2 ":  2 * time.Second,
		"0":    0,
		"-5":   0,
		"soon": 0,
		"9999": 9999 * time.Second,
		now.Add(7 * time.Second).Format(http.TimeFormat):  7 * time.Second,
		now.Add(-7 * time.Second).Format(http.TimeFormat): 0,
	}
	for in, want := range cases {
		if got, _ := wait.RetryAfter(in, now); got != want {
			t.Errorf("wait.RetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
	if got, _ := wait.RetryAfter("999999999999", now); got != 24*time.Hour {
		t.Errorf("huge Retry-After = %v", got)
	}
}

func TestScrub(t *testing.T) {
	pw := strings.Repeat("z9", 16)
	base := &Error{HTTPStatus: 500, Method: "GET", Path: "/p"}
	err := secret.ScrubError(fmt.Errorf("dial %s: %w", pw, base), secret.New(pw))
	if strings.Contains(err.Error(), pw) || !strings.Contains(err.Error(), secret.Redacted) {
		t.Fatalf("scrub: %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || e != base {
		t.Fatal("scrub lost the chain")
	}
	clean := errors.New("clean")
	if secret.ScrubError(clean, secret.New(pw)) != clean || secret.ScrubError(nil, secret.New(pw)) != nil || secret.ScrubError(clean, secret.Value{}) != clean {
		t.Fatal("scrub must leave clean errors alone")
	}
}

func TestCleanMessage(t *testing.T) {
	pw := strings.Repeat("k3", 16)
	if got := cleanMessage("bad "+pw+"\nline\x00", secret.New(pw)); got != "bad "+secret.Redacted+" line" {
		t.Errorf("got %q", got)
	}
	long := cleanMessage(strings.Repeat("é", 400), secret.Value{})
	if len(long) > 310 || !strings.HasSuffix(long, "…") || !strings.HasPrefix(long, "é") {
		t.Errorf("truncation: %d bytes %q…", len(long), long[:10])
	}
	for _, r := range long {
		if r == '\uFFFD' {
			t.Fatal("truncation split a rune")
		}
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{HTTPStatus: 400, Code: 70002, Message: "secondaryAuthToken already exists on account", Method: "POST", Path: "/v1/AuthTokens/Secondary"}
	want := "twilio: POST /v1/AuthTokens/Secondary: HTTP 400 code 70002: secondaryAuthToken already exists on account"
	if e.Error() != want {
		t.Errorf("got %q", e.Error())
	}
	u := &UnknownOutcomeError{Method: "POST", Path: "/v1/AuthTokens/Promote", Err: e}
	if !strings.Contains(u.Error(), "outcome unknown") || !IsSecondaryExists(u) || !IsUnknownOutcome(u) {
		t.Errorf("unknown outcome: %v", u)
	}
	if IsAuth(nil) || IsNotFound(errors.New("x")) || IsUnknownOutcome(e) {
		t.Error("helpers on foreign errors")
	}
}

func TestParseDate(t *testing.T) {
	for _, s := range []string{"Mon, 13 Jun 2016 22:50:08 +0000", "2015-07-31T04:00:00Z", "Mon, 3 Jun 2016 22:50:08 +0000"} {
		if parseDate(&s).IsZero() {
			t.Errorf("%q not parsed", s)
		}
	}
	bad := "yesterday"
	if !parseDate(&bad).IsZero() || !parseDate(nil).IsZero() {
		t.Error("bad dates must be zero")
	}
}

func TestErrorTextsDoNotRepeat(t *testing.T) {
	cause := &Error{HTTPStatus: 500, Code: 20500, Message: "Internal Server Error", Method: "POST", Path: "/v1/AuthTokens/Promote"}
	u := &UnknownOutcomeError{Method: "POST", Path: "/v1/AuthTokens/Promote", Err: cause}
	want := "twilio: POST /v1/AuthTokens/Promote: outcome unknown, the change may have been applied: HTTP 500 code 20500: Internal Server Error"
	if u.Error() != want {
		t.Errorf("got %q", u.Error())
	}
	if (&UnknownOutcomeError{Method: "POST", Path: "/p"}).Error() == "" {
		t.Error("nil cause")
	}
}
