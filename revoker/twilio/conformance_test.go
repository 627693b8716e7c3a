package twilio_test

import (
	"context"
	"encoding/json"
	"sort"
	"testing"

	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/revoker/twilio/twiliotest"
)

// TestOpenAPIConformance drives every client operation (happy paths,
// errors, pagination, faults) and checks each request the client sent and
// each answer the fake gave against Twilio's OpenAPI files.
func TestOpenAPIConformance(t *testing.T) {
	dir, err := twiliotest.FindSpecDir()
	if err != nil {
		t.Fatalf("the spec files are part of the repository: %v", err)
	}
	spec, err := twiliotest.LoadSpec(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	ctx := context.Background()
	c := e.c

	mainSID, mainSecret := e.srv.AddKey(e.sid, true)
	for range 120 {
		e.srv.AddKey(e.sid, false)
	}
	c.Verify(ctx, e.sid, e.cred())
	c.Verify(ctx, "", cred(mainSID, mainSecret))
	c.Verify(ctx, e.sid, cred(e.sid, e2s(randHex(16))))
	tsid, ttok := e.srv.AddAccount(twiliotest.AccountSpec{Test: true})
	c.Verify(ctx, tsid, cred(tsid, ttok))

	keys, err := c.ListKeys(ctx, e.sid, e.cred())
	if err != nil || len(keys) != 121 {
		t.Fatalf("ListKeys: %d, %v", len(keys), err)
	}
	nk, err := c.CreateKey(ctx, e.sid, "conformance", e.cred())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateKey(ctx, e.sid, "", e.cred()); err != nil {
		t.Fatal(err)
	}
	_, _ = c.FetchKey(ctx, e.sid, nk.SID, e.cred())
	_ = c.DeleteKey(ctx, e.sid, nk.SID, e.cred())
	_, _ = c.FetchKey(ctx, e.sid, nk.SID, e.cred())

	rk, err := c.CreateIAMKey(ctx, e.sid, "restricted", twilio.KeyRestricted, json.RawMessage(messagingRead), e.cred())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FetchIAMKey(ctx, rk.SID, e.cred()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateIAMKey(ctx, e.sid, "", twilio.KeyStandard, nil, cred(mainSID, mainSecret)); err != nil {
		t.Fatal(err)
	}
	for range 55 {
		e.srv.AddAccount(twiliotest.AccountSpec{Parent: e.sid})
	}
	c.Verify(ctx, "", cred(mainSID, mainSecret))

	sec, err := c.CreateSecondaryAuthToken(ctx, e.cred())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = c.CreateSecondaryAuthToken(ctx, e.cred())
	if _, err := c.PromoteSecondaryAuthToken(ctx, e.cred()); err != nil {
		t.Fatal(err)
	}
	nc := cred(e.sid, sec.Token)
	_, _ = c.PromoteSecondaryAuthToken(ctx, nc)
	_ = c.DeleteSecondaryAuthToken(ctx, nc)
	_, _ = c.CreateSecondaryAuthToken(ctx, nc)
	_ = c.DeleteSecondaryAuthToken(ctx, nc)

	e.srv.Inject(twiliotest.Fault{Method: "GET", Nth: 1, Times: 2, Status: 429})
	e.srv.Inject(twiliotest.Fault{Method: "POST", PathPrefix: "/v1/", Nth: 1, Status: 503, AfterEffect: true})
	e.srv.Inject(twiliotest.Fault{Method: "DELETE", Nth: 1, Status: 502})
	e.srv.Inject(twiliotest.Fault{Method: "GET", PathPrefix: keysPath(e.sid), Nth: 1, Drop: true})
	c.Verify(ctx, e.sid, nc)
	_, _ = c.CreateSecondaryAuthToken(ctx, nc)
	_ = c.DeleteSecondaryAuthToken(ctx, nc)
	_, _ = c.ListKeys(ctx, e.sid, nc)

	calls := e.srv.Calls()
	used := map[string]int{}
	for _, call := range calls {
		used[spec.Operation(call.Method, call.Path)]++
		for _, err := range spec.CheckCall(call) {
			t.Error(err)
		}
	}
	want := []string{
		"GET /2010-04-01/Accounts/{Sid}.json",
		"GET /2010-04-01/Accounts.json",
		"GET /2010-04-01/Accounts/{AccountSid}/Keys.json",
		"POST /2010-04-01/Accounts/{AccountSid}/Keys.json",
		"GET /2010-04-01/Accounts/{AccountSid}/Keys/{Sid}.json",
		"DELETE /2010-04-01/Accounts/{AccountSid}/Keys/{Sid}.json",
		"POST /v1/AuthTokens/Secondary",
		"DELETE /v1/AuthTokens/Secondary",
		"POST /v1/AuthTokens/Promote",
		"POST /v1/Keys",
		"GET /v1/Keys/{Sid}",
	}
	for _, op := range want {
		if used[op] == 0 {
			t.Errorf("operation %s not exercised", op)
		}
	}
	if used[""] != 0 {
		t.Errorf("%d requests outside the spec", used[""])
	}
	var ops []string
	for op := range used {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	t.Logf("%d calls over %v", len(calls), ops)
}
