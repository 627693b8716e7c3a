package twilio

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/leakstop/leakstop/internal/wait"
	"github.com/leakstop/leakstop/secret"
)

// do runs rq with bounded retries (see the package comment for the policy)
// and makes sure the returned error does not reveal the password.
func (c *Client) do(ctx context.Context, rq *request) error {
	return secret.ScrubError(c.retry(ctx, rq), rq.cred.Password)
}

func (c *Client) retry(ctx context.Context, rq *request) error {
	if c.initErr != nil {
		return c.initErr
	}
	if err := rq.cred.validate(); err != nil {
		return err
	}
	post := rq.method == http.MethodPost
	// mayHaveApplied: an earlier attempt of a state-changing call may have
	// reached Twilio and been applied.
	mayHaveApplied := false
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return c.canceled(rq, err, mayHaveApplied)
		}
		r := c.attempt(ctx, rq)
		switch r.kind {
		case failNone:
			return nil
		case failFinal:
			return r.err
		case failCanceled:
			return c.canceled(rq, r.err, mayHaveApplied || r.sent)
		case failUnreadable:
			if post {
				return c.unknown(rq, r.err)
			}
			return r.err
		case failAmbiguous:
			if post {
				return c.unknown(rq, r.err)
			}
			mayHaveApplied = mayHaveApplied || rq.method != http.MethodGet
		case failNotSent, failThrottled:
			// Not processed by Twilio: retry whatever the method.
		}
		if attempt >= c.maxRetries {
			err := fmt.Errorf("%w (gave up after %d attempts)", r.err, attempt+1)
			if mayHaveApplied {
				return c.unknown(rq, err)
			}
			return err
		}
		if err := wait.Sleep(ctx, c.backoff(attempt, r.retryAfter)); err != nil {
			return c.canceled(rq, err, mayHaveApplied)
		}
	}
}

func (c *Client) unknown(rq *request, err error) error {
	return &UnknownOutcomeError{Method: rq.method, Path: rq.path, Err: err}
}

func (c *Client) canceled(rq *request, err error, mayHaveApplied bool) error {
	if mayHaveApplied && rq.method != http.MethodGet {
		return c.unknown(rq, err)
	}
	return fmt.Errorf("twilio: %s %s: %w", rq.method, rq.path, err)
}

// backoff is the wait before retry number attempt+1: Retry-After when
// Twilio gave one, otherwise full jitter over an exponentially growing
// ceiling; both capped at MaxBackoff.
func (c *Client) backoff(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, c.maxBackoff)
	}
	ceil := c.minBackoff
	for i := 0; i < attempt && ceil < c.maxBackoff; i++ {
		ceil *= 2
	}
	ceil = min(ceil, c.maxBackoff)
	return rand.N(ceil + 1)
}
