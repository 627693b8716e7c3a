// Package secret holds credential material so that it cannot leak by
// accident: a Value prints as a redaction in every fmt verb, in JSON and in
// logs, and is revealed only by an explicit call.
package secret

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
)

// Value is a secret string. The zero Value is empty.
//
// The string sits behind a pointer: fmt cannot call methods on a Value held
// in an unexported struct field, and would print a string field verbatim;
// a pointer it prints as an address.
type Value struct{ p *string }

// New wraps s.
func New(s string) Value { return Value{p: &s} }

// Reveal returns the secret itself. Call it only where the secret must leave
// the process on purpose (an HTTP Basic password, a sink, --no-redact).
func (s Value) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// IsZero reports whether the value is empty.
func (s Value) IsZero() bool { return s.Reveal() == "" }

// Equal compares two secrets in constant time.
func (s Value) Equal(o Value) bool { return hmac.Equal([]byte(s.Reveal()), []byte(o.Reveal())) }

// String returns the redacted form.
func (s Value) String() string { return Redact(s.Reveal()) }

// GoString returns the redacted form, so %#v does not reveal it.
func (s Value) GoString() string { return "secret.Value(" + Redact(s.Reveal()) + ")" }

// Format makes every fmt verb print the redacted form.
func (s Value) Format(f fmt.State, verb rune) { _, _ = f.Write([]byte(Redact(s.Reveal()))) }

// MarshalText redacts, so encoding/json and friends never write the secret.
func (s Value) MarshalText() ([]byte, error) { return []byte(Redact(s.Reveal())), nil }

// LogValue redacts for log/slog.
func (s Value) LogValue() slog.Value { return slog.StringValue(Redact(s.Reveal())) }

// Redact shows at most the first 4 characters of s and hides the rest, so a
// person can tell secrets apart without learning them. Short values are
// hidden entirely.
func Redact(s string) string {
	if s == "" {
		return ""
	}
	if len(s) < 12 {
		return "*****"
	}
	return s[:4] + "…[REDACTED]"
}

// Hash returns the hex HMAC-SHA256 of s under key: the only form in which a
// secret may be stored.
func Hash(key []byte, s string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))
}
