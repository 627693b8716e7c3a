package revoker

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/revoker/twilio/twiliotest"
	"github.com/leakstop/leakstop/state"
)

func TestPrimaryLeaked(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []envOpt
	}{
		{"owner credential", []envOpt{withOwnerCred}},
		{"leaked credential only", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts...)
			res := e.apply(e.revoker(), e.tokenLeak())
			it := itemOf(t, res, KindAuthToken)
			if it.Outcome != OutcomeRotated || it.LeakedRole != RolePrimary || it.State != string(state.StateDone) {
				t.Fatalf("item: %s", dump(it))
			}
			e.assertRotated(e.primary)
			msgs := e.notes.messages()
			if len(msgs) != 2 || msgs[0].Severity != SeverityCritical || msgs[1].Severity != SeverityInfo {
				t.Fatalf("notifications: %s", dump(msgs))
			}
			if msgs[1].Credential.AccountSID != e.acct || len(msgs[1].Locations) != 1 || len(msgs[1].Actions) == 0 {
				t.Fatalf("notification content: %s", dump(msgs[1]))
			}
			// Never again.
			res = e.apply(e.revoker(), e.tokenLeak())
			if it := itemOf(t, res, KindAuthToken); it.Outcome != OutcomeSkipped && it.Outcome != OutcomeAlreadyRotated {
				t.Fatalf("second apply: %s", dump(it))
			}
			if n := e.calls("POST", promotePath, 200); n != 1 {
				t.Fatalf("%d promotions after a second apply", n)
			}
		})
	}
}

func TestSecondaryLeaked(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []envOpt
	}{
		{"owner credential", []envOpt{withOwnerCred}},
		{"leaked credential only", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts...)
			sec := e.fake.SetSecondary(e.acct)
			l := e.tokenLeak()
			l.Secret = sec
			res := e.apply(e.revoker(), l)
			it := itemOf(t, res, KindAuthToken)
			if it.Outcome != OutcomeCutOff || it.LeakedRole != RoleSecondary {
				t.Fatalf("item: %s", dump(it))
			}
			primary, secondary := e.fake.Tokens(e.acct)
			if !primary.Equal(e.primary) || !secondary.IsZero() || e.fake.Authenticates(e.acct, sec) {
				t.Fatal("the leaked secondary was not cut off, or the primary changed")
			}
			if e.calls("POST", "/v1/AuthTokens", 0) != 0 {
				t.Fatal("created or promoted a token for a leaked secondary")
			}
			if e.sinks["gh-token"].count() != 0 {
				t.Fatal("delivered something for a leaked secondary")
			}
		})
	}
}

func TestStrangersSecondary(t *testing.T) {
	e := newEnv(t)
	stranger := e.fake.SetSecondary(e.acct)
	res := e.apply(e.revoker(), e.tokenLeak())
	it := itemOf(t, res, KindAuthToken)
	if it.Outcome != OutcomeRotated {
		t.Fatalf("item: %s", dump(it))
	}
	e.assertRotated(e.primary)
	if e.fake.Authenticates(e.acct, stranger) {
		t.Fatal("the stranger's secondary still authenticates")
	}
	if !strings.Contains(strings.Join(it.Warnings, "\n"), "unexpected secondary") || !strings.Contains(strings.Join(it.Todo, "\n"), "unexpected secondary") {
		t.Fatalf("the unexpected secondary was not reported: %s", dump(it))
	}
}

func TestAPIKeyLeaked(t *testing.T) {
	for _, tc := range []struct {
		name     string
		main     bool
		owner    bool
		acctHint bool
	}{
		{"standard key, owner credential", false, true, true},
		{"standard key, account unknown", false, true, false},
		{"main key, no owner credential, users need no Main rights", true, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []envOpt
			if tc.owner {
				opts = append(opts, withOwnerCred)
			}
			e := newEnv(t, opts...)
			e.cfg.Accounts[0].ReplaceMainKeysWithStandard = tc.main
			keySID, keySecret := e.fake.AddKey(e.acct, tc.main)
			l := Leak{Fingerprint: "fp-key", Kind: KindAPIKey, KeySID: keySID, Secret: keySecret}
			if tc.acctHint {
				l.AccountSID = e.acct
			}
			res := e.apply(e.revoker(), l)
			it := itemOf(t, res, KindAPIKey)
			if it.Outcome != OutcomeRotated || it.NewKeySID == "" || it.AccountSID != e.acct {
				t.Fatalf("item: %s", dump(it))
			}
			if e.fake.HasKey(e.acct, keySID) || e.fake.Authenticates(keySID, keySecret) {
				t.Fatal("the leaked key survived")
			}
			d, ok := e.sinks["gh-key"].last()
			if !ok || d.Kind != KindAPIKey || d.KeySID != it.NewKeySID || !e.fake.HasKey(e.acct, it.NewKeySID) || !e.fake.Authenticates(d.KeySID, d.Secret) {
				t.Fatalf("the sink does not hold the live replacement: %s", dump(d))
			}
			if e.sinks["gh-token"].count() != 0 {
				t.Fatal("an api-key delivery went to an auth-token sink")
			}
			if p, _ := e.fake.Tokens(e.acct); !p.Equal(e.primary) {
				t.Fatal("rotating a key changed the Auth Token")
			}
		})
	}
}

func TestStandardKeyWithoutOwnerIsUnverifiable(t *testing.T) {
	e := newEnv(t)
	keySID, keySecret := e.fake.AddKey(e.acct, false)
	res := e.apply(e.revoker(), Leak{Kind: KindAPIKey, AccountSID: e.acct, KeySID: keySID, Secret: keySecret})
	// Without the owner's credential a Standard key cannot even be verified.
	if it := itemOf(t, res, KindAPIKey); it.Outcome != OutcomeSkipped || it.Decision != DecisionUnknown {
		t.Fatalf("item: %s", dump(it))
	}
	if e.mutations() != 0 {
		t.Fatal("acted on an unverifiable key")
	}
}

func TestPolicyLeavesOthersAlone(t *testing.T) {
	e := newEnv(t)
	testSID, testTok := e.fake.AddAccount(twiliotest.AccountSpec{Test: true})
	strangerSID, strangerTok := e.fake.AddAccount(twiliotest.AccountSpec{FriendlyName: "not ours"})
	deadSID, deadTok := e.fake.AddAccount(twiliotest.AccountSpec{})
	e.fake.SetStatus(deadSID, "closed")
	labelled := e.tokenLeak()
	labelled.AccountSID, labelled.Secret, labelled.Test = testSID, testTok, false
	stranger := Leak{Fingerprint: "fp-stranger", Kind: KindAuthToken, AccountSID: strangerSID, Secret: strangerTok}
	dead := Leak{Fingerprint: "fp-dead", Kind: KindAuthToken, AccountSID: deadSID, Secret: deadTok}
	noSID := Leak{Fingerprint: "fp-nosid", Kind: KindAuthToken, Secret: strangerTok}

	res := e.apply(e.revoker(), labelled, stranger, dead, noSID)
	want := map[string][2]string{
		testSID:     {DecisionTest, OutcomeSkipped},
		strangerSID: {DecisionNotOwned, OutcomeReported},
		deadSID:     {DecisionDead, OutcomeSkipped},
		"":          {DecisionUnknown, OutcomeSkipped},
	}
	for _, it := range res.Items {
		w, ok := want[it.AccountSID]
		if !ok || it.Decision != w[0] || it.Outcome != w[1] {
			t.Errorf("%s: decision %s outcome %s, want %v", it.AccountSID, it.Decision, it.Outcome, w)
		}
	}
	if e.mutations() != 0 {
		t.Fatalf("policy-skipped credentials caused %d mutating calls", e.mutations())
	}
	msgs := e.notes.messages()
	if len(msgs) != 1 || msgs[0].Credential.AccountSID != strangerSID {
		t.Fatalf("want one notification about the stranger's account: %s", dump(msgs))
	}
	// Reported once, not on every run.
	e.apply(e.revoker(), stranger)
	if len(e.notes.messages()) != 1 {
		t.Fatal("the unowned credential was notified again")
	}
}

func TestUnknownVerification(t *testing.T) {
	e := newEnv(t)
	e.fake.Inject(twiliotest.Fault{Method: "GET", PathPrefix: accountsPath, Status: 500})
	res := e.apply(e.revoker(), e.tokenLeak())
	if it := itemOf(t, res, KindAuthToken); it.Decision != DecisionUnknown || it.Outcome != OutcomeSkipped || it.Detail == "" {
		t.Fatalf("item: %s", dump(it))
	}
	if e.mutations() != 0 {
		t.Fatal("acted on an unknown verification")
	}
}

func TestSinkFailure(t *testing.T) {
	e := newEnv(t, withOwnerCred)
	e.sinks["vault"].fail = errors.New("vault sealed")
	res := e.apply(e.revoker(), e.tokenLeak())
	it := itemOf(t, res, KindAuthToken)
	if it.Outcome != OutcomeFailed || !strings.Contains(it.Error, "vault sealed") || res.OK() {
		t.Fatalf("item: %s", dump(it))
	}
	if e.calls("POST", promotePath, 0) != 0 {
		t.Fatal("promoted after a sink failure")
	}
	primary, secondary := e.fake.Tokens(e.acct)
	if !primary.Equal(e.primary) || !secondary.IsZero() {
		t.Fatal("the secondary was not deleted after the sink failure")
	}
	// The sink that took the deleted token got the current one back.
	if d, _ := e.sinks["gh-token"].last(); !d.Secret.Equal(e.primary) {
		t.Fatal("the sink that acknowledged was not restored")
	}
	msgs := e.notes.messages()
	if len(msgs) == 0 || msgs[len(msgs)-1].Severity != SeverityCritical || !strings.Contains(msgs[len(msgs)-1].Subject, "FAILED") {
		t.Fatalf("failure not notified: %s", dump(msgs))
	}
	// Fixed sink, next apply: a new attempt rotates.
	e.sinks["vault"].fail = nil
	res = e.apply(e.revoker(), e.tokenLeak())
	if it := itemOf(t, res, KindAuthToken); it.Outcome != OutcomeRotated {
		t.Fatalf("retry: %s", dump(it))
	}
	e.assertRotated(e.primary)
}

func TestAPIKeySinkFailure(t *testing.T) {
	e := newEnv(t, withOwnerCred)
	keySID, keySecret := e.fake.AddKey(e.acct, false)
	e.sinks["gh-key"].fail = errors.New("github down")
	res := e.apply(e.revoker(), Leak{Kind: KindAPIKey, AccountSID: e.acct, KeySID: keySID, Secret: keySecret})
	it := itemOf(t, res, KindAPIKey)
	if it.Outcome != OutcomeFailed || !e.fake.HasKey(e.acct, keySID) {
		t.Fatalf("item: %s", dump(it))
	}
	if n := e.calls("DELETE", accountsPath+"/"+e.acct+"/Keys/"+keySID, 0); n != 0 {
		t.Fatal("deleted the leaked key although delivery failed")
	}
	keys, err := e.client.ListKeys(context.Background(), e.acct, twilioCred(e.acct, e.primary))
	if err != nil || len(keys) != 1 || keys[0].SID != keySID {
		t.Fatalf("the replacement key was not removed: %v %v", keys, err)
	}
}

func TestBursts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults []twiliotest.Fault
	}{
		{"429 everywhere", []twiliotest.Fault{{Status: 429, Nth: 1, Times: 2}, {Status: 429, Nth: 5, Times: 2}, {Status: 429, Nth: 12, Times: 3}}},
		{"500 on reads", []twiliotest.Fault{{Method: "GET", Status: 500, Nth: 2, Times: 2}, {Method: "GET", Status: 503, Nth: 6, Times: 2}}},
		{"500 after create", []twiliotest.Fault{{Method: "POST", PathPrefix: secondaryPath, Status: 500, AfterEffect: true, Nth: 1}}},
		{"dropped create", []twiliotest.Fault{{Method: "POST", PathPrefix: secondaryPath, Drop: true, AfterEffect: true, Nth: 1}}},
		{"500 after promote", []twiliotest.Fault{{Method: "POST", PathPrefix: promotePath, Status: 500, AfterEffect: true, Nth: 1}}},
		{"dropped promote", []twiliotest.Fault{{Method: "POST", PathPrefix: promotePath, Drop: true, AfterEffect: true, Nth: 1}}},
		{"500 before promote", []twiliotest.Fault{{Method: "POST", PathPrefix: promotePath, Status: 500, Nth: 1}}},
		{"delete 500s", []twiliotest.Fault{{Method: "DELETE", Status: 500, Nth: 1, Times: 3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			for _, f := range tc.faults {
				e.fake.Inject(f)
				if f.PathPrefix == promotePath && f.AfterEffect {
					e.promoteAfterEffect = true
				}
			}
			rv := e.revoker()
			res := e.apply(rv, e.tokenLeak())
			it := itemOf(t, res, KindAuthToken)
			if it.Outcome == OutcomeIncomplete {
				// An unknown outcome may stop a run; the next one finishes.
				res, err := rv.Resume(context.Background(), e.tokenLeak())
				if err != nil {
					t.Fatal(err)
				}
				it = itemOf(t, res, KindAuthToken)
			}
			if it.Outcome != OutcomeRotated {
				t.Fatalf("item: %s", dump(it))
			}
			e.assertRotated(e.primary)
		})
	}
}

func TestPlanChangesNothing(t *testing.T) {
	e := newEnv(t, withOwnerCred)
	e.cfg.Mode = ModePlan
	keySID, keySecret := e.fake.AddKey(e.acct, false)
	rv := e.revoker()
	leaks := []Leak{e.tokenLeak(), e.tokenLeak(), {Kind: KindAPIKey, AccountSID: e.acct, KeySID: keySID, Secret: keySecret}}
	p, err := rv.Plan(context.Background(), leaks)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 2 || p.Items[0].Decision != DecisionRotate || p.Items[1].Decision != DecisionRotate || len(p.Items[0].Steps) == 0 {
		t.Fatalf("plan: %s", dump(p))
	}
	if len(p.Items[0].Locations) != 2 {
		t.Fatal("duplicate leaks were not merged")
	}
	n := 0
	for _, c := range e.fake.Calls() {
		if c.Method == "GET" && c.AuthUser == e.acct && c.Path == accountsPath+"/"+e.acct+".json" {
			n++
		}
	}
	if n != 1 {
		t.Fatal("a duplicate credential was verified twice")
	}
	if e.mutations() != 0 {
		t.Fatal("plan changed something at Twilio")
	}
	if _, err := rv.Apply(context.Background(), leaks); !errors.Is(err, ErrPlanMode) {
		t.Fatalf("Apply in plan mode: %v", err)
	}
	if _, err := rv.Resume(context.Background()); !errors.Is(err, ErrPlanMode) {
		t.Fatalf("Resume in plan mode: %v", err)
	}
	vs, err := rv.d.Store.Verifications(context.Background(), "")
	if err != nil || len(vs) != 2 {
		t.Fatalf("verifications not recorded: %d %v", len(vs), err)
	}
}

func TestNoSinkBlocks(t *testing.T) {
	e := newEnv(t)
	e.cfg.Accounts[0].Sinks = nil
	res := e.apply(e.revoker(), e.tokenLeak())
	if it := itemOf(t, res, KindAuthToken); it.Decision != DecisionBlocked || e.mutations() != 0 {
		t.Fatalf("item: %s", dump(it))
	}
}

func TestOwnerCredentialStale(t *testing.T) {
	e := newEnv(t, withOwnerCred)
	e.tokenEnv["TWILIO_OWNER_TOKEN"] = strings.Repeat("0", 32)
	res := e.apply(e.revoker(), e.tokenLeak())
	it := itemOf(t, res, KindAuthToken)
	if it.Outcome != OutcomeRotated || !strings.Contains(strings.Join(it.Warnings, " "), "rejects") {
		t.Fatalf("item: %s", dump(it))
	}
	e.assertRotated(e.primary)
}

func TestBothTokensLeaked(t *testing.T) {
	e := newEnv(t)
	sec := e.fake.SetSecondary(e.acct)
	l2 := e.tokenLeak()
	l2.Secret, l2.Fingerprint = sec, "fp-secondary"
	res := e.apply(e.revoker(), e.tokenLeak(), l2)
	outcomes := map[string]bool{}
	for _, it := range res.Items {
		outcomes[it.Outcome] = true
	}
	if !outcomes[OutcomeRotated] || (!outcomes[OutcomeAlreadyDead] && !outcomes[OutcomeCutOff]) {
		t.Fatalf("items: %s", dump(res.Items))
	}
	e.assertRotated(e.primary)
	if e.fake.Authenticates(e.acct, sec) {
		t.Fatal("the leaked secondary survived")
	}
}

func TestResumeWithoutInputNeedsIt(t *testing.T) {
	e := newEnv(t)
	rv := e.revoker()
	rv.hook = func(p string) error {
		if p == "state:"+string(state.StateDelivered) {
			return errCrash
		}
		return nil
	}
	if _, err := rv.Apply(context.Background(), []Leak{e.tokenLeak()}); !errors.Is(err, errCrash) {
		t.Fatalf("crash: %v", err)
	}
	rv2 := e.revoker()
	res, err := rv2.Resume(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if it := itemOf(t, res, KindAuthToken); it.Outcome != OutcomeNeedsInput {
		t.Fatalf("resume without the leak: %s", dump(it))
	}
	res, err = rv2.Resume(context.Background(), e.tokenLeak())
	if err != nil {
		t.Fatal(err)
	}
	if it := itemOf(t, res, KindAuthToken); it.Outcome != OutcomeRotated {
		t.Fatalf("resume with the leak: %s", dump(it))
	}
	e.assertRotated(e.primary)
}

func TestResumeWithOwnerCredentialOnly(t *testing.T) {
	e := newEnv(t, withOwnerCred)
	rv := e.revoker()
	rv.hook = func(p string) error {
		if p == "state:"+string(state.StateDelivered) {
			return errCrash
		}
		return nil
	}
	if _, err := rv.Apply(context.Background(), []Leak{e.tokenLeak()}); !errors.Is(err, errCrash) {
		t.Fatalf("crash: %v", err)
	}
	res, err := e.revoker().Resume(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if it := itemOf(t, res, KindAuthToken); it.Outcome != OutcomeRotated {
		t.Fatalf("resume with the owner's credential: %s", dump(it))
	}
	e.assertRotated(e.primary)
}
