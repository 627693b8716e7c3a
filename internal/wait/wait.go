// Package wait holds the one context-aware sleep that leakstop's retry
// loops (GitHub, Twilio, webhooks, leases) and the revoker's grace period
// share.
package wait

import (
	"context"
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
