package revoker

import (
	"github.com/leakstop/leakstop/credential"
	"github.com/leakstop/leakstop/revoker/notify"
	"github.com/leakstop/leakstop/secret"
)

// Credential kinds.
const (
	KindAuthToken = credential.AuthToken
	KindAPIKey    = credential.APIKey
)

// Leak is one leaked credential as the scanner reports it.
type Leak struct {
	// Fingerprint is the scanner's stable content fingerprint, used to
	// refer to the finding in reports and notifications. The store uses its
	// own keyed hash instead.
	Fingerprint string
	Kind        credential.Kind // KindAuthToken or KindAPIKey
	// AccountSID is the account (AC…); for an API key the account if known.
	AccountSID string
	KeySID     string       // SK… for an API key
	Secret     secret.Value // the leaked secret, in memory only
	Test       bool         // looks like Twilio test credentials
	Locations  []Location
}

type (
	// Location is where a credential was found.
	Location = notify.Location
	// CredentialRef names a credential in a notification without revealing it.
	CredentialRef = notify.CredentialRef
	// Action is one thing done about a credential, for people.
	Action = notify.Action
)

// identity is the part of a Leak that identifies the credential: the SID
// it authenticates as and its secret.
func (l Leak) identity() string {
	id := l.AccountSID
	if l.Kind == KindAPIKey {
		id = l.KeySID
	}
	return "leakstop-credential\x00" + string(l.Kind) + "\x00" + id + "\x00" + l.Secret.Reveal()
}

// ref describes the leak for people.
func (l Leak) ref() CredentialRef {
	return CredentialRef{
		Kind: l.Kind, AccountSID: l.AccountSID, KeySID: l.KeySID,
		Fingerprint: l.Fingerprint, Redacted: secret.Redact(l.Secret.Reveal()),
	}
}
