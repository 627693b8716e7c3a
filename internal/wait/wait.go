// Package wait holds what leakstop's retry loops (GitHub, Twilio, webhooks,
// leases) and the revoker's grace period share: the one context-aware
// sleep, and the one reading of an HTTP Retry-After header.
package wait

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sleep waits for d or until ctx ends, whichever comes first. It returns
// nil when d passed, and context.Cause(ctx) when ctx ended first (which is
// ctx.Err() unless the context was cancelled with a cause). A d of zero or
// less does not wait: it returns what the context says now.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// maxRetryAfter bounds what a Retry-After header can ask for, so that a
// huge number of seconds cannot overflow a time.Duration.
const maxRetryAfter = 24 * time.Hour

// RetryAfter reads an HTTP Retry-After value (RFC 9110 10.2.3): a number
// of seconds, or an HTTP date, which counts from now. ok is false when v is
// empty or not one of these (a negative number, garbage). The wait is at
// most 24h; a date already passed is a wait of 0.
func RetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, int64(maxRetryAfter/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter), true
	}
	return 0, false
}
