package ghaction

// Rate limits, as /work/shared/api/GITHUB.md describes them; kept in step
// with revoker/notify/ghretry.go.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/go-github/v60/github"
)

// Retry bounds the retries of a GitHub call that hit a rate limit (403 or
// 429) or, for an idempotent call, a 5xx. The wait is Retry-After when
// GitHub sent it; else, when X-RateLimit-Remaining is 0, until
// X-RateLimit-Reset (plus a second); else MinWait, doubled each attempt.
// A wait longer than MaxWait is not taken: the call fails.
type Retry struct {
	MaxAttempts     int           // default 5
	MinWait         time.Duration // default 1m
	ServerErrorWait time.Duration // default 1s
	MaxWait         time.Duration // default 10m
	// Sleep waits (tests replace it); nil waits for real.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock (tests replace it); nil is time.Now.
	Now func() time.Time
}

func (p Retry) withDefaults() Retry {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 5
	}
	if p.MinWait <= 0 {
		p.MinWait = time.Minute
	}
	if p.ServerErrorWait <= 0 {
		p.ServerErrorWait = time.Second
	}
	if p.MaxWait <= 0 {
		p.MaxWait = 10 * time.Minute
	}
	if p.Sleep == nil {
		p.Sleep = sleep
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	return p
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// do runs call until it succeeds, fails for good or the attempts run out.
// A rate-limited request was not carried out, so it is always retried; a
// 5xx only when the call is idempotent.
func (p Retry) do(ctx context.Context, idempotent bool, call func(context.Context) (*github.Response, error)) error {
	p = p.withDefaults()
	for attempt := 0; ; attempt++ {
		resp, err := call(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		wait, retry := p.wait(err, resp, attempt, idempotent)
		if !retry || attempt+1 >= p.MaxAttempts {
			return err
		}
		if wait > p.MaxWait {
			return fmt.Errorf("GitHub asks to wait %s (more than %s): %w", wait.Round(time.Second), p.MaxWait, err)
		}
		if dl, ok := ctx.Deadline(); ok && p.Now().Add(wait).After(dl) {
			return fmt.Errorf("GitHub asks to wait %s, past the deadline: %w", wait.Round(time.Second), err)
		}
		if serr := p.Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("wait for GitHub: %w (after %w)", serr, err)
		}
	}
}

func (p Retry) wait(err error, resp *github.Response, attempt int, idempotent bool) (time.Duration, bool) {
	now := p.Now()
	backoff := func(base time.Duration) time.Duration {
		return min(base<<min(attempt, 20), p.MaxWait+time.Second)
	}
	var rle *github.RateLimitError
	if errors.As(err, &rle) {
		if ra := retryAfter(rle.Response, now); ra >= 0 {
			return ra, true
		}
		if !rle.Rate.Reset.Time.IsZero() {
			return max(rle.Rate.Reset.Time.Sub(now)+time.Second, 0), true
		}
		return backoff(p.MinWait), true
	}
	var are *github.AbuseRateLimitError
	if errors.As(err, &are) {
		if are.RetryAfter != nil && *are.RetryAfter > 0 {
			return *are.RetryAfter, true
		}
		return backoff(p.MinWait), true
	}
	var hr *http.Response
	var er *github.ErrorResponse
	switch {
	case errors.As(err, &er) && er.Response != nil:
		hr = er.Response
	case resp != nil && resp.Response != nil:
		hr = resp.Response
	default:
		return 0, false
	}
	switch code := hr.StatusCode; {
	case code == http.StatusTooManyRequests || (code == http.StatusForbidden && (hr.Header.Get("Retry-After") != "" || hr.Header.Get("X-RateLimit-Remaining") == "0")):
		// go-github does not recognise 429.
		wait := time.Duration(-1)
		if ra := retryAfter(hr, now); ra >= 0 {
			wait = ra
		}
		if reset, ok := exhaustedUntil(hr, now); ok {
			wait = max(wait, reset) // go-github refuses to call again before Reset
		}
		if wait < 0 {
			wait = backoff(p.MinWait)
		}
		return wait, true
	case idempotent && code >= 500 && code != http.StatusNotImplemented:
		return backoff(p.ServerErrorWait), true
	}
	return 0, false
}

// retryAfter parses Retry-After (seconds or an HTTP date); -1 when absent.
func retryAfter(r *http.Response, now time.Time) time.Duration {
	if r == nil {
		return -1
	}
	v := r.Header.Get("Retry-After")
	if v == "" {
		return -1
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

// exhaustedUntil is how long until X-RateLimit-Reset (plus a second) when
// X-RateLimit-Remaining is 0.
func exhaustedUntil(r *http.Response, now time.Time) (time.Duration, bool) {
	if r.Header.Get("X-RateLimit-Remaining") != "0" {
		return 0, false
	}
	epoch, err := strconv.ParseInt(r.Header.Get("X-RateLimit-Reset"), 10, 64)
	if err != nil {
		return 0, false
	}
	return max(time.Unix(epoch, 0).Sub(now)+time.Second, 0), true
}
