package notify

import (
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/leakstop/leakstop/secret"
)

// randHex returns 2n random hex digits; credential-shaped values are built
// from it at run time, never written in the source.
func randHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// leak is a generated credential and the message about it.
type leak struct {
	token secret.Value
	msg   Message
}

func newLeak(t testing.TB, repos ...string) leak {
	t.Helper()
	token := secret.New(randHex(t, 16))
	account := "AC" + randHex(t, 16)
	if len(repos) == 0 {
		repos = []string{"acme/app"}
	}
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	m := Message{
		Subject: "Leaked Twilio Auth Token in acme/app",
		What:    "Twilio Auth Token for account " + account + " (Production)",
		Credential: CredentialRef{
			Kind:        "auth-token",
			AccountSID:  account,
			Fingerprint: secret.Hash([]byte("test-key"), token.Reveal()),
			Redacted:    secret.Redact(token.Reveal()),
		},
		Actions: []Action{
			{Step: "verified the credential with Twilio", At: at, Outcome: "valid"},
			{Step: "created a secondary auth token", At: at.Add(time.Second), Outcome: "done"},
			{Step: "delivered it to github-repo:acme/app:TWILIO_AUTH_TOKEN", At: at.Add(2 * time.Second), Outcome: "done"},
			{Step: "promoted the secondary token", At: at.Add(3 * time.Second), Outcome: "done; the leaked token no longer works"},
		},
		Severity: "critical",
	}
	for i, r := range repos {
		m.Locations = append(m.Locations, Location{
			Repo: r, Commit: randHex(t, 20), Path: "config/settings.py", Line: 10 + i,
			URL: "https://github.com/" + r + "/blob/main/config/settings.py#L10",
		})
	}
	return leak{token: token, msg: m}
}
