package ghaction

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

// TestRetryAdapter checks what Retry adds to internal/ghretry (whose tests
// hold the rate-limit cases): a 10m default MaxWait, and Sleep and Now
// reaching the retry loop.
func TestRetryAdapter(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	limited := func(retryAfter string) error {
		return &github.ErrorResponse{Response: &http.Response{StatusCode: http.StatusTooManyRequests,
			Header: http.Header{"Retry-After": {retryAfter}}, Request: &http.Request{}}}
	}
	var sleeps []time.Duration
	p := Retry{
		Now: func() time.Time { return now },
		Sleep: func(_ context.Context, d time.Duration) error {
			sleeps = append(sleeps, d)
			return nil
		},
	}
	if got := p.policy().MaxWait; got != 10*time.Minute {
		t.Fatalf("default MaxWait = %s, want 10m", got)
	}
	calls := 0
	err := p.do(context.Background(), false, func(context.Context) (*github.Response, error) {
		calls++
		if calls == 1 {
			return nil, limited("540") // 9m: taken
		}
		return nil, limited("660") // 11m: more than the 10m default
	})
	if calls != 2 || len(sleeps) != 1 || sleeps[0] != 9*time.Minute || err == nil || !strings.Contains(err.Error(), "more than 10m0s") {
		t.Fatalf("calls=%d sleeps=%v err=%v", calls, sleeps, err)
	}
	if got := (Retry{MaxWait: time.Hour, MaxAttempts: 2}).policy(); got.MaxWait != time.Hour || got.MaxAttempts != 2 {
		t.Fatalf("policy = %+v", got)
	}
}
