package twilio

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/leakstop/leakstop/secret"
)

// Twilio error codes this package acts on (https://www.twilio.com/docs/errors/N).
const (
	CodeAuthenticate    = 20003 // wrong pair, deleted token or key, suspended/closed account, Standard key on /Accounts or /Keys
	CodeTestCredentials = 20008 // test credentials on an endpoint that does not take them
	CodeNotFound        = 20404
	CodeTooManyRequests = 20429
	CodeSecondaryExists = 70002 // secondary Auth Token already exists on the account (observed)
)

// ErrInvalidArgument is wrapped by errors for arguments rejected before any
// request is sent (a malformed SID, an empty password, a long FriendlyName).
var ErrInvalidArgument = errors.New("twilio: invalid argument")

// ErrMalformedResponse is wrapped when a success response cannot be decoded
// (for example XML instead of JSON, or a body that lacks the new secret).
var ErrMalformedResponse = errors.New("twilio: malformed response")

// Error is an error response from Twilio. Error() shows the method, the
// path (which holds SIDs, never secrets), the HTTP status, Twilio's code and
// message. Message is scrubbed of the request's password.
type Error struct {
	HTTPStatus int    // HTTP status of the response
	Code       int    // Twilio error code; 0 when the body was not a Twilio error
	Message    string // Twilio's message, or the HTTP status text
	MoreInfo   string // documentation link sent by Twilio
	Method     string // request method
	Path       string // request path, without query
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("twilio: ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.Path)
	b.WriteString(": HTTP ")
	b.WriteString(strconv.Itoa(e.HTTPStatus))
	if e.Code != 0 {
		b.WriteString(" code ")
		b.WriteString(strconv.Itoa(e.Code))
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// UnknownOutcomeError reports a state-changing request that may or may not
// have been applied by Twilio: a POST that met a 5xx, a timeout, a reset or
// cancellation after it was sent, a POST whose success body was unreadable,
// or a DELETE that ran out of attempts after such a failure. The caller must
// re-read Twilio's state instead of assuming either outcome. Err is the cause.
type UnknownOutcomeError struct {
	Method string
	Path   string
	Err    error
}

func (e *UnknownOutcomeError) Error() string {
	prefix := fmt.Sprintf("twilio: %s %s: ", e.Method, e.Path)
	cause := "unknown cause"
	if e.Err != nil {
		cause = strings.TrimPrefix(e.Err.Error(), prefix)
	}
	return prefix + "outcome unknown, the change may have been applied: " + cause
}

func (e *UnknownOutcomeError) Unwrap() error { return e.Err }

// IsNotFound reports whether err is a 404 from Twilio (code 20404 in
// practice; promote or delete with no secondary, a deleted key).
func IsNotFound(err error) bool {
	e := asError(err)
	return e != nil && e.HTTPStatus == 404
}

// IsAuth reports whether err is Twilio's authentication failure (401, code
// 20003).
func IsAuth(err error) bool {
	e := asError(err)
	return e != nil && e.HTTPStatus == 401 && e.Code == CodeAuthenticate
}

// IsSecondaryExists reports whether err says the account already has a
// secondary Auth Token (400, code 70002).
func IsSecondaryExists(err error) bool {
	e := asError(err)
	return e != nil && e.HTTPStatus == 400 && e.Code == CodeSecondaryExists
}

// IsTestCredentials reports whether err is Twilio refusing test credentials
// (403, code 20008).
func IsTestCredentials(err error) bool {
	e := asError(err)
	return e != nil && e.HTTPStatus == 403 && e.Code == CodeTestCredentials
}

// IsUnknownOutcome reports whether err is (or wraps) an *UnknownOutcomeError.
func IsUnknownOutcome(err error) bool {
	var u *UnknownOutcomeError
	return errors.As(err, &u)
}

func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// cleanMessage prepares a server-supplied message for an *Error: the
// password is removed, control characters are dropped and the length is
// bounded.
func cleanMessage(msg string, pw secret.Value) string {
	msg = secret.Scrub(msg, pw)
	msg = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, msg)
	const max = 300
	if len(msg) > max {
		cut := max
		for cut > 0 && !isRuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "…"
	}
	return strings.TrimSpace(msg)
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
