package twiliotest_test

import (
	"net/url"
	"testing"

	"github.com/leakstop/leakstop/revoker/twilio/twiliotest"
	"github.com/leakstop/leakstop/secret"
)

// Key types: only Main keys (and the Auth Token) reach the management
// endpoints; Standard and Restricted keys get 401 / 20003 there. IAM v1
// creates Standard and Restricted keys with their policy, never Main ones.
func TestIAMKeyTypes(t *testing.T) {
	s := twiliotest.NewServer(t)
	sid, tok := s.AddAccount(twiliotest.AccountSpec{})
	const policy = `{"allow":["/twilio/messaging/messages/read"]}`
	mainK, mainS := s.AddTypedKey(sid, twiliotest.KeyMain, "")
	stdK, stdS := s.AddTypedKey(sid, twiliotest.KeyStandard, "")
	resK, resS := s.AddTypedKey(sid, twiliotest.KeyRestricted, policy)
	mainOnly := []struct{ m, p string }{
		{"GET", acct(sid) + ".json"},
		{"GET", "/2010-04-01/Accounts.json"},
		{"GET", acct(sid) + "/Keys.json"},
		{"GET", "/v1/Keys?AccountSid=" + sid},
		{"GET", "/v1/Keys/" + resK},
		{"DELETE", "/v1/AuthTokens/Secondary"},
	}
	for _, ep := range mainOnly {
		for _, k := range []struct {
			name, sid string
			s         string
		}{{"standard", stdK, stdS.Reveal()}, {"restricted", resK, resS.Reveal()}} {
			a := do(t, s, ep.m, ep.p, nil, k.sid, secret.New(k.s))
			if a.status != 401 || a.code(t) != 20003 {
				t.Errorf("%s key on %s %s: %d", k.name, ep.m, ep.p, a.status)
			}
		}
		if a := do(t, s, ep.m, ep.p, nil, mainK, mainS); a.status == 401 {
			t.Errorf("main key on %s %s: 401", ep.m, ep.p)
		}
	}
	a := do(t, s, "GET", "/v1/Keys/"+resK, nil, sid, tok)
	if a.status != 200 || a.json(t)["policy"] == nil {
		t.Fatalf("fetch restricted: %d %s", a.status, a.body)
	}
	if a := do(t, s, "GET", "/v1/Keys/"+mainK, nil, sid, tok); a.status != 200 || a.json(t)["policy"] != nil {
		t.Fatalf("fetch main: %d %s", a.status, a.body)
	}
	a = do(t, s, "POST", "/v1/Keys", url.Values{"AccountSid": {sid}, "KeyType": {"restricted"}, "Policy": {policy}}, mainK, mainS)
	if a.status != 201 {
		t.Fatalf("create restricted: %d %s", a.status, a.body)
	}
	newSID, _ := a.json(t)["sid"].(string)
	if kt, pol, ok := s.KeyInfo(newSID); !ok || kt != twiliotest.KeyRestricted || string(pol) != policy {
		t.Fatalf("created key: %s %s %v", kt, pol, ok)
	}
	for _, bad := range []url.Values{
		{"AccountSid": {sid}, "KeyType": {"main"}},
		{"AccountSid": {sid}, "KeyType": {"restricted"}},
		{"AccountSid": {sid}, "KeyType": {"restricted"}, "Policy": {`{"deny":[]}`}},
		{"AccountSid": {sid}, "Policy": {policy}},
		{"FriendlyName": {"x"}},
	} {
		if a := do(t, s, "POST", "/v1/Keys", bad, sid, tok); a.status != 400 || a.code(t) != 20001 {
			t.Errorf("create %v: %d", bad, a.status)
		}
	}
	other, otherTok := s.AddAccount(twiliotest.AccountSpec{})
	if a := do(t, s, "POST", "/v1/Keys", url.Values{"AccountSid": {sid}}, other, otherTok); a.status != 401 {
		t.Errorf("another account's token creating a key here: %d", a.status)
	}
	if a := do(t, s, "GET", "/v1/Keys/"+resK, nil, other, otherTok); a.status != 404 {
		t.Errorf("another account's token reading a key here: %d", a.status)
	}
}

// A Main key lists its account and subaccounts, newest first, over pages.
func TestAccountsListNewestFirst(t *testing.T) {
	s := twiliotest.NewServer(t)
	sid, tok := s.AddAccount(twiliotest.AccountSpec{})
	for range 3 {
		if a := do(t, s, "POST", "/2010-04-01/Accounts.json", url.Values{}, sid, tok); a.status != 201 {
			t.Fatal(a.status)
		}
	}
	mainK, mainS := s.AddTypedKey(sid, twiliotest.KeyMain, "")
	a := do(t, s, "GET", "/2010-04-01/Accounts.json?PageSize=2", nil, mainK, mainS)
	m := a.json(t)
	if n := len(m["accounts"].([]any)); n != 2 || m["next_page_uri"] == nil {
		t.Fatalf("page 1: %d accounts, next %v", n, m["next_page_uri"])
	}
	next := m["next_page_uri"].(string)
	a = do(t, s, "GET", next, nil, mainK, mainS)
	m = a.json(t)
	accts := m["accounts"].([]any)
	if len(accts) != 2 || accts[1].(map[string]any)["sid"] != sid || m["next_page_uri"] != nil {
		t.Fatalf("page 2: %s", a.body)
	}
}
