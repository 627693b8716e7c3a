package twilio_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/revoker/twilio/twiliotest"
)

const messagingRead = `{"allow": ["/twilio/messaging/messages/read"]}`

func TestIAMKeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	nk, err := e.c.CreateIAMKey(ctx, e.sid, "restricted copy", twilio.KeyRestricted, json.RawMessage(messagingRead), e.cred())
	if err != nil {
		t.Fatal(err)
	}
	if nk.Secret.IsZero() || !nk.Restricted() || !twilio.SamePolicy(nk.Policy, json.RawMessage(messagingRead)) {
		t.Fatalf("created: %+v", nk.IAMKey)
	}
	if kt, _, _ := e.srv.KeyInfo(nk.SID); kt != twiliotest.KeyRestricted {
		t.Fatalf("the fake holds a %s key", kt)
	}
	got, err := e.c.FetchIAMKey(ctx, nk.SID, e.cred())
	if err != nil || !twilio.SamePolicy(got.Policy, json.RawMessage(messagingRead)) {
		t.Fatalf("fetch: %+v %v", got, err)
	}
	std, err := e.c.CreateIAMKey(ctx, e.sid, "standard", twilio.KeyStandard, nil, e.cred())
	if err != nil || std.Restricted() {
		t.Fatalf("standard: %+v %v", std, err)
	}
	if got, err := e.c.FetchIAMKey(ctx, std.SID, e.cred()); err != nil || got.Restricted() {
		t.Fatalf("fetch standard: %+v %v", got, err)
	}
	// A Restricted or Standard key may not manage keys.
	if _, err := e.c.FetchIAMKey(ctx, std.SID, cred(nk.SID, nk.Secret)); !twilio.IsAuth(err) {
		t.Fatalf("restricted key fetching a key: %v", err)
	}
	if _, err := e.c.CreateIAMKey(ctx, e.sid, "m", twilio.KeyMain, nil, e.cred()); !errors.Is(err, twilio.ErrInvalidArgument) {
		t.Fatalf("creating a Main key: %v", err)
	}
	if _, err := e.c.CreateIAMKey(ctx, e.sid, "r", twilio.KeyRestricted, nil, e.cred()); !errors.Is(err, twilio.ErrInvalidArgument) {
		t.Fatalf("restricted without policy: %v", err)
	}
	if twilio.SamePolicy(json.RawMessage(messagingRead), json.RawMessage(`{"allow":["/twilio/voice/calls/read"]}`)) ||
		twilio.SamePolicy(nil, json.RawMessage(messagingRead)) || !twilio.SamePolicy(nil, json.RawMessage("null")) {
		t.Fatal("SamePolicy")
	}
}

// A Main key's account is found on whatever page of Accounts.json it is
// (the list is newest first, so the top-level account comes last).
func TestVerifyMainKeyReadsEveryAccountsPage(t *testing.T) {
	e := newEnv(t)
	for range 60 {
		e.srv.AddAccount(twiliotest.AccountSpec{Parent: e.sid})
	}
	k, s := e.srv.AddTypedKey(e.sid, twiliotest.KeyMain, "")
	v := e.c.Verify(context.Background(), "", cred(k, s))
	if v.Status != twilio.StatusLive || v.Account == nil || v.Account.SID != e.sid {
		t.Fatalf("verify: %v %+v", v.Status, v.Account)
	}
	if n := countCalls(e.srv.Calls(), "GET", "/2010-04-01/Accounts.json"); n != 2 {
		t.Fatalf("%d pages read, want 2", n)
	}
}
