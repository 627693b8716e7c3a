// Package credential names the kinds of credential leakstop finds and
// rotates, so that the scanner's findings, the rules and the revoker's
// input speak of them with one typed vocabulary instead of bare strings.
package credential

// Kind is a kind of credential: the value of a rule's or pair's kind, of
// a finding's Credential and of a revoker Leak's Kind.
type Kind string

// The credential kinds leakstop can verify and rotate.
const (
	// AuthToken is an Account SID (AC…) with its Auth Token.
	AuthToken Kind = "auth-token"
	// APIKey is an API Key SID (SK…) with its secret.
	APIKey Kind = "api-key"
)

// Rotatable reports whether the revoker knows how to verify and rotate k.
func (k Kind) Rotatable() bool { return k == AuthToken || k == APIKey }

// String returns the kind as written in rules files and reports.
func (k Kind) String() string { return string(k) }
