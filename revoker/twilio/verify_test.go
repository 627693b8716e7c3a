package twilio_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/revoker/twilio/twiliotest"
	"github.com/leakstop/leakstop/secret"
)

func TestVerifyLive(t *testing.T) {
	e := newEnv(t)
	v := e.c.Verify(context.Background(), e.sid, e.cred())
	if v.Status != twilio.StatusLive || v.Err != nil || v.Test {
		t.Fatalf("Verify = %v, %v, test=%v; want live", v.Status, v.Err, v.Test)
	}
	a := v.Account
	if a == nil || a.SID != e.sid || a.OwnerAccountSID != e.sid || a.FriendlyName != "acme" ||
		a.Status != twilio.AccountActive || a.Type != twilio.AccountFull || a.URI != accountPath(e.sid) {
		t.Fatalf("account = %+v", a)
	}
	if a.DateCreated.IsZero() || a.DateUpdated.IsZero() {
		t.Errorf("dates not parsed: %v %v", a.DateCreated, a.DateUpdated)
	}
	if !a.IsAuthToken(e.primary) || a.IsAuthToken(secret.New(randHex(16))) || a.IsAuthToken(secret.Value{}) {
		t.Error("IsAuthToken does not recognise exactly the primary token")
	}
	if a.SubresourceURIs["keys"] != keysPath(e.sid) {
		t.Errorf("subresource keys = %q", a.SubresourceURIs["keys"])
	}
	if got := twilio.StatusLive.String() + twilio.StatusDead.String() + twilio.StatusUnknown.String(); got != "livedeadunknown" {
		t.Errorf("Status strings = %q", got)
	}
}

func TestVerifyEmptyAccountSIDUsesUsername(t *testing.T) {
	e := newEnv(t)
	if v := e.c.Verify(context.Background(), "", e.cred()); v.Status != twilio.StatusLive {
		t.Fatalf("Verify = %v %v", v.Status, v.Err)
	}
	if n := countCalls(e.srv.Calls(), "GET", accountPath(e.sid)); n != 1 {
		t.Fatalf("calls to the account = %d", n)
	}
}

func TestVerifyDead(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	wrong := cred(e.sid, secret.New(randHex(16)))
	if v := e.c.Verify(ctx, e.sid, wrong); v.Status != twilio.StatusDead || v.Err != nil {
		t.Fatalf("wrong token: %v %v", v.Status, v.Err)
	}
	// Dead answers are not retried.
	if n := countCalls(e.srv.Calls(), "GET", accountPath(e.sid)); n != 1 {
		t.Errorf("401 was retried: %d calls", n)
	}
	for _, status := range []string{"suspended", "closed"} {
		sid, tok := e.srv.AddAccount(twiliotest.AccountSpec{})
		e.srv.SetStatus(sid, status)
		if v := e.c.Verify(ctx, sid, cred(sid, tok)); v.Status != twilio.StatusDead {
			t.Errorf("%s account: %v %v", status, v.Status, v.Err)
		}
	}
}

func TestVerifySecondaryAuthenticates(t *testing.T) {
	e := newEnv(t)
	sec := e.srv.SetSecondary(e.sid)
	v := e.c.Verify(context.Background(), e.sid, cred(e.sid, sec))
	if v.Status != twilio.StatusLive {
		t.Fatalf("secondary: %v %v", v.Status, v.Err)
	}
	// Which one leaked: the account names its primary.
	if v.Account.IsAuthToken(sec) || !v.Account.IsAuthToken(e.primary) {
		t.Fatal("IsAuthToken must tell the secondary from the primary")
	}
	if v := e.c.Verify(context.Background(), e.sid, e.cred()); v.Status != twilio.StatusLive {
		t.Fatalf("primary while a secondary exists: %v %v", v.Status, v.Err)
	}
}

func TestVerifyTestCredentials(t *testing.T) {
	e := newEnv(t)
	sid, tok := e.srv.AddAccount(twiliotest.AccountSpec{Test: true})
	v := e.c.Verify(context.Background(), sid, cred(sid, tok))
	if v.Status != twilio.StatusUnknown || !v.Test || !twilio.IsTestCredentials(v.Err) {
		t.Fatalf("test credentials: %v test=%v %v", v.Status, v.Test, v.Err)
	}
}

func TestVerifyUnknownAfterRetries(t *testing.T) {
	e := newEnv(t)
	e.srv.Inject(twiliotest.Fault{Method: "GET", Status: 500})
	v := e.c.Verify(context.Background(), e.sid, e.cred())
	var te *twilio.Error
	if v.Status != twilio.StatusUnknown || !errors.As(v.Err, &te) || te.HTTPStatus != 500 || te.Code != 20500 {
		t.Fatalf("Verify = %v %v", v.Status, v.Err)
	}
	if n := countCalls(e.srv.Calls(), "GET", accountPath(e.sid)); n != 5 {
		t.Errorf("attempts = %d, want 1 + MaxRetries(4)", n)
	}
}

func TestVerifyAPIKeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mainSID, mainSecret := e.srv.AddKey(e.sid, true)
	stdSID, stdSecret := e.srv.AddKey(e.sid, false)

	if v := e.c.Verify(ctx, e.sid, cred(mainSID, mainSecret)); v.Status != twilio.StatusLive || v.Account.SID != e.sid {
		t.Fatalf("main key: %v %v", v.Status, v.Err)
	}
	// Without the account SID the account is found through the list.
	v := e.c.Verify(ctx, "", cred(mainSID, mainSecret))
	if v.Status != twilio.StatusLive || v.Account == nil || v.Account.SID != e.sid {
		t.Fatalf("main key, no account SID: %v %v", v.Status, v.Err)
	}
	// A Standard key is refused on /Accounts exactly like a revoked one:
	// unknown, never dead.
	v = e.c.Verify(ctx, e.sid, cred(stdSID, stdSecret))
	if v.Status != twilio.StatusUnknown || !twilio.IsAuth(v.Err) || !strings.Contains(v.Err.Error(), "Standard") {
		t.Fatalf("standard key: %v %v", v.Status, v.Err)
	}
	if v := e.c.Verify(ctx, "", cred(stdSID, stdSecret)); v.Status != twilio.StatusUnknown {
		t.Fatalf("standard key, no account SID: %v %v", v.Status, v.Err)
	}
	if v := e.c.Verify(ctx, e.sid, cred(mainSID, secret.New(randHex(16)))); v.Status != twilio.StatusUnknown {
		t.Fatalf("key with a wrong secret: %v", v.Status)
	}
}

func TestVerifyForeignAccountIsUnknown(t *testing.T) {
	e := newEnv(t)
	other, _ := e.srv.AddAccount(twiliotest.AccountSpec{})
	v := e.c.Verify(context.Background(), other, e.cred())
	if v.Status != twilio.StatusUnknown || !twilio.IsAuth(v.Err) {
		t.Fatalf("foreign account: %v %v", v.Status, v.Err)
	}
}

func TestVerifyParentOnSubaccount(t *testing.T) {
	e := newEnv(t)
	sub, subTok := e.srv.AddAccount(twiliotest.AccountSpec{Parent: e.sid})
	v := e.c.Verify(context.Background(), sub, e.cred())
	if v.Status != twilio.StatusLive || v.Account.OwnerAccountSID != e.sid {
		t.Fatalf("parent on subaccount: %v %v", v.Status, v.Err)
	}
	// The subaccount's own token cannot read the parent.
	if v := e.c.Verify(context.Background(), e.sid, cred(sub, subTok)); v.Status != twilio.StatusUnknown || !twilio.IsAuth(v.Err) {
		t.Fatalf("subaccount on parent: %v %v", v.Status, v.Err)
	}
}

func TestVerifyInvalidArguments(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cases := map[string]twilio.Credential{
		"username not a SID": cred("not-a-sid", e.primary),
		"empty password":     cred(e.sid, secret.Value{}),
	}
	for name, c := range cases {
		if v := e.c.Verify(ctx, e.sid, c); v.Status != twilio.StatusUnknown || !errors.Is(v.Err, twilio.ErrInvalidArgument) {
			t.Errorf("%s: %v %v", name, v.Status, v.Err)
		}
	}
	if v := e.c.Verify(ctx, "AC/../x", e.cred()); !errors.Is(v.Err, twilio.ErrInvalidArgument) {
		t.Errorf("bad account SID: %v", v.Err)
	}
	if n := len(e.srv.Calls()); n != 0 {
		t.Errorf("%d requests sent for invalid arguments", n)
	}
}

func TestFetchAccount(t *testing.T) {
	e := newEnv(t)
	a, err := e.c.FetchAccount(context.Background(), e.sid, e.cred())
	if err != nil || a.SID != e.sid {
		t.Fatalf("FetchAccount = %+v, %v", a, err)
	}
	_, err = e.c.FetchAccount(context.Background(), e.sid, cred(e.sid, secret.New(randHex(16))))
	if !twilio.IsAuth(err) {
		t.Fatalf("wrong token: %v", err)
	}
}
