package ghaction

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/leakstop/leakstop/internal/ghretry"
)

// TestRetryAdapter checks what the Reviewer adds to internal/ghretry (whose
// tests hold the rate-limit cases): a 10m default MaxWait, and the Clock's
// Sleep and Now reaching the retry loop.
func TestRetryAdapter(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	limited := func(retryAfter string) error {
		return &github.ErrorResponse{Response: &http.Response{StatusCode: http.StatusTooManyRequests,
			Header: http.Header{"Retry-After": {retryAfter}}, Request: &http.Request{}}}
	}
	var sleeps []time.Duration
	r := &Reviewer{Clock: ghretry.Clock{
		Now: func() time.Time { return now },
		Sleep: func(_ context.Context, d time.Duration) error {
			sleeps = append(sleeps, d)
			return nil
		},
	}}
	if ActionMaxWait != 10*time.Minute {
		t.Fatalf("default MaxWait = %s, want 10m", ActionMaxWait)
	}
	calls := 0
	err := r.retry(context.Background(), false, func(context.Context) (*github.Response, error) {
		calls++
		if calls == 1 {
			return nil, limited("540") // 9m: taken
		}
		return nil, limited("660") // 11m: more than the 10m default
	})
	if calls != 2 || len(sleeps) != 1 || sleeps[0] != 9*time.Minute || err == nil || !strings.Contains(err.Error(), "more than 10m0s") {
		t.Fatalf("calls=%d sleeps=%v err=%v", calls, sleeps, err)
	}
	// A MaxWait that is set is kept, and so are the other fields.
	sleeps, calls = nil, 0
	r.Retry = ghretry.Policy{MaxWait: time.Hour, MaxAttempts: 2}
	err = r.retry(context.Background(), false, func(context.Context) (*github.Response, error) {
		calls++
		return nil, limited("660") // 11m: within the hour
	})
	if calls != 2 || len(sleeps) != 1 || sleeps[0] != 11*time.Minute || err == nil {
		t.Fatalf("policy with MaxWait 1h, MaxAttempts 2: calls=%d sleeps=%v err=%v", calls, sleeps, err)
	}
}
