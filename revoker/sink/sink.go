// Package sink delivers a newly created Twilio credential to the places its
// owner keeps it: a GitHub Actions secret (repository or organisation) or
// an external program that reads it on standard input (a vault CLI, a
// deploy hook). DeliverAll and Multi deliver to several sinks and report
// each one's outcome; a rotation may proceed only when every sink took the
// new value.
//
// The new secret leaves the process only on purpose: sealed for GitHub, or
// on a child's standard input. It never appears in a Sink's name, an
// error, an argument list or an environment.
package sink

import (
	"context"
	"errors"
	"fmt"
	"github.com/leakstop/leakstop/credential"

	"github.com/leakstop/leakstop/secret"
)

// The kinds of credential a Delivery carries.
const (
	KindAuthToken = credential.AuthToken // an account's auth token
	KindAPIKey    = credential.APIKey    // an API key: KeySID plus its secret
)

// Delivery is a new credential to hand to a sink.
type Delivery struct {
	AccountSID string          // the Twilio account
	Kind       credential.Kind // KindAuthToken or KindAPIKey
	KeySID     string          // for KindAPIKey: the new key's SID
	Secret     secret.Value    // the new secret
	RotationID string
}

// Sink is a place a new credential is delivered to.
type Sink interface {
	// Name is stable and non-secret, for the audit trail, e.g.
	// "github-repo:owner/repo:TWILIO_AUTH_TOKEN".
	Name() string
	// Deliver stores d.Secret. It is idempotent: delivering the same value
	// twice is fine.
	Deliver(ctx context.Context, d Delivery) error
}

// ErrInvalidDelivery is wrapped by the error for a Delivery that is not
// complete.
var ErrInvalidDelivery = errors.New("invalid delivery")

// Validate reports what is missing from d.
func (d Delivery) Validate() error {
	switch {
	case d.AccountSID == "":
		return fmt.Errorf("%w: no account SID", ErrInvalidDelivery)
	case d.Kind != KindAuthToken && d.Kind != KindAPIKey:
		return fmt.Errorf("%w: kind %q is neither %q nor %q", ErrInvalidDelivery, d.Kind, KindAuthToken, KindAPIKey)
	case d.Kind == KindAPIKey && d.KeySID == "":
		return fmt.Errorf("%w: an api-key delivery needs the key SID", ErrInvalidDelivery)
	case d.Secret.IsZero():
		return fmt.Errorf("%w: no secret", ErrInvalidDelivery)
	}
	return nil
}
