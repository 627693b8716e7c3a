package revoker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/leakstop/leakstop/credential"
	"io"
	"log/slog"
	"os"
	"os/user"
	"slices"
	"strings"
	"time"

	"github.com/leakstop/leakstop/internal/wait"
	"github.com/leakstop/leakstop/revoker/notify"
	"github.com/leakstop/leakstop/revoker/sink"
	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/secret"
	"github.com/leakstop/leakstop/state"
)

// TwilioAPI is the part of *twilio.Client the revoker uses; tests may
// substitute it.
type TwilioAPI interface {
	Verify(ctx context.Context, accountSID string, cred twilio.Credential) twilio.Verification
	CreateSecondaryAuthToken(ctx context.Context, cred twilio.Credential) (*twilio.SecondaryAuthToken, error)
	DeleteSecondaryAuthToken(ctx context.Context, cred twilio.Credential) error
	PromoteSecondaryAuthToken(ctx context.Context, cred twilio.Credential) (*twilio.AuthTokenPromotion, error)
	FetchKey(ctx context.Context, accountSID, keySID string, cred twilio.Credential) (*twilio.Key, error)
	ListKeys(ctx context.Context, accountSID string, cred twilio.Credential) ([]twilio.Key, error)
	CreateKey(ctx context.Context, accountSID, friendlyName string, cred twilio.Credential) (*twilio.NewKey, error)
	DeleteKey(ctx context.Context, accountSID, keySID string, cred twilio.Credential) error
	FetchIAMKey(ctx context.Context, keySID string, cred twilio.Credential) (*twilio.IAMKey, error)
	CreateIAMKey(ctx context.Context, accountSID, friendlyName, keyType string, policy json.RawMessage, cred twilio.Credential) (*twilio.NewIAMKey, error)
}

var _ TwilioAPI = (*twilio.Client)(nil)

// Sinks and notifiers are those of packages sink and notify.
type (
	// Delivery is a new secret for a sink.
	Delivery = sink.Delivery
	// Sink receives new secrets.
	Sink = sink.Sink
	// Message is a notification for people; it never holds a secret.
	Message = notify.Message
	// Notifier tells people.
	Notifier = notify.Notifier
)

// Severities of a Message.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// ReadinessCheck is what a readiness probe is asked about.
type ReadinessCheck struct {
	AccountSID string
	Kind       credential.Kind
	NewKeySID  string
	RotationID string
}

// Deps are the revoker's collaborators.
type Deps struct {
	Store  state.Store // required
	Twilio TwilioAPI   // required
	// Sinks and Notifiers by configured name (see Config.Build).
	Sinks     map[string]Sink
	Notifiers map[string]Notifier
	// Getenv reads credential_env variables (required: main passes
	// os.Getenv; the revoker reads no environment of its own).
	Getenv func(string) string
	// Actor names this run in the store (user@host pid N); default computed.
	Actor string
	// Log receives progress; nothing secret is logged. Default: discard.
	Log *slog.Logger
	// Sleep waits (grace period, confirmation back-off); default a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Readiness replaces running Config.Readiness.Command, if set.
	Readiness func(ctx context.Context, c ReadinessCheck) error
}

// Revoker verifies and rotates leaked credentials. It is safe for
// concurrent use; several Revokers (processes, machines) may share a store.
type Revoker struct {
	cfg Config
	d   Deps
	// hook, for tests, is called at every recorded point of a rotation; an
	// error aborts the run on the spot, as a kill would.
	hook func(point string) error
	// confirmDelays are the waits between confirmation attempts.
	confirmDelays []time.Duration
}

// New checks cfg and deps and returns a Revoker.
func New(cfg Config, deps Deps) (*Revoker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("check config: %w", err)
	}
	if deps.Store == nil || deps.Twilio == nil || deps.Getenv == nil {
		return nil, errors.New("new revoker: Store, Twilio and Getenv are required")
	}
	cfg = cfg.withDefaults()
	if deps.Actor == "" {
		deps.Actor = Actor()
	}
	if deps.Log == nil {
		deps.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if deps.Sleep == nil {
		deps.Sleep = wait.Sleep
	}
	return &Revoker{
		cfg: cfg, d: deps,
		confirmDelays: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second},
	}, nil
}

// Config returns the configuration in effect (with defaults).
func (rv *Revoker) Config() Config { return rv.cfg }

// Actor names this process for the audit trail: user@host pid N.
func Actor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s@%s pid %d", name, host, os.Getpid())
}

// ownerSecret returns the account's trusted credential from credential_env,
// or zero.
func (rv *Revoker) ownerSecret(acct *AccountConfig) secret.Value {
	if acct == nil || acct.CredentialEnv == "" {
		return secret.Value{}
	}
	return secret.New(strings.TrimSpace(rv.d.Getenv(acct.CredentialEnv)))
}

// sinksFor returns the account's sinks that hold credentials of this kind
// (and, for API keys, of this leaked key), and the names configured but not
// available.
func (rv *Revoker) sinksFor(acct *AccountConfig, kind credential.Kind, leakedKeySID string) (sinks []Sink, missing []string) {
	if acct == nil {
		return nil, nil
	}
	for _, name := range acct.Sinks {
		var sc *SinkConfig
		for i := range rv.cfg.Sinks {
			if rv.cfg.Sinks[i].Name == name {
				sc = &rv.cfg.Sinks[i]
			}
		}
		if sc == nil || sc.Kind != kind {
			continue
		}
		if kind == KindAPIKey && len(sc.KeySIDs) > 0 && !containsFold(sc.KeySIDs, leakedKeySID) {
			continue
		}
		s, ok := rv.d.Sinks[name]
		if !ok || s == nil {
			missing = append(missing, name)
			continue
		}
		sinks = append(sinks, s)
	}
	return sinks, missing
}

// notifiersFor returns the account's notifiers (all when the account names
// none, or for accounts not configured).
func (rv *Revoker) notifiersFor(acct *AccountConfig) []Notifier {
	var names []string
	if acct != nil && len(acct.Notifiers) > 0 {
		names = acct.Notifiers
	} else {
		for _, n := range rv.cfg.Notifiers {
			names = append(names, n.Name)
		}
		if len(rv.cfg.Notifiers) == 0 {
			for n := range rv.d.Notifiers {
				names = append(names, n)
			}
			slices.Sort(names)
		}
	}
	var out []Notifier
	for _, n := range names {
		if nt, ok := rv.d.Notifiers[n]; ok && nt != nil {
			out = append(out, nt)
		}
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
