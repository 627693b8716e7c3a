package wait

import (
	"context"
	"errors"
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
