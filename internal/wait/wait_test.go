package wait

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	if err := Sleep(ctx, 30*time.Millisecond); err != nil || time.Since(start) < 30*time.Millisecond {
		t.Fatalf("Sleep(30ms) = %v after %v", err, time.Since(start))
	}
	if err := Sleep(ctx, 0); err != nil {
		t.Fatalf("Sleep(0) on a live context = %v", err)
	}
	if err := Sleep(ctx, -time.Second); err != nil {
		t.Fatalf("Sleep(<0) on a live context = %v", err)
	}
}

func TestSleepEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Sleep past the deadline = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Sleep returned after %v, not at the deadline", d)
	}
	if err := Sleep(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Sleep(0) on an ended context = %v", err)
	}
	cause := errors.New("lease lost")
	cctx, ccancel := context.WithCancelCause(context.Background())
	ccancel(cause)
	if err := Sleep(cctx, time.Hour); err != cause {
		t.Fatalf("Sleep on a context cancelled with a cause = %v, want the cause", err)
	}
}

// The cases of revoker/twilio's TestParseRetryAfter and internal/ghretry's
// Retry-After cases, on the one parser.
func TestRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	type want struct {
		d  time.Duration
		ok bool
	}
	cases := map[string]want{
		"":     {0, false},
		"3":    {3 * time.Second, true},
		" 2 ":  {2 * time.Second, true},
		"0":    {0, true},
		"-5":   {0, false},
		"soon": {0, false},
		"9999": {9999 * time.Second, true},
		now.Add(7 * time.Second).Format(http.TimeFormat):  {7 * time.Second, true},
		now.Add(-7 * time.Second).Format(http.TimeFormat): {0, true},
		"999999999999": {24 * time.Hour, true},
		now.Add(100 * time.Hour).Format(http.TimeFormat): {24 * time.Hour, true},
	}
	for in, w := range cases {
		if d, ok := RetryAfter(in, now); d != w.d || ok != w.ok {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", in, d, ok, w.d, w.ok)
		}
	}
}
