package ghaction

import (
	"context"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/leakstop/leakstop/internal/ghretry"
)

// defaultMaxWait is the Action's longest single wait: shorter than
// ghretry's, as a job has a time limit.
const defaultMaxWait = 10 * time.Minute

// Retry bounds the retries of a GitHub call that hit a rate limit (403 or
// 429) or, for an idempotent call, a 5xx. The wait is Retry-After when
// GitHub sent it; else, when X-RateLimit-Remaining is 0, until
// X-RateLimit-Reset (plus a second); else MinWait, doubled each attempt.
// A wait longer than MaxWait is not taken: the call fails. The logic is
// internal/ghretry's.
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

// policy is p as a ghretry policy, with the Action's default MaxWait.
func (p Retry) policy() ghretry.Policy {
	if p.MaxWait <= 0 {
		p.MaxWait = defaultMaxWait
	}
	return ghretry.Policy{MaxAttempts: p.MaxAttempts, MinWait: p.MinWait, ServerErrorWait: p.ServerErrorWait, MaxWait: p.MaxWait}
}

// do runs call until it succeeds, fails for good or the attempts run out.
// A rate-limited request was not carried out, so it is always retried; a
// 5xx only when the call is idempotent.
func (p Retry) do(ctx context.Context, idempotent bool, call func(context.Context) (*github.Response, error)) error {
	return p.policy().DoWith(ctx, ghretry.Clock{Now: p.Now, Sleep: p.Sleep}, idempotent, call)
}
