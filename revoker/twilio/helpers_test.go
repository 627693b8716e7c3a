package twilio_test

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/revoker/twilio/twiliotest"
	"github.com/leakstop/leakstop/secret"
)

// env is a fake Twilio with one active account and a client aimed at it.
type env struct {
	srv     *twiliotest.Server
	c       *twilio.Client
	sid     string
	primary secret.Value
}

func newEnv(t *testing.T, tweak ...func(*twilio.Options)) *env {
	t.Helper()
	srv := twiliotest.NewServer(t)
	opts := srv.Options()
	for _, f := range tweak {
		f(&opts)
	}
	sid, tok := srv.AddAccount(twiliotest.AccountSpec{FriendlyName: "acme"})
	return &env{srv: srv, c: twilio.New(opts), sid: sid, primary: tok}
}

func (e *env) cred() twilio.Credential {
	return twilio.Credential{Username: e.sid, Password: e.primary}
}

func cred(user string, pass secret.Value) twilio.Credential {
	return twilio.Credential{Username: user, Password: pass}
}

// randHex returns 2n random hex digits, for credential-shaped values that
// must not appear as literals.
func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func countCalls(calls []twiliotest.Call, method, path string) int {
	n := 0
	for _, c := range calls {
		if c.Method == method && c.Path == path {
			n++
		}
	}
	return n
}

func accountPath(sid string) string { return "/2010-04-01/Accounts/" + sid + ".json" }
func keysPath(sid string) string    { return "/2010-04-01/Accounts/" + sid + "/Keys.json" }
func keyPath(sid, k string) string  { return "/2010-04-01/Accounts/" + sid + "/Keys/" + k + ".json" }

const (
	secondaryPath = "/v1/AuthTokens/Secondary"
	promotePath   = "/v1/AuthTokens/Promote"
)

func e2s(s string) secret.Value { return secret.New(s) }
