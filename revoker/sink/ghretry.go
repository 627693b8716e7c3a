package sink

import (
	"context"

	"github.com/google/go-github/v60/github"

	"github.com/leakstop/leakstop/internal/ghretry"
)

// GitHubRetry bounds the retries of a GitHub API call that hit a rate
// limit (403 or 429) or, for idempotent calls, a 5xx. The zero value uses
// the defaults.
//
// The wait before a retry is, in order: Retry-After when GitHub sent it;
// else, when X-RateLimit-Remaining is 0, until X-RateLimit-Reset (plus a
// second for clock skew); else MinWait doubled on each attempt. A wait
// longer than MaxWait, or one that would pass the context's deadline, is
// not taken: the call fails at once with the rate-limit error.
//
// It is internal/ghretry's Policy, shared with the other GitHub callers.
type GitHubRetry ghretry.Policy

// do runs call until it succeeds, fails for good, or the attempts run out;
// only idempotent calls are retried after a 5xx.
func (p GitHubRetry) do(ctx context.Context, idempotent bool, call func(context.Context) (*github.Response, error)) error {
	return ghretry.Policy(p).Do(ctx, idempotent, call)
}
