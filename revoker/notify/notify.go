// Package notify tells people that a credential leaked and what leakstop
// did about it: a Slack-compatible webhook (signed with HMAC-SHA256) and a
// GitHub issue in the repository where the leak was found, deduplicated by
// the credential's fingerprint. Render and RenderText turn a Message into
// the Markdown and plain text both use.
//
// A Message has no field for a secret, by design: the credential appears
// only in its redacted form and as a keyed fingerprint. As a safety net the
// renderers also redact any bare 32-hex-digit token (the shape of a Twilio
// auth token) found in free text.
package notify

import (
	"context"
	"github.com/leakstop/leakstop/credential"
	"time"
)

// Message is what a notification says. It never holds a secret.
type Message struct {
	Subject    string        // short title; default from What
	What       string        // e.g. "Twilio Auth Token for account AC… (Production)"
	Credential CredentialRef // which credential, redacted
	Locations  []Location    // where it was found
	Actions    []Action      // what leakstop did and when
	Todo       []string      // what people must do; default by kind
	Severity   string        // e.g. "critical", "high"
}

// CredentialRef identifies a credential without revealing it.
type CredentialRef struct {
	Kind        credential.Kind // credential.AuthToken or credential.APIKey
	AccountSID  string
	KeySID      string // api-key only
	Fingerprint string // keyed hash of the secret (secret.Hash)
	Redacted    string // e.g. "f3a1…[REDACTED]"
}

// Location is one place the credential was found.
type Location struct {
	Repo   string // "owner/repo" (a GitHub URL is accepted too)
	Commit string
	Path   string
	Line   int
	URL    string // optional link to the line
}

// Action is one step leakstop took.
type Action struct {
	Step    string
	At      time.Time
	Outcome string
}

// Notifier sends a Message somewhere people will see it.
type Notifier interface {
	// Name is stable and non-secret, for the audit trail.
	Name() string
	Notify(ctx context.Context, m Message) error
}
