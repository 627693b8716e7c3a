// Package state is leakstop's durable, shared state: the revoker's
// rotations and their steps, verification results, an audit trail, and
// leases that keep at most one rotation per account in flight across
// processes and machines — and the place where later components keep
// theirs (an org scanner's per-repository scan cursors and work queues).
//
// Two backends share one schema and one implementation, differing only
// where the SQL dialects do: SQLite (modernc.org/sqlite, the default, a
// file) and PostgreSQL (pgx through its database/sql adapter, pgx/v5/stdlib,
// with a pool set by Options or DSN parameters). Open picks one from the DSN.
//
// The schema grows only by migrations, applied on Open under a lock, each
// once: the core tables' in this package (schema.go), and those of any
// Schema given in Options.Schemas, versioned apart from the core's. A
// component that needs tables of its own declares a Schema and works on
// them through Store.Tx, which hides the dialects' placeholder and locking
// differences; tables the whole of leakstop shares belong in the core
// schema, with typed methods here.
//
// No secret is ever written here. The types below have no field that could
// hold one; credentials are identified by keyed hashes (HMAC-SHA256 under a
// random key kept in the database, see Store.Hash).
package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/leakstop/leakstop/credential"
	"time"
)

// Store is the durable state of the revoker. All methods are safe for
// concurrent use, also by several processes sharing one database.
type Store interface {
	// Dialect is "sqlite" or "postgres".
	Dialect() string
	// Location describes the database for people, with any password removed.
	Location() string
	// Hash returns the hex HMAC-SHA256 of s under the store's key: the only
	// form in which anything derived from a secret is stored.
	Hash(s string) string

	// CreateRotation inserts r (ID, Fingerprint, Kind, AccountSID required).
	// A fingerprint is rotated at most once ever: if a rotation for it
	// exists, CreateRotation returns that one and an error matching
	// ErrRotationExists.
	CreateRotation(ctx context.Context, r Rotation) (Rotation, error)
	// Rotation returns the rotation with the given ID, or ErrNotFound.
	Rotation(ctx context.Context, id string) (Rotation, error)
	// RotationByFingerprint returns the rotation of a credential, or ErrNotFound.
	RotationByFingerprint(ctx context.Context, fingerprint string) (Rotation, error)
	// Rotations lists rotations, oldest first.
	Rotations(ctx context.Context, f RotationFilter) ([]Rotation, error)
	// UpdateRotation writes r's mutable fields (State, LeakedRole, NewKeySID,
	// NewSecretHash, Attempt, Error, Retryable, FinishedAt) provided the stored state is
	// still from, and appends steps, all in one transaction. It returns
	// ErrConflict if the state moved on.
	UpdateRotation(ctx context.Context, r Rotation, from State, steps ...Step) (Rotation, error)

	// AppendStep records one phase of one step of a rotation.
	AppendStep(ctx context.Context, s Step) (Step, error)
	// Steps lists a rotation's steps in the order they were recorded.
	Steps(ctx context.Context, rotationID string) ([]Step, error)

	// RecordVerification appends a verification result.
	RecordVerification(ctx context.Context, v Verification) (Verification, error)
	// Verifications lists the results for a fingerprint ("" for all), oldest first.
	Verifications(ctx context.Context, fingerprint string) ([]Verification, error)

	// AppendEvent records something that is not a rotation step (a policy
	// decision, a notification sent).
	AppendEvent(ctx context.Context, e Event) (Event, error)
	// Events lists events matching f, oldest first.
	Events(ctx context.Context, f EventFilter) ([]Event, error)

	// Audit returns everything recorded, in time order.
	Audit(ctx context.Context) ([]AuditEntry, error)

	// AcquireLock takes the lease name for owner for ttl. If someone else
	// holds an unexpired lease it returns a *LockedError (errors.Is ErrLocked).
	AcquireLock(ctx context.Context, name, owner string, ttl time.Duration) (Lease, error)
	// RenewLock extends a lease. It returns ErrLockLost if the lease was
	// taken over by someone else after it expired.
	RenewLock(ctx context.Context, l Lease, ttl time.Duration) (Lease, error)
	// ReleaseLock gives a lease up; releasing a lease already lost is not an error.
	ReleaseLock(ctx context.Context, l Lease) error
	// Locks lists the leases currently held (unexpired).
	Locks(ctx context.Context) ([]Lease, error)

	// Tx runs fn in one transaction on the database, for the tables of a
	// Schema given to Open; it commits if fn returns nil.
	Tx(ctx context.Context, fn func(Tx) error) error

	// Close releases the database.
	Close() error
}

// Errors returned by Store methods, matched with errors.Is.
var (
	ErrNotFound       = errors.New("not found")
	ErrRotationExists = errors.New("credential already has a rotation")
	ErrConflict       = errors.New("rotation changed concurrently")
	ErrLocked         = errors.New("locked")
	ErrLockLost       = errors.New("lease lost")
)

// LockedError says who holds a lease.
type LockedError struct {
	Name      string
	Owner     string
	ExpiresAt time.Time
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s is locked by %s until %s", e.Name, e.Owner, e.ExpiresAt.UTC().Format(time.RFC3339))
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Kinds of credential.
const (
	KindAuthToken = credential.AuthToken
	KindAPIKey    = credential.APIKey
)

// Roles of a leaked Auth Token.
const (
	RolePrimary   = "primary"
	RoleSecondary = "secondary"
)

// State is where a rotation stands: the last phase that completed.
type State string

// Rotation states. An Auth Token whose leak was the primary goes
// started → classified → secondary-created → delivered → promoted → done;
// a leaked secondary goes started → classified → done; an API key goes
// started → key-created → delivered → leaked-deleted → done. Failed is the
// end of an attempt that could not finish; a later apply may start a new
// attempt.
const (
	StateStarted          State = "started"
	StateClassified       State = "classified"
	StateSecondaryCreated State = "secondary-created"
	StateKeyCreated       State = "key-created"
	StateDelivered        State = "delivered"
	StatePromoted         State = "promoted"
	StateLeakedDeleted    State = "leaked-deleted"
	StateDone             State = "done"
	StateFailed           State = "failed"
)

// Terminal reports whether no further step is planned.
func (s State) Terminal() bool { return s == StateDone || s == StateFailed }

// Rotation is one credential's rotation.
type Rotation struct {
	ID          string          `json:"id"`
	Fingerprint string          `json:"fingerprint"` // keyed hash of the leaked credential
	Kind        credential.Kind `json:"kind"`
	AccountSID  string          `json:"account_sid"`
	KeySID      string          `json:"key_sid,omitempty"`
	State       State           `json:"state"`
	// LeakedRole is RolePrimary or RoleSecondary once known (Auth Token).
	LeakedRole string `json:"leaked_role,omitempty"`
	// NewKeySID is the replacement API key.
	NewKeySID string `json:"new_key_sid,omitempty"`
	// NewSecretHash is the keyed hash of the new token or key secret, so that
	// a later run can recognise it; the secret itself is never stored.
	NewSecretHash string `json:"new_secret_hash,omitempty"`
	Attempt       int    `json:"attempt"`
	Error         string `json:"error,omitempty"`
	// Retryable says a failed rotation may start a new attempt (the cause
	// is one a person can fix by configuration: a sink, a credential).
	Retryable  bool      `json:"retryable,omitempty"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// RotationFilter selects rotations; zero fields match everything.
type RotationFilter struct {
	AccountSID string
	// InFlight selects rotations whose state is not terminal.
	InFlight bool
	States   []State
}

// Phase is where a step stands.
type Phase string

// Step phases: every step is recorded before it runs and after.
const (
	PhaseStarted Phase = "started"
	PhaseDone    Phase = "done"
	PhaseFailed  Phase = "failed"
)

// Step is one phase of one step of a rotation.
type Step struct {
	ID         int64           `json:"id"`
	RotationID string          `json:"rotation_id"`
	Attempt    int             `json:"attempt"`
	Name       string          `json:"step"`
	Phase      Phase           `json:"phase"`
	Detail     json.RawMessage `json:"detail,omitempty"` // JSON object; never a secret
	At         time.Time       `json:"at"`
	Actor      string          `json:"actor"` // user@host pid N
}

// Verification statuses.
const (
	StatusLive    = "live"
	StatusDead    = "dead"
	StatusUnknown = "unknown"
	StatusTest    = "test"
)

// Verification is the result of checking one credential against Twilio.
type Verification struct {
	ID          int64           `json:"id"`
	Fingerprint string          `json:"fingerprint"`
	Kind        credential.Kind `json:"kind"`
	AccountSID  string          `json:"account_sid,omitempty"`
	KeySID      string          `json:"key_sid,omitempty"`
	Status      string          `json:"status"`
	Detail      string          `json:"detail,omitempty"`
	At          time.Time       `json:"at"`
	Actor       string          `json:"actor"`
}

// Event is a recorded decision or action outside a rotation's steps.
type Event struct {
	ID          int64           `json:"id"`
	At          time.Time       `json:"at"`
	Actor       string          `json:"actor"`
	Fingerprint string          `json:"fingerprint,omitempty"`
	RotationID  string          `json:"rotation_id,omitempty"`
	Kind        string          `json:"kind"`
	Detail      json.RawMessage `json:"detail,omitempty"`
}

// EventFilter selects events; zero fields match everything.
type EventFilter struct {
	Fingerprint string
	Kind        string
}

// Lease is a held lock.
type Lease struct {
	Name       string    `json:"name"`
	Owner      string    `json:"owner"`
	Token      string    `json:"-"` // identifies this acquisition
	AcquiredAt time.Time `json:"acquired_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// AuditEntry is one line of the audit trail.
type AuditEntry struct {
	At          time.Time       `json:"at"`
	Type        string          `json:"type"` // rotation, step, verification, event
	Actor       string          `json:"actor,omitempty"`
	RotationID  string          `json:"rotation_id,omitempty"`
	Fingerprint string          `json:"fingerprint,omitempty"`
	Kind        credential.Kind `json:"kind,omitempty"`
	AccountSID  string          `json:"account_sid,omitempty"`
	KeySID      string          `json:"key_sid,omitempty"`
	Attempt     int             `json:"attempt,omitempty"`
	Step        string          `json:"step,omitempty"`
	Event       string          `json:"event,omitempty"`
	Phase       string          `json:"phase,omitempty"`
	Status      string          `json:"status,omitempty"`
	Detail      json.RawMessage `json:"detail,omitempty"`
	seq         int64
	order       int
}
