package revoker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/revoker/twilio/twiliotest"
	"github.com/leakstop/leakstop/secret"
)

// actionIndex is the position of the first action named step, or -1.
func actionIndex(it Item, step string) int {
	return slices.IndexFunc(it.Actions, func(a Action) bool { return a.Step == step })
}

// Issue 10, case 1: with two auth-token sinks, the second failing, the
// first gets the account's current token back BEFORE the new secondary it
// holds is deleted; at no moment does it hold a dead token.
func TestFailingTokenSinkRestoredBeforeDelete(t *testing.T) {
	e := newEnv(t)
	e.watch()
	e.sinks["vault"].fail = errors.New("exit status 3")
	res := e.apply(e.revoker(), e.tokenLeak())
	it := itemOf(t, res, KindAuthToken)
	if it.Outcome != OutcomeFailed {
		t.Fatalf("item: %s", dump(it))
	}
	e.checkHeld(t)
	restore, del := actionIndex(it, "restore:"+e.sinks["gh-token"].name), -1
	for i, a := range it.Actions {
		if a.Step == "delete-secondary" && i > actionIndex(it, "create-secondary") {
			del = i
		}
	}
	if restore < 0 || del < 0 || restore > del {
		t.Fatalf("want restore before delete-secondary: %s", dump(it.Actions))
	}
	if h := e.sinks["gh-token"].holding(); !h.Secret.Equal(e.primary) {
		t.Fatal("the sink that took the new token does not hold the current one")
	}
	if p, s := e.fake.Tokens(e.acct); !p.Equal(e.primary) || !s.IsZero() || e.promotions() != 0 {
		t.Fatal("promoted, or left a secondary")
	}
	twiliotest.CheckConformance(t, e.fake.Calls())
}

// Issue 10, case 2: with two api-key sinks, the second failing, the first
// gets the leaked key (still live) back before the replacement it holds
// is deleted.
func TestFailingKeySinkRestoredBeforeDelete(t *testing.T) {
	e := newEnv(t, withOwnerCred)
	e.sinks["vault-key"] = &memSink{name: "command:vault-key", failTimes: 1 << 30}
	e.cfg.Sinks = append(e.cfg.Sinks, SinkConfig{Name: "vault-key", Type: SinkCommand, Kind: KindAPIKey, Command: []string{"vault-put"}})
	e.cfg.Accounts[0].Sinks = append(e.cfg.Accounts[0].Sinks, "vault-key")
	keySID, keySecret := e.fake.AddKey(e.acct, false)
	held := Delivery{AccountSID: e.acct, Kind: KindAPIKey, KeySID: keySID, Secret: keySecret}
	e.sinks["gh-key"].initial, e.sinks["vault-key"].initial = held, held
	e.watch()
	res := e.apply(e.revoker(), Leak{Kind: KindAPIKey, AccountSID: e.acct, KeySID: keySID, Secret: keySecret})
	it := itemOf(t, res, KindAPIKey)
	if it.Outcome != OutcomeFailed || !e.fake.HasKey(e.acct, keySID) {
		t.Fatalf("item: %s", dump(it))
	}
	e.checkHeld(t)
	h := e.sinks["gh-key"].holding()
	if h.KeySID != keySID || !h.Secret.Equal(keySecret) {
		t.Fatalf("sink gh-key holds %s, want the leaked key back", h.KeySID)
	}
	if restore, del := actionIndex(it, "restore:"+e.sinks["gh-key"].name), actionIndex(it, "delete-key"); restore < 0 || del < 0 || restore > del {
		t.Fatalf("want restore before delete-key: %s", dump(it.Actions))
	}
	keys, err := e.client.ListKeys(context.Background(), e.acct, twilioCred(e.acct, e.primary))
	if err != nil || len(keys) != 1 || keys[0].SID != keySID {
		t.Fatalf("the replacement key was not removed: %v %v", keys, err)
	}
	if strings.Contains(strings.Join(it.Todo, "\n"), "put the key in use back") {
		t.Fatalf("left to a person what leakstop could do: %s", dump(it.Todo))
	}
}

// Issue 10, case 3: a run killed during the first verification request
// leaves no rotation; Resume with the report starts it.
func TestResumeStartsWhatTheKilledRunNeverRecorded(t *testing.T) {
	for _, after := range []bool{false, true} {
		e := newEnv(t)
		e.cfg.LockTTL = Duration(300e6)
		e.watch()
		kt := newKillTransport(e, 0, after)
		ctx, cancel := context.WithCancelCause(context.Background())
		kt.kill = cancel
		_, _ = e.revoker(kt.deps(e)).Apply(ctx, []Leak{e.tokenLeak()})
		if !kt.fired() {
			t.Fatal("the run was not killed")
		}
		res, err := e.revoker().Resume(context.Background(), e.tokenLeak())
		if err != nil {
			t.Fatal(err)
		}
		if it := itemOf(t, res, KindAuthToken); it.Outcome != OutcomeRotated {
			t.Fatalf("after=%v: %s", after, dump(it))
		}
		e.assertRotated(e.primary)
		e.checkHeld(t)
	}
}

// Resume names what it could not do: a credential of the report that is
// still live and was not rotated has an item that says why.
func TestResumeReportsWhatRemains(t *testing.T) {
	e := newEnv(t)
	keySID, keySecret := e.fake.AddKey(e.acct, true) // Main, and the config does not allow a Standard replacement
	res, err := e.revoker().Resume(context.Background(), Leak{Kind: KindAPIKey, AccountSID: e.acct, KeySID: keySID, Secret: keySecret})
	if err != nil {
		t.Fatal(err)
	}
	it := itemOf(t, res, KindAPIKey)
	if it.Outcome != OutcomeSkipped || it.Decision != DecisionBlocked || !strings.Contains(it.Reason, "Main key") {
		t.Fatalf("item: %s", dump(it))
	}
}

// Issue 10, case 4: the replacement can do what the leaked key did, and
// no more: Restricted keys keep their policy; Main keys are never
// silently downgraded.
func TestReplacementKeepsKeyTypeAndPolicy(t *testing.T) {
	const policy = `{"allow":["/twilio/messaging/messages/read"]}`
	t.Run("restricted", func(t *testing.T) {
		e := newEnv(t, withOwnerCred)
		keySID, keySecret := e.fake.AddTypedKey(e.acct, twiliotest.KeyRestricted, policy)
		res := e.apply(e.revoker(), Leak{Kind: KindAPIKey, AccountSID: e.acct, KeySID: keySID, Secret: keySecret})
		it := itemOf(t, res, KindAPIKey)
		if it.Outcome != OutcomeRotated {
			t.Fatalf("item: %s", dump(it))
		}
		kt, pol, ok := e.fake.KeyInfo(it.NewKeySID)
		if !ok || kt != twiliotest.KeyRestricted || string(pol) != policy {
			t.Fatalf("replacement: %s %s %v", kt, pol, ok)
		}
		if e.fake.HasKey(e.acct, keySID) {
			t.Fatal("the leaked key survived")
		}
		// Every request (IAM v1 included) as Twilio's OpenAPI files say.
		twiliotest.CheckConformance(t, e.fake.Calls())
	})
	t.Run("standard", func(t *testing.T) {
		e := newEnv(t, withOwnerCred)
		keySID, keySecret := e.fake.AddTypedKey(e.acct, twiliotest.KeyStandard, "")
		res := e.apply(e.revoker(), Leak{Kind: KindAPIKey, AccountSID: e.acct, KeySID: keySID, Secret: keySecret})
		it := itemOf(t, res, KindAPIKey)
		if kt, _, _ := e.fake.KeyInfo(it.NewKeySID); it.Outcome != OutcomeRotated || kt != twiliotest.KeyStandard {
			t.Fatalf("item: %s (%s)", dump(it), kt)
		}
	})
	t.Run("main, not allowed", func(t *testing.T) {
		e := newEnv(t, withOwnerCred)
		keySID, keySecret := e.fake.AddTypedKey(e.acct, twiliotest.KeyMain, "")
		leak := Leak{Kind: KindAPIKey, AccountSID: e.acct, KeySID: keySID, Secret: keySecret}
		p, err := e.revoker().Plan(context.Background(), []Leak{leak})
		if err != nil {
			t.Fatal(err)
		}
		if p.Items[0].Decision != DecisionBlocked || !strings.Contains(p.Items[0].Reason, "Console") || !strings.Contains(p.Items[0].Reason, "replace_main_keys_with_standard") {
			t.Fatalf("plan: %s", dump(p.Items[0]))
		}
		res := e.apply(e.revoker(), leak)
		if it := itemOf(t, res, KindAPIKey); it.Outcome != OutcomeSkipped || it.Decision != DecisionBlocked {
			t.Fatalf("item: %s", dump(it))
		}
		if e.mutations() != 0 || !e.fake.HasKey(e.acct, keySID) {
			t.Fatal("acted on a Main key without the configuration's consent")
		}
	})
	t.Run("main, users need no Main rights", func(t *testing.T) {
		e := newEnv(t, withOwnerCred)
		e.cfg.Accounts[0].ReplaceMainKeysWithStandard = true
		keySID, keySecret := e.fake.AddTypedKey(e.acct, twiliotest.KeyMain, "")
		res := e.apply(e.revoker(), Leak{Kind: KindAPIKey, AccountSID: e.acct, KeySID: keySID, Secret: keySecret})
		it := itemOf(t, res, KindAPIKey)
		kt, _, _ := e.fake.KeyInfo(it.NewKeySID)
		if it.Outcome != OutcomeRotated || kt != twiliotest.KeyStandard || e.fake.HasKey(e.acct, keySID) {
			t.Fatalf("item: %s (%s)", dump(it), kt)
		}
		if !strings.Contains(strings.Join(it.Warnings, "\n"), "Main key") {
			t.Fatalf("the downgrade was not said: %s", dump(it.Warnings))
		}
	})
	t.Run("main, resumed without the assessment", func(t *testing.T) {
		// A killed run left the rotation at its start; the resumed run
		// must find out again that the key is a Main key.
		e := newEnv(t, withOwnerCred)
		e.cfg.LockTTL = Duration(300e6)
		keySID, keySecret := e.fake.AddTypedKey(e.acct, twiliotest.KeyMain, "")
		e.cfg.Accounts[0].ReplaceMainKeysWithStandard = true
		leak := Leak{Kind: KindAPIKey, AccountSID: e.acct, KeySID: keySID, Secret: keySecret}
		rv := e.revoker()
		rv.hook = func(p string) error {
			if p == "state:started" || strings.HasPrefix(p, "key-type:started") {
				return errCrash
			}
			return nil
		}
		if _, err := rv.Apply(context.Background(), []Leak{leak}); !errors.Is(err, errCrash) {
			t.Fatalf("not killed: %v", err)
		}
		e.cfg.Accounts[0].ReplaceMainKeysWithStandard = false
		res, err := e.revoker().Resume(context.Background(), leak)
		if err != nil {
			t.Fatal(err)
		}
		if it := itemOf(t, res, KindAPIKey); it.Outcome != OutcomeFailed || !strings.Contains(it.Error, "Main key") || !e.fake.HasKey(e.acct, keySID) {
			t.Fatalf("item: %s", dump(it))
		}
	})
}

// Issue 10, case 5: a leaked secondary, no credential_env: the probe's
// DELETE is the cut-off. No second DELETE with the dead token, no alarm
// about an "unexpected" secondary; the notification says what happened.
func TestLeakedSecondaryProbeIsTheCutOff(t *testing.T) {
	e := newEnv(t)
	sec := e.fake.SetSecondary(e.acct)
	l := e.tokenLeak()
	l.Secret = sec
	res := e.apply(e.revoker(), l)
	it := itemOf(t, res, KindAuthToken)
	if it.Outcome != OutcomeCutOff || it.LeakedRole != RoleSecondary {
		t.Fatalf("item: %s", dump(it))
	}
	if n := e.calls("DELETE", secondaryPath, 0); n != 1 {
		t.Fatalf("%d DELETEs of the secondary, want 1", n)
	}
	all := strings.Join(append(append([]string(nil), it.Warnings...), it.Todo...), "\n")
	if strings.Contains(all, "unexpected") || strings.Contains(all, "whoever found the leak") {
		t.Fatalf("false alarm: %s", all)
	}
	msgs := e.notes.messages()
	if len(msgs) == 0 {
		t.Fatal("nobody was told")
	}
	m := msgs[len(msgs)-1]
	text := m.Subject + " " + m.What + " " + strings.Join(m.Todo, " ")
	if !strings.Contains(m.What, "was the account's secondary") || !strings.Contains(m.Subject, "cut off") || strings.Contains(text, "unexpected") {
		t.Fatalf("notification: %s", dump(m))
	}
	if p, s := e.fake.Tokens(e.acct); !p.Equal(e.primary) || !s.IsZero() {
		t.Fatal("the primary changed or a secondary is left")
	}
	var _ = secret.Value{}
}
