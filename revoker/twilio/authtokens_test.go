package twilio_test

import (
	"context"
	"testing"

	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/revoker/twilio/twiliotest"
)

func TestSecondaryAuthTokenLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	oldPrimary := e.primary

	sec, err := e.c.CreateSecondaryAuthToken(ctx, e.cred())
	if err != nil {
		t.Fatal(err)
	}
	if sec.AccountSID != e.sid || sec.Token.IsZero() || sec.DateCreated.IsZero() || sec.DateUpdated.IsZero() ||
		sec.URL != "https://accounts.twilio.com/v1/AuthTokens/Secondary" {
		t.Fatalf("secondary = %+v", sec)
	}
	if _, s := e.srv.Tokens(e.sid); !s.Equal(sec.Token) {
		t.Fatal("returned token is not the fake's secondary")
	}
	if !e.srv.Authenticates(e.sid, sec.Token) || !e.srv.Authenticates(e.sid, oldPrimary) {
		t.Fatal("primary and secondary must both authenticate")
	}

	if _, err := e.c.CreateSecondaryAuthToken(ctx, e.cred()); !twilio.IsSecondaryExists(err) {
		t.Fatalf("second create: %v", err)
	}
	if n := countCalls(e.srv.Calls(), "POST", secondaryPath); n != 2 {
		t.Errorf("400 was retried: %d calls", n)
	}

	p, err := e.c.PromoteSecondaryAuthToken(ctx, e.cred())
	if err != nil {
		t.Fatal(err)
	}
	if !p.Token.Equal(sec.Token) || p.AccountSID != e.sid || p.URL != "https://accounts.twilio.com/v1/AuthTokens/Promote" || p.DateUpdated.IsZero() {
		t.Fatalf("promotion = %+v", p)
	}
	if e.srv.Authenticates(e.sid, oldPrimary) {
		t.Fatal("old primary still authenticates after promotion")
	}
	if prim, s := e.srv.Tokens(e.sid); !prim.Equal(sec.Token) || !s.IsZero() {
		t.Fatal("promotion did not move the secondary to primary")
	}
	if v := e.c.Verify(ctx, e.sid, e.cred()); v.Status != twilio.StatusDead {
		t.Fatalf("old primary verifies %v", v.Status)
	}
	newCred := cred(e.sid, sec.Token)
	if v := e.c.Verify(ctx, e.sid, newCred); v.Status != twilio.StatusLive {
		t.Fatalf("new primary verifies %v", v.Status)
	}

	if _, err := e.c.PromoteSecondaryAuthToken(ctx, newCred); !twilio.IsNotFound(err) {
		t.Fatalf("promote without secondary: %v", err)
	}
	if err := e.c.DeleteSecondaryAuthToken(ctx, newCred); !twilio.IsNotFound(err) {
		t.Fatalf("delete without secondary: %v", err)
	}

	sec2, err := e.c.CreateSecondaryAuthToken(ctx, newCred)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.c.DeleteSecondaryAuthToken(ctx, newCred); err != nil {
		t.Fatal(err)
	}
	if e.srv.Authenticates(e.sid, sec2.Token) {
		t.Fatal("deleted secondary still authenticates")
	}
}

func TestSecondaryCanActOnItself(t *testing.T) {
	e := newEnv(t)
	sec := e.srv.SetSecondary(e.sid) // e.g. an attacker's
	if err := e.c.DeleteSecondaryAuthToken(context.Background(), cred(e.sid, sec)); err != nil {
		t.Fatal(err)
	}
	if e.srv.Authenticates(e.sid, sec) {
		t.Fatal("deleted secondary authenticates")
	}
}

func TestAuthTokensCredentialKinds(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	stdSID, stdSecret := e.srv.AddKey(e.sid, false)
	if _, err := e.c.CreateSecondaryAuthToken(ctx, cred(stdSID, stdSecret)); !twilio.IsAuth(err) {
		t.Fatalf("standard key: %v", err)
	}
	mainSID, mainSecret := e.srv.AddKey(e.sid, true)
	if _, err := e.c.CreateSecondaryAuthToken(ctx, cred(mainSID, mainSecret)); err != nil {
		t.Fatalf("main key: %v", err)
	}
	tsid, ttok := e.srv.AddAccount(twiliotest.AccountSpec{Test: true})
	if _, err := e.c.CreateSecondaryAuthToken(ctx, cred(tsid, ttok)); !twilio.IsTestCredentials(err) {
		t.Fatalf("test credentials: %v", err)
	}
	if _, err := e.c.PromoteSecondaryAuthToken(ctx, cred(tsid, ttok)); !twilio.IsTestCredentials(err) {
		t.Fatalf("test credentials promote: %v", err)
	}
}
