// Package ghretry retries GitHub API calls that hit a rate limit (as
// GitHub's REST API documentation, "Rate limits for the REST API", describes
// them: Retry-After, x-ratelimit-remaining and x-ratelimit-reset) or, for
// idempotent calls, a 5xx. revoker/sink, revoker/notify and ghaction share it.
package ghretry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/leakstop/leakstop/internal/wait"
)

// Default values of a zero Policy field.
const (
	DefaultMaxAttempts     = 5
	DefaultMinWait         = time.Minute
	DefaultServerErrorWait = time.Second
	DefaultMaxWait         = 15 * time.Minute
)

// Policy bounds the retries of a GitHub API call that hit a rate limit
// (403 or 429) or, for idempotent calls, a 5xx. The zero value uses the
// defaults.
//
// The wait before a retry is, in order: Retry-After when GitHub sent it;
// else, when X-RateLimit-Remaining is 0, until X-RateLimit-Reset (plus a
// second for clock skew); else MinWait doubled on each attempt. A wait
// longer than MaxWait, or one that would pass the context's deadline, is
// not taken: the call fails at once with the rate-limit error.
type Policy struct {
	MaxAttempts     int           // tries in all, default 5
	MinWait         time.Duration // wait for a limit without a hint, default 1m
	ServerErrorWait time.Duration // first wait after a 5xx, default 1s
	MaxWait         time.Duration // longest single wait, default 15m
}

// Clock is what Policy.DoWith reads the time from and waits with; a nil
// field is the real one. Tests replace it.
type Clock struct {
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

func (p Policy) withDefaults() Policy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.MinWait <= 0 {
		p.MinWait = DefaultMinWait
	}
	if p.ServerErrorWait <= 0 {
		p.ServerErrorWait = DefaultServerErrorWait
	}
	if p.MaxWait <= 0 {
		p.MaxWait = DefaultMaxWait
	}
	return p
}

func (c Clock) withDefaults() Clock {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Sleep == nil {
		c.Sleep = wait.Sleep
	}
	return c
}

// Do runs call until it succeeds, fails for good, or the attempts run out.
// A rate-limited request was not carried out, so it is always retried; a
// 5xx only when the call is idempotent, as a failed request may have been
// carried out.
func (p Policy) Do(ctx context.Context, idempotent bool, call func(context.Context) (*github.Response, error)) error {
	return p.DoWith(ctx, Clock{}, idempotent, call)
}

// DoWith is Do with the time read from, and waits taken with, c.
func (p Policy) DoWith(ctx context.Context, c Clock, idempotent bool, call func(context.Context) (*github.Response, error)) error {
	p, c = p.withDefaults(), c.withDefaults()
	for attempt := 0; ; attempt++ {
		resp, err := call(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		wait, retry := p.wait(err, resp, attempt, idempotent, c.Now())
		if !retry || attempt+1 >= p.MaxAttempts {
			return err
		}
		if wait > p.MaxWait {
			return fmt.Errorf("wait %s for GitHub (more than %s): %w", wait.Round(time.Second), p.MaxWait, err)
		}
		if dl, ok := ctx.Deadline(); ok && c.Now().Add(wait).After(dl) {
			return fmt.Errorf("wait %s for GitHub (past the deadline): %w", wait.Round(time.Second), err)
		}
		if serr := c.Sleep(ctx, wait); serr != nil {
			return fmt.Errorf("wait for GitHub: %w (after %w)", serr, err)
		}
	}
}

// wait decides whether err is worth retrying and after how long; p has
// its defaults.
func (p Policy) wait(err error, resp *github.Response, attempt int, idempotent bool, now time.Time) (time.Duration, bool) {
	backoff := func(base time.Duration) time.Duration {
		return min(base<<min(attempt, 20), p.MaxWait+time.Second)
	}
	var rle *github.RateLimitError
	if errors.As(err, &rle) {
		if ra, ok := retryAfter(rle.Response, now); ok {
			return ra, true
		}
		if !rle.Rate.Reset.Time.IsZero() {
			return max(rle.Rate.Reset.Time.Sub(now)+time.Second, 0), true
		}
		return backoff(p.MinWait), true
	}
	var are *github.AbuseRateLimitError
	if errors.As(err, &are) {
		// GitHub: Retry-After if sent; else, with the quota exhausted,
		// X-RateLimit-Reset; else at least a minute, backing off.
		// go-github fills RetryAfter from X-RateLimit-Reset when
		// Retry-After is missing, which GitHub sends on every response:
		// up to an hour away for a limit that is not the quota's.
		if ra, ok := retryAfter(are.Response, now); ok {
			return ra, true
		}
		if are.Response == nil && are.RetryAfter != nil && *are.RetryAfter > 0 {
			return *are.RetryAfter, true
		}
		if are.Response != nil {
			if reset, ok := exhaustedUntil(are.Response, now); ok {
				return reset, true
			}
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
	case code == http.StatusTooManyRequests ||
		(code == http.StatusForbidden && (hr.Header.Get("Retry-After") != "" || hr.Header.Get("X-RateLimit-Remaining") == "0")):
		// go-github does not recognise 429; a 403 with Retry-After or
		// an exhausted quota is a limit it did not classify.
		wait := time.Duration(-1)
		if ra, ok := retryAfter(hr, now); ok {
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

// exhaustedUntil reports how long until X-RateLimit-Reset (plus a second)
// when X-RateLimit-Remaining is 0.
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

// retryAfter is the response's Retry-After header, if it has a valid one.
func retryAfter(r *http.Response, now time.Time) (time.Duration, bool) {
	if r == nil {
		return 0, false
	}
	return wait.RetryAfter(r.Header.Get("Retry-After"), now)
}
