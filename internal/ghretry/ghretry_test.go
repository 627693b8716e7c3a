package ghretry

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

func response(status int, headers ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	return &http.Response{StatusCode: status, Header: h, Request: &http.Request{Method: "GET", URL: &url.URL{Path: "/x"}}}
}

func TestDefaults(t *testing.T) {
	got := Policy{MaxAttempts: -1, MinWait: -1}.withDefaults()
	want := Policy{MaxAttempts: 5, MinWait: time.Minute, ServerErrorWait: time.Second, MaxWait: 15 * time.Minute}
	if got != want {
		t.Fatalf("defaults = %+v, want %+v", got, want)
	}
	set := Policy{MaxAttempts: 2, MinWait: 3, ServerErrorWait: 4, MaxWait: 5}
	if got := set.withDefaults(); got != set {
		t.Fatalf("set fields changed: %+v", got)
	}
}

// TestWait holds the cases of the retry tests that revoker/sink and
// ghaction each had for their own copy of this logic.
func TestWait(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	p := Policy{}.withDefaults()
	reset := strconv.FormatInt(now.Add(42*time.Second).Unix(), 10)
	thirty, nine, hour := 30*time.Second, 9*time.Second, time.Hour
	cases := []struct {
		name       string
		err        error
		resp       *github.Response
		attempt    int
		idempotent bool
		want       time.Duration
		retry      bool
	}{
		// RateLimitError: go-github's primary limit (403, Remaining 0).
		{"primary 403 waits for reset", &github.RateLimitError{Rate: github.Rate{Reset: github.Timestamp{Time: now.Add(42 * time.Second)}}, Response: response(403)}, nil, 0, true, 43 * time.Second, true},
		{"primary 403 waits for reset, not idempotent", &github.RateLimitError{Rate: github.Rate{Reset: github.Timestamp{Time: now.Add(30 * time.Second)}}, Response: response(403)}, nil, 0, false, 31 * time.Second, true},
		{"primary 403 Retry-After wins over reset", &github.RateLimitError{Rate: github.Rate{Reset: github.Timestamp{Time: now.Add(time.Hour)}}, Response: response(403, "Retry-After", "3")}, nil, 0, true, 3 * time.Second, true},
		{"primary 403 reset passed", &github.RateLimitError{Rate: github.Rate{Reset: github.Timestamp{Time: now.Add(-time.Minute)}}, Response: response(403)}, nil, 0, true, 0, true},
		{"primary 403 without reset backs off", &github.RateLimitError{Response: response(403)}, nil, 1, true, 2 * time.Minute, true},
		// AbuseRateLimitError: go-github's secondary limit.
		{"secondary 403 honours Retry-After", &github.AbuseRateLimitError{RetryAfter: &thirty, Response: response(403, "Retry-After", "30")}, nil, 0, true, thirty, true},
		{"secondary 403 honours Retry-After, not idempotent", &github.AbuseRateLimitError{RetryAfter: &nine, Response: response(403, "Retry-After", "9")}, nil, 0, false, nine, true},
		// go-github fills RetryAfter from X-RateLimit-Reset when there is
		// no Retry-After: with quota left that is not the limit's wait.
		{"secondary 403 without Retry-After ignores the quota's reset", &github.AbuseRateLimitError{RetryAfter: &hour, Response: response(403, "X-RateLimit-Remaining", "4000", "X-RateLimit-Reset", strconv.FormatInt(now.Add(time.Hour).Unix(), 10))}, nil, 0, true, time.Minute, true},
		{"secondary 403 with the quota exhausted waits for its reset", &github.AbuseRateLimitError{RetryAfter: &hour, Response: response(403, "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", strconv.FormatInt(now.Add(10*time.Minute).Unix(), 10))}, nil, 0, true, 10*time.Minute + time.Second, true},
		{"secondary 403 without hint backs off", &github.AbuseRateLimitError{Response: response(403)}, nil, 2, true, 4 * time.Minute, true},
		{"secondary 403 without hint backs off, not idempotent", &github.AbuseRateLimitError{Response: response(403)}, nil, 2, false, 4 * time.Minute, true},
		{"wrapped secondary 403", errors.Join(errors.New("list"), &github.AbuseRateLimitError{RetryAfter: &nine, Response: response(403, "Retry-After", "9")}), nil, 0, true, nine, true},
		// 429, which go-github does not recognise.
		{"429 Retry-After seconds", &github.ErrorResponse{Response: response(429, "Retry-After", "7")}, nil, 0, false, 7 * time.Second, true},
		{"429 Retry-After seconds, 5", &github.ErrorResponse{Response: response(429, "Retry-After", "5")}, nil, 0, false, 5 * time.Second, true},
		{"429 Retry-After date", &github.ErrorResponse{Response: response(429, "Retry-After", now.Add(9*time.Second).UTC().Format(http.TimeFormat))}, nil, 0, false, 9 * time.Second, true},
		{"429 Retry-After date passed", &github.ErrorResponse{Response: response(429, "Retry-After", now.Add(-9*time.Second).UTC().Format(http.TimeFormat))}, nil, 0, false, 0, true},
		{"429 Retry-After garbage backs off", &github.ErrorResponse{Response: response(429, "Retry-After", "soon")}, nil, 0, false, time.Minute, true},
		{"429 remaining 0 waits for reset", &github.ErrorResponse{Response: response(429, "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", reset)}, nil, 0, false, 43 * time.Second, true},
		{"429 remaining 0 waits for reset, 10s", &github.ErrorResponse{Response: response(429, "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1700000010")}, nil, 0, false, 11 * time.Second, true},
		{"429 reset later than Retry-After", &github.ErrorResponse{Response: response(429, "Retry-After", "7", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", reset)}, nil, 0, false, 43 * time.Second, true},
		{"429 Retry-After later than reset", &github.ErrorResponse{Response: response(429, "Retry-After", "60", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", reset)}, nil, 0, false, time.Minute, true},
		{"429 without hints: a minute, doubling", &github.ErrorResponse{Response: response(429)}, nil, 1, false, 2 * time.Minute, true},
		{"429 backoff capped just past MaxWait", &github.ErrorResponse{Response: response(429)}, nil, 40, false, 15*time.Minute + time.Second, true},
		{"429 from the response alone", errors.New("decode"), &github.Response{Response: response(429, "Retry-After", "4")}, 0, false, 4 * time.Second, true},
		// 403s go-github did not classify.
		{"403 with Retry-After", &github.ErrorResponse{Response: response(403, "Retry-After", "5")}, nil, 0, false, 5 * time.Second, true},
		{"403 remaining 0 waits for reset", &github.ErrorResponse{Response: response(403, "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", reset)}, nil, 0, false, 43 * time.Second, true},
		{"plain 403", &github.ErrorResponse{Response: response(403)}, nil, 0, true, 0, false},
		// 5xx: only idempotent calls.
		{"502 idempotent", &github.ErrorResponse{Response: response(502)}, nil, 3, true, 8 * time.Second, true},
		{"500 idempotent", &github.ErrorResponse{Response: response(500)}, nil, 1, true, 2 * time.Second, true},
		{"502 not idempotent", &github.ErrorResponse{Response: response(502)}, nil, 0, false, 0, false},
		{"500 not idempotent", &github.ErrorResponse{Response: response(500)}, nil, 0, false, 0, false},
		{"501 idempotent", &github.ErrorResponse{Response: response(501)}, nil, 0, true, 0, false},
		// Not retried.
		{"422", &github.ErrorResponse{Response: response(422)}, nil, 0, true, 0, false},
		{"ErrorResponse without a response", &github.ErrorResponse{}, nil, 0, true, 0, false},
		{"transport error", errors.New("connection refused"), nil, 0, true, 0, false},
		{"network reset", errors.New("connection reset"), nil, 0, true, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, retry := p.wait(tc.err, tc.resp, tc.attempt, tc.idempotent, now)
			if retry != tc.retry || (retry && got != tc.want) {
				t.Fatalf("wait = %s, %v; want %s, %v", got, retry, tc.want, tc.retry)
			}
		})
	}
}

// fakeClock stands still but for the waits it records.
type fakeClock struct {
	now    time.Time
	sleeps []time.Duration
}

func (f *fakeClock) clock() Clock {
	return Clock{
		Now: func() time.Time { return f.now },
		Sleep: func(ctx context.Context, d time.Duration) error {
			f.sleeps = append(f.sleeps, d)
			f.now = f.now.Add(d)
			return ctx.Err()
		},
	}
}

func rateLimited(retryAfter string) error {
	return &github.ErrorResponse{Response: response(429, "Retry-After", retryAfter)}
}

func TestDo(t *testing.T) {
	ctx := context.Background()
	start := time.Unix(1_700_000_000, 0)

	t.Run("succeeds after waits", func(t *testing.T) {
		fc := &fakeClock{now: start}
		calls := 0
		err := Policy{}.DoWith(ctx, fc.clock(), true, func(context.Context) (*github.Response, error) {
			calls++
			switch calls {
			case 1:
				return nil, rateLimited("7")
			case 2:
				return nil, &github.ErrorResponse{Response: response(503)}
			}
			return nil, nil
		})
		if err != nil || calls != 3 || len(fc.sleeps) != 2 || fc.sleeps[0] != 7*time.Second || fc.sleeps[1] != 2*time.Second {
			t.Fatalf("err=%v calls=%d sleeps=%v", err, calls, fc.sleeps)
		}
	})
	t.Run("attempts run out", func(t *testing.T) {
		fc := &fakeClock{now: start}
		calls := 0
		err := Policy{MaxAttempts: 3}.DoWith(ctx, fc.clock(), false, func(context.Context) (*github.Response, error) {
			calls++
			return nil, rateLimited("1")
		})
		var er *github.ErrorResponse
		if !errors.As(err, &er) || er.Response.StatusCode != 429 || calls != 3 || len(fc.sleeps) != 2 {
			t.Fatalf("err=%v calls=%d sleeps=%v", err, calls, fc.sleeps)
		}
	})
	t.Run("not retried", func(t *testing.T) {
		fc := &fakeClock{now: start}
		calls := 0
		want := &github.ErrorResponse{Response: response(502)}
		err := Policy{}.DoWith(ctx, fc.clock(), false, func(context.Context) (*github.Response, error) {
			calls++
			return nil, want
		})
		if err != want || calls != 1 || len(fc.sleeps) != 0 {
			t.Fatalf("err=%v calls=%d sleeps=%v", err, calls, fc.sleeps)
		}
	})
	t.Run("wait longer than MaxWait", func(t *testing.T) {
		fc := &fakeClock{now: start}
		calls := 0
		err := Policy{MaxWait: time.Second}.DoWith(ctx, fc.clock(), true, func(context.Context) (*github.Response, error) {
			calls++
			return nil, rateLimited("60")
		})
		var er *github.ErrorResponse
		if calls != 1 || !errors.As(err, &er) || !strings.Contains(err.Error(), "more than 1s") || len(fc.sleeps) != 0 {
			t.Fatalf("calls=%d err=%v sleeps=%v", calls, err, fc.sleeps)
		}
	})
	t.Run("wait past the deadline", func(t *testing.T) {
		fc := &fakeClock{now: time.Now()}
		dctx, cancel := context.WithTimeout(ctx, time.Hour)
		defer cancel()
		// The fake clock is a minute from the deadline: a wait of 40s
		// is taken, the next one would pass it.
		fc.now = fc.now.Add(time.Hour - time.Minute)
		forty := 40 * time.Second
		err := Policy{}.DoWith(dctx, fc.clock(), true, func(context.Context) (*github.Response, error) {
			return nil, &github.AbuseRateLimitError{RetryAfter: &forty, Response: response(403, "Retry-After", "40")}
		})
		var are *github.AbuseRateLimitError
		if !errors.As(err, &are) || !strings.Contains(err.Error(), "past the deadline") || len(fc.sleeps) != 1 {
			t.Fatalf("err=%v sleeps=%v", err, fc.sleeps)
		}
	})
	t.Run("cancelled while waiting", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(50*time.Millisecond, cancel)
		began := time.Now()
		err := Policy{}.Do(cctx, true, func(context.Context) (*github.Response, error) {
			return nil, rateLimited("30")
		})
		var er *github.ErrorResponse
		if !errors.Is(err, context.Canceled) || !errors.As(err, &er) || time.Since(began) > 10*time.Second {
			t.Fatalf("err=%v after %s", err, time.Since(began))
		}
	})
	t.Run("context already done", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		calls := 0
		want := rateLimited("1")
		err := Policy{}.Do(cctx, true, func(context.Context) (*github.Response, error) {
			calls++
			cancel()
			return nil, want
		})
		if err != want || calls != 1 {
			t.Fatalf("err=%v calls=%d", err, calls)
		}
	})
	t.Run("real sleep", func(t *testing.T) {
		calls := 0
		err := Policy{ServerErrorWait: time.Millisecond}.Do(ctx, true, func(context.Context) (*github.Response, error) {
			calls++
			if calls == 1 {
				return nil, &github.ErrorResponse{Response: response(500)}
			}
			return nil, nil
		})
		if err != nil || calls != 2 {
			t.Fatalf("err=%v calls=%d", err, calls)
		}
	})
}
