package revoker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/revoker/twilio/twiliotest"
	"github.com/leakstop/leakstop/secret"
	"github.com/leakstop/leakstop/state/storetest"
)

// echoSink fails with an error that quotes the secret it was given, as a
// careless sink might.
type echoSink struct{ memSink }

func (s *echoSink) Deliver(_ context.Context, d Delivery) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, d)
	return fmt.Errorf("backend refused value %q", d.Secret.Reveal())
}

// TestNoSecretWritten runs every kind of outcome and then searches all the
// bytes leakstop wrote — results, plan, status, audit, logs, notifications
// and the whole store — for every secret, leaked or new, and for unkeyed
// hashes of them. None may appear.
func TestNoSecretWritten(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			e := newEnv(t, withBackend(b), withOwnerCred)
			ctx := context.Background()
			keySID, keySecret := e.fake.AddKey(e.acct, false)
			sidB, primB := e.fake.AddAccount(twiliotest.AccountSpec{FriendlyName: "staging"})
			strangerSID, strangerTok := e.fake.AddAccount(twiliotest.AccountSpec{})
			testSID, testTok := e.fake.AddAccount(twiliotest.AccountSpec{Test: true})
			e.tokenEnv["TWILIO_B"] = primB.Reveal()
			e.cfg.Accounts = append(e.cfg.Accounts, AccountConfig{SID: sidB, Name: "staging", CredentialEnv: "TWILIO_B", Sinks: []string{"good-b", "bad-b"}})
			e.cfg.Sinks = append(e.cfg.Sinks,
				SinkConfig{Name: "good-b", Type: SinkCommand, Command: []string{"x"}},
				SinkConfig{Name: "bad-b", Type: SinkCommand, Command: []string{"y"}})
			e.sinks["good-b"] = &memSink{name: "command:good-b"}
			bad := &echoSink{memSink{name: "command:bad-b"}}
			leaks := []Leak{
				e.tokenLeak(),
				{Fingerprint: "fp-key", Kind: KindAPIKey, AccountSID: e.acct, KeySID: keySID, Secret: keySecret},
				{Fingerprint: "fp-b", Kind: KindAuthToken, AccountSID: sidB, Secret: primB},
				{Fingerprint: "fp-stranger", Kind: KindAuthToken, AccountSID: strangerSID, Secret: strangerTok},
				{Fingerprint: "fp-test", Kind: KindAuthToken, AccountSID: testSID, Secret: testTok},
			}
			var out bytes.Buffer
			mk := func() *Revoker {
				return e.revoker(func(d *Deps) { d.Sinks["bad-b"] = bad })
			}

			e.cfg.Mode = ModePlan
			plan, err := mk().Plan(ctx, leaks)
			if err != nil {
				t.Fatal(err)
			}
			must(t, plan.WriteText(&out))
			must(t, plan.WriteJSON(&out))

			e.cfg.Mode = ModeApply
			rv := mk()
			res, err := rv.Apply(ctx, leaks)
			if err != nil {
				t.Fatal(err)
			}
			must(t, res.WriteText(&out))
			must(t, res.WriteJSON(&out))
			fmt.Fprintf(&out, "%+v\n%#v\n", res, res)
			outcomes := map[string]string{}
			for _, it := range res.Items {
				outcomes[it.Fingerprint] = it.Outcome
			}
			want := map[string]string{"fp-" + e.primary.Reveal()[:6]: OutcomeRotated, "fp-key": OutcomeRotated, "fp-b": OutcomeFailed, "fp-stranger": OutcomeReported, "fp-test": OutcomeSkipped}
			for fp, o := range want {
				if outcomes[fp] != o {
					t.Errorf("%s: outcome %q, want %q", fp, outcomes[fp], o)
				}
			}
			res2, err := rv.Resume(ctx, leaks...)
			if err != nil {
				t.Fatal(err)
			}
			must(t, res2.WriteJSON(&out))
			st, err := rv.Status(ctx)
			if err != nil {
				t.Fatal(err)
			}
			must(t, WriteStatusText(&out, st))
			must(t, writeJSON(&out, st))
			must(t, rv.Audit(ctx, &out))
			out.WriteString(e.logs.String())
			for _, m := range e.notes.messages() {
				j, _ := json.Marshal(m)
				out.Write(j)
				fmt.Fprintf(&out, "%+v %#v\n", m, m)
			}
			out.Write(storetest.Dump(t, e.dsn))

			// Every secret there was.
			newPrimary, _ := e.fake.Tokens(e.acct)
			newKey, _ := e.sinks["gh-key"].last()
			secrets := map[string]secret.Value{
				"leaked primary": e.primary, "new primary": newPrimary, "leaked key": keySecret,
				"new key": newKey.Secret, "account B token": primB, "stranger token": strangerTok, "test token": testTok,
			}
			for i, d := range bad.got {
				secrets[fmt.Sprint("B secondary ", i)] = d.Secret
			}
			for i, d := range e.sinks["good-b"].got {
				secrets[fmt.Sprint("B delivered ", i)] = d.Secret
			}
			if newPrimary.Equal(e.primary) || newKey.Secret.IsZero() || len(bad.got) == 0 {
				t.Fatal("the scenario did not run as intended")
			}
			hay := out.String()
			if len(hay) < 10000 {
				t.Fatalf("suspiciously little output: %d bytes", len(hay))
			}
			for name, s := range secrets {
				v := s.Reveal()
				sum := sha256.Sum256([]byte(v))
				for form, needle := range map[string]string{"plain": v, "sha256": hex.EncodeToString(sum[:])} {
					if strings.Contains(hay, needle) {
						i := strings.Index(hay, needle)
						t.Errorf("%s (%s) written: …%s…", name, form, strings.ReplaceAll(hay[max(0, i-80):i], v, "<SECRET>"))
					}
				}
			}
			// The careless sink's error is kept, scrubbed.
			if !strings.Contains(hay, "backend refused value") || !strings.Contains(hay, "[REDACTED]") {
				t.Error("the sink's error was not reported")
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
