package twiliotest_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/leakstop/leakstop/revoker/twilio/twiliotest"
	"github.com/leakstop/leakstop/secret"
)

func loadSpec(t *testing.T) *twiliotest.Spec {
	t.Helper()
	dir, err := twiliotest.FindSpecDir()
	if err != nil {
		t.Fatalf("the spec files are part of the repository: %v", err)
	}
	sp, err := twiliotest.LoadSpec(dir)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// TestFakeConformsToSpec drives every operation in the spec (successes and
// documented errors) and checks the fake's answers against it.
func TestFakeConformsToSpec(t *testing.T) {
	sp := loadSpec(t)
	s := twiliotest.NewServer(t)
	sid, tok := s.AddAccount(twiliotest.AccountSpec{Type: "Trial"})
	for range 3 {
		s.AddKey(sid, false)
	}
	k, _ := s.AddKey(sid, true)
	rk, _ := s.AddTypedKey(sid, twiliotest.KeyRestricted, `{"allow":["/twilio/messaging/messages/read"]}`)
	stdK, stdS := s.AddTypedKey(sid, twiliotest.KeyStandard, "")
	tsid, ttok := s.AddAccount(twiliotest.AccountSpec{Test: true})
	restricted := url.Values{"AccountSid": {sid}, "FriendlyName": {"r"}, "KeyType": {"restricted"}, "Policy": {`{"allow":["/twilio/messaging/messages/read"]}`}}
	form := url.Values{}
	steps := []struct {
		m, p string
		f    url.Values
		u    string
		pw   secret.Value
	}{
		{"GET", "/2010-04-01/Accounts.json", nil, sid, tok},
		{"GET", "/2010-04-01/Accounts.json?PageSize=1&Status=active", nil, sid, tok},
		{"POST", "/2010-04-01/Accounts.json", url.Values{"FriendlyName": {"sub"}}, sid, tok},
		{"POST", "/2010-04-01/Accounts.json", form, sid, tok},
		{"GET", acct(sid) + ".json", nil, sid, tok},
		{"POST", acct(sid) + ".json", url.Values{"FriendlyName": {"renamed"}}, sid, tok},
		{"GET", acct(sid) + "/Keys.json?PageSize=2", nil, sid, tok},
		{"GET", acct(sid) + "/Keys.json?PageSize=2&Page=1&PageToken=PA" + k, nil, sid, tok},
		{"POST", acct(sid) + "/Keys.json", url.Values{"FriendlyName": {"new"}}, sid, tok},
		{"POST", acct(sid) + "/Keys.json", form, sid, tok},
		{"GET", acct(sid) + "/Keys/" + k + ".json", nil, sid, tok},
		{"POST", acct(sid) + "/Keys/" + k + ".json", url.Values{"FriendlyName": {"x"}}, sid, tok},
		{"DELETE", acct(sid) + "/Keys/" + k + ".json", nil, sid, tok},
		{"GET", acct(sid) + "/Keys/" + k + ".json", nil, sid, tok},
		{"POST", "/v1/AuthTokens/Promote", form, sid, tok},
		{"DELETE", "/v1/AuthTokens/Secondary", nil, sid, tok},
		{"POST", "/v1/AuthTokens/Secondary", form, sid, tok},
		{"POST", "/v1/AuthTokens/Secondary", form, sid, tok},
		{"DELETE", "/v1/AuthTokens/Secondary", nil, sid, tok},
		{"POST", "/v1/AuthTokens/Secondary", form, sid, tok},
		{"POST", "/v1/AuthTokens/Promote", form, sid, tok},
		{"GET", acct(sid) + ".json", nil, sid, tok}, // the retired primary
		{"GET", acct(tsid) + ".json", nil, tsid, ttok},
		{"GET", acct(sid) + "/Keys.json", nil, sid, secret.Value{}},
		{"GET", acct(sid) + "/Keys.json", nil, "", secret.Value{}},
		{"POST", "/v1/Keys", url.Values{"AccountSid": {sid}, "FriendlyName": {"std"}}, sid, tok},
		{"POST", "/v1/Keys", restricted, sid, tok},
		{"POST", "/v1/Keys", url.Values{"AccountSid": {sid}, "KeyType": {"restricted"}}, sid, tok},
		{"POST", "/v1/Keys", restricted, stdK, stdS},
		{"GET", "/v1/Keys?AccountSid=" + sid + "&PageSize=2", nil, sid, tok},
		{"GET", "/v1/Keys?AccountSid=" + sid + "&PageSize=2&Page=1", nil, sid, tok},
		{"GET", "/v1/Keys/" + rk, nil, sid, tok},
		{"GET", "/v1/Keys/" + stdK, nil, sid, tok},
		{"GET", "/v1/Keys/" + rk, nil, stdK, stdS},
		{"POST", "/v1/Keys/" + rk, url.Values{"FriendlyName": {"y"}, "Policy": {`{"allow":["/twilio/voice/calls/read"]}`}}, sid, tok},
		{"DELETE", "/v1/Keys/" + rk, nil, sid, tok},
		{"GET", "/v1/Keys/" + rk, nil, sid, tok},
	}
	for _, st := range steps {
		do(t, s, st.m, st.p, st.f, st.u, st.pw)
	}
	ops := map[string]bool{}
	for _, c := range s.Calls() {
		ops[sp.Operation(c.Method, c.Path)] = true
		for _, err := range sp.CheckCall(c) {
			t.Error(err)
		}
	}
	for _, op := range sp.Operations() {
		if !ops[op] {
			t.Errorf("spec operation %s not exercised", op)
		}
	}
	if len(sp.Operations()) != 17 {
		t.Errorf("spec has %d operations, want 17: %v", len(sp.Operations()), sp.Operations())
	}
}

// The checker must catch what a careless fake or client would do.
func TestCheckerCatchesViolations(t *testing.T) {
	sp := loadSpec(t)
	sid := "AC" + strings.Repeat("0a", 16)
	key := func(mut func(map[string]any)) []byte {
		m := map[string]any{"sid": "SK" + strings.Repeat("0b", 16), "friendly_name": "x",
			"date_created": "Mon, 13 Jun 2016 22:50:08 +0000", "date_updated": "Mon, 13 Jun 2016 22:50:08 +0000"}
		mut(m)
		b, _ := json.Marshal(m)
		return b
	}
	ok := twiliotest.Call{Method: "GET", Path: acct(sid) + "/Keys/SK" + strings.Repeat("0b", 16) + ".json", Status: 200,
		ResponseType: "application/json", Response: key(func(map[string]any) {})}
	if errs := sp.CheckCall(ok); len(errs) != 0 {
		t.Fatalf("valid call rejected: %v", errs)
	}
	bad := map[string]twiliotest.Call{}
	c := ok
	c.Path = strings.TrimSuffix(c.Path, ".json")
	bad["no .json"] = c
	c = ok
	c.Method = "PUT"
	bad["method"] = c
	c = ok
	c.Query = url.Values{"Foo": {"1"}}
	bad["query"] = c
	c = ok
	c.Response = key(func(m map[string]any) { delete(m, "date_updated") })
	bad["missing property"] = c
	c = ok
	c.Response = key(func(m map[string]any) { m["extra"] = 1 })
	bad["extra property"] = c
	c = ok
	c.Response = key(func(m map[string]any) { m["date_created"] = "2016-06-13T22:50:08Z" })
	bad["date format"] = c
	c = ok
	c.Response = key(func(m map[string]any) { m["sid"] = 7 })
	bad["type"] = c
	c = ok
	c.Status = 201
	bad["status"] = c
	c = ok
	c.Status, c.Response = 404, []byte(`{"message":"nope"}`)
	bad["error body"] = c
	c = twiliotest.Call{Method: "POST", Path: acct(sid) + "/Keys.json", ContentType: "application/json", Form: url.Values{"Name": {"x"}}, Status: 400,
		ResponseType: "application/json", Response: []byte(`{"code":20001,"message":"m","more_info":"https://www.twilio.com/docs/errors/20001","status":400}`)}
	bad["form"] = c
	for name, c := range bad {
		if errs := sp.CheckCall(c); len(errs) == 0 {
			t.Errorf("%s: not caught", name)
		}
	}
}
