package twiliotest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakstop/leakstop/revoker/twilio/twiliotest"
	"github.com/leakstop/leakstop/secret"
)

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("body is not JSON (%d): %.200s", a.status, a.body)
	}
	return m
}

func (a answer) code(t *testing.T) int {
	t.Helper()
	c, _ := a.json(t)["code"].(float64)
	return int(c)
}

// send sends a raw request; user "" sends no Authorization header.
func send(s *twiliotest.Server, method, path string, form url.Values, user string, pass secret.Value) (answer, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.URL()+path, body)
	if err != nil {
		return answer{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" {
		req.SetBasicAuth(user, pass.Reveal())
	}
	resp, err := s.Options().HTTPClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: b}, err
}

func do(t *testing.T, s *twiliotest.Server, method, path string, form url.Values, user string, pass secret.Value) answer {
	t.Helper()
	a, err := send(s, method, path, form, user, pass)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return a
}

func acct(sid string) string { return "/2010-04-01/Accounts/" + sid }

func TestAuthentication(t *testing.T) {
	s := twiliotest.NewServer(t)
	sid, tok := s.AddAccount(twiliotest.AccountSpec{})
	path := acct(sid) + ".json"

	a := do(t, s, "GET", path, nil, "", secret.Value{})
	if a.status != 401 || a.code(t) != 20003 || !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("no auth: %d %s %q", a.status, a.body, a.header.Get("WWW-Authenticate"))
	}
	if a := do(t, s, "GET", path, nil, sid, secret.New("x"+tok.Reveal()[1:])); a.status != 401 || a.code(t) != 20003 {
		t.Fatalf("wrong token: %d", a.status)
	}
	a = do(t, s, "GET", path, nil, sid, tok)
	if a.status != 200 || a.json(t)["sid"] != sid {
		t.Fatalf("good token: %d %.200s", a.status, a.body)
	}
	m := a.json(t)
	if m["status"] != "active" || m["type"] != "Full" || m["owner_account_sid"] != sid {
		t.Fatalf("account body: %v", m)
	}
	if _, err := time.Parse(time.RFC1123Z, m["date_created"].(string)); err != nil {
		t.Errorf("date_created not RFC 2822: %v", err)
	}
	if got := a.header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
		t.Errorf("content type %q", got)
	}
	s.SetStatus(sid, "suspended")
	if a := do(t, s, "GET", path, nil, sid, tok); a.status != 401 || a.code(t) != 20003 {
		t.Fatalf("suspended: %d", a.status)
	}
	if s.Authenticates(sid, tok) {
		t.Fatal("suspended account authenticates")
	}
}

func TestRoutingErrors(t *testing.T) {
	s := twiliotest.NewServer(t)
	sid, tok := s.AddAccount(twiliotest.AccountSpec{})

	for _, p := range []string{"/2010-04-01/Calls.json", acct(sid) + "/Messages.json", "/v1/AuthTokens", "/v1/AuthTokens/Secondary.json", "/", acct(sid) + "/Keys/.json"} {
		if a := do(t, s, "GET", p, nil, sid, tok); a.status != 404 || a.code(t) != 20404 {
			t.Errorf("GET %s: %d %s", p, a.status, a.body)
		}
	}
	a := do(t, s, "PUT", acct(sid)+".json", nil, sid, tok)
	if a.status != 405 || a.code(t) != 20004 || a.header.Get("Allow") != "GET, POST" {
		t.Errorf("PUT account: %d %q", a.status, a.header.Get("Allow"))
	}
	for _, m := range []string{"GET", "PATCH"} {
		if a := do(t, s, m, "/v1/AuthTokens/Promote", nil, sid, tok); a.status != 405 {
			t.Errorf("%s promote: %d", m, a.status)
		}
	}
	if a := do(t, s, "DELETE", acct(sid)+"/Keys.json", nil, sid, tok); a.status != 405 {
		t.Errorf("DELETE keys list: %d", a.status)
	}
}

func TestXMLWithoutJSONSuffix(t *testing.T) {
	s := twiliotest.NewServer(t)
	sid, tok := s.AddAccount(twiliotest.AccountSpec{})
	a := do(t, s, "GET", acct(sid), nil, sid, tok)
	if a.status != 200 || !strings.HasPrefix(a.header.Get("Content-Type"), "application/xml") ||
		!strings.Contains(string(a.body), "<TwilioResponse><Account>") || !strings.Contains(string(a.body), "<Sid>"+sid+"</Sid>") {
		t.Fatalf("account XML: %d %q %.300s", a.status, a.header.Get("Content-Type"), a.body)
	}
	s.AddKey(sid, false)
	a = do(t, s, "GET", acct(sid)+"/Keys", nil, sid, tok)
	if !strings.Contains(string(a.body), "<Keys ") || !strings.Contains(string(a.body), "<Key><DateCreated>") {
		t.Fatalf("keys XML: %.300s", a.body)
	}
	a = do(t, s, "GET", acct(sid)+"/Keys", nil, "", secret.Value{})
	if a.status != 401 || !strings.Contains(string(a.body), "<RestException><Code>20003</Code>") {
		t.Fatalf("error XML: %d %.300s", a.status, a.body)
	}
	if a := do(t, s, "GET", acct(sid)+".xml", nil, sid, tok); !strings.HasPrefix(string(a.body), "<?xml") {
		t.Fatalf(".xml: %.100s", a.body)
	}
}

func TestAccountScope(t *testing.T) {
	s := twiliotest.NewServer(t)
	sid, tok := s.AddAccount(twiliotest.AccountSpec{})
	other, otherTok := s.AddAccount(twiliotest.AccountSpec{})
	sub, subTok := s.AddAccount(twiliotest.AccountSpec{Parent: sid})
	mainK, mainS := s.AddKey(sid, true)
	stdK, stdS := s.AddKey(sid, false)

	cases := []struct {
		name       string
		path, user string
		pass       secret.Value
		want       int
	}{
		{"own", acct(sid) + ".json", sid, tok, 200},
		{"foreign account", acct(other) + ".json", sid, tok, 401},
		{"foreign keys", acct(other) + "/Keys.json", sid, tok, 401},
		{"other on us", acct(sid) + ".json", other, otherTok, 401},
		{"parent on sub", acct(sub) + ".json", sid, tok, 200},
		{"parent on sub keys", acct(sub) + "/Keys.json", sid, tok, 200},
		{"sub on parent", acct(sid) + ".json", sub, subTok, 401},
		{"main key", acct(sid) + ".json", mainK, mainS, 200},
		{"main key keys", acct(sid) + "/Keys.json", mainK, mainS, 200},
		{"main key on sub", acct(sub) + ".json", mainK, mainS, 401},
		{"standard key", acct(sid) + ".json", stdK, stdS, 401},
		{"standard key keys", acct(sid) + "/Keys.json", stdK, stdS, 401},
		{"standard key list", "/2010-04-01/Accounts.json", stdK, stdS, 401},
		{"standard key secondary", "/v1/AuthTokens/Secondary", stdK, stdS, 401},
		{"malformed sid", "/2010-04-01/Accounts/ACnope.json", sid, tok, 401},
	}
	for _, c := range cases {
		method := "GET"
		if strings.HasPrefix(c.path, "/v1/") {
			method = "POST"
		}
		if a := do(t, s, method, c.path, nil, c.user, c.pass); a.status != c.want {
			t.Errorf("%s: %d, want %d", c.name, a.status, c.want)
		} else if a.status == 401 && a.code(t) != 20003 {
			t.Errorf("%s: code %d", c.name, a.code(t))
		}
	}
}

func TestTestCredentials(t *testing.T) {
	s := twiliotest.NewServer(t)
	sid, tok := s.AddAccount(twiliotest.AccountSpec{Test: true})
	for _, c := range []struct{ m, p string }{
		{"GET", acct(sid) + ".json"}, {"GET", acct(sid) + "/Keys.json"}, {"POST", acct(sid) + "/Keys.json"},
		{"POST", "/v1/AuthTokens/Secondary"}, {"DELETE", "/v1/AuthTokens/Secondary"}, {"POST", "/v1/AuthTokens/Promote"},
	} {
		if a := do(t, s, c.m, c.p, url.Values{}, sid, tok); a.status != 403 || a.code(t) != 20008 {
			t.Errorf("%s %s: %d %.100s", c.m, c.p, a.status, a.body)
		}
	}
	if !s.Authenticates(sid, tok) {
		t.Error("test credentials should authenticate (and then be refused)")
	}
}

func TestSecondaryTokenSemantics(t *testing.T) {
	s := twiliotest.NewServer(t)
	sid, tok := s.AddAccount(twiliotest.AccountSpec{})
	if a := do(t, s, "POST", "/v1/AuthTokens/Promote", url.Values{}, sid, tok); a.status != 404 || a.code(t) != 20404 {
		t.Fatalf("promote without secondary: %d", a.status)
	}
	if a := do(t, s, "DELETE", "/v1/AuthTokens/Secondary", nil, sid, tok); a.status != 404 || a.code(t) != 20404 {
		t.Fatalf("delete without secondary: %d", a.status)
	}
	a := do(t, s, "POST", "/v1/AuthTokens/Secondary", url.Values{}, sid, tok)
	if a.status != 201 {
		t.Fatalf("create: %d", a.status)
	}
	m := a.json(t)
	sec := secret.New(m["secondary_auth_token"].(string))
	if _, err := time.Parse(time.RFC3339, m["date_created"].(string)); err != nil {
		t.Errorf("v1 date not ISO 8601: %v", err)
	}
	a = do(t, s, "POST", "/v1/AuthTokens/Secondary", url.Values{}, sid, sec)
	if a.status != 400 || a.code(t) != 70002 || a.json(t)["message"] != "secondaryAuthToken already exists on account" {
		t.Fatalf("create twice: %d %s", a.status, a.body)
	}
	// The secondary promotes itself; the old primary dies at once.
	a = do(t, s, "POST", "/v1/AuthTokens/Promote", url.Values{}, sid, sec)
	if a.status != 200 || a.json(t)["auth_token"] != sec.Reveal() {
		t.Fatalf("promote: %d", a.status)
	}
	if s.Authenticates(sid, tok) || !s.Authenticates(sid, sec) {
		t.Fatal("promotion did not retire the old primary")
	}
	if p, sc := s.Tokens(sid); !p.Equal(sec) || !sc.IsZero() {
		t.Fatal("Tokens after promotion")
	}
	if a := do(t, s, "GET", acct(sid)+".json", nil, sid, sec); a.json(t)["auth_token"] != sec.Reveal() {
		t.Fatal("account auth_token is not the new primary")
	}
	twiliotest.CheckConformance(t, s.Calls())
}

func TestKeysAndPagination(t *testing.T) {
	s := twiliotest.NewServer(t)
	sid, tok := s.AddAccount(twiliotest.AccountSpec{})
	var sids []string
	for range 5 {
		k, _ := s.AddKey(sid, false)
		sids = append(sids, k)
	}
	list := acct(sid) + "/Keys.json"
	page := func(q string) map[string]any {
		t.Helper()
		a := do(t, s, "GET", list+q, nil, sid, tok)
		if a.status != 200 {
			t.Fatalf("GET %s: %d %s", q, a.status, a.body)
		}
		return a.json(t)
	}
	keysOf := func(m map[string]any) (out []string) {
		for _, k := range m["keys"].([]any) {
			out = append(out, k.(map[string]any)["sid"].(string))
		}
		return out
	}
	p0 := page("?PageSize=2")
	if got := keysOf(p0); len(got) != 2 || got[0] != sids[0] || p0["previous_page_uri"] != nil ||
		p0["first_page_uri"] != list+"?PageSize=2&Page=0" || p0["start"] != 0.0 || p0["end"] != 1.0 || p0["page_size"] != 2.0 {
		t.Fatalf("page 0: %v", p0)
	}
	next := p0["next_page_uri"].(string)
	if !strings.Contains(next, "PageToken=PA"+sids[1]) || !strings.Contains(next, "Page=1") {
		t.Fatalf("next_page_uri %q", next)
	}
	p1 := page(strings.TrimPrefix(next, list))
	if got := keysOf(p1); len(got) != 2 || got[0] != sids[2] || p1["start"] != 2.0 || p1["end"] != 3.0 {
		t.Fatalf("page 1: %v", p1)
	}
	p2 := page(strings.TrimPrefix(p1["next_page_uri"].(string), list))
	if got := keysOf(p2); len(got) != 1 || got[0] != sids[4] || p2["next_page_uri"] != nil {
		t.Fatalf("page 2: %v", p2)
	}
	back := page(strings.TrimPrefix(p2["previous_page_uri"].(string), list))
	if got := keysOf(back); len(got) != 2 || got[0] != sids[2] {
		t.Fatalf("previous of page 2: %v", back)
	}
	// The token survives deletion of the key it names.
	if a := do(t, s, "DELETE", acct(sid)+"/Keys/"+sids[1]+".json", nil, sid, tok); a.status != 204 || len(a.body) != 0 {
		t.Fatalf("delete: %d", a.status)
	}
	if got := keysOf(page(strings.TrimPrefix(next, list))); got[0] != sids[2] {
		t.Fatalf("token after deletion: %v", got)
	}
	for _, q := range []string{"?PageSize=0", "?PageSize=1001", "?PageSize=x", "?Page=-1", "?PageToken=zz", "?PageToken=PASK0"} {
		if a := do(t, s, "GET", list+q, nil, sid, tok); a.status != 400 {
			t.Errorf("%s: %d", q, a.status)
		}
	}
	if p := page(""); p["page_size"] != 50.0 || len(keysOf(p)) != 4 {
		t.Fatalf("default page: %v", p)
	}
}

func TestKeyCreateUpdate(t *testing.T) {
	s := twiliotest.NewServer(t)
	sid, tok := s.AddAccount(twiliotest.AccountSpec{})
	a := do(t, s, "POST", acct(sid)+"/Keys.json", url.Values{"FriendlyName": {"ci"}}, sid, tok)
	if a.status != 201 {
		t.Fatalf("create: %d", a.status)
	}
	m := a.json(t)
	ksid, ksec := m["sid"].(string), secret.New(m["secret"].(string))
	if !s.HasKey(sid, ksid) || !s.Authenticates(ksid, ksec) || m["friendly_name"] != "ci" {
		t.Fatalf("created key: %v", m)
	}
	kp := acct(sid) + "/Keys/" + ksid + ".json"
	a = do(t, s, "GET", kp, nil, sid, tok)
	if _, shown := a.json(t)["secret"]; shown || a.status != 200 {
		t.Fatal("secret shown after creation")
	}
	if a := do(t, s, "POST", kp, url.Values{"FriendlyName": {"renamed"}}, sid, tok); a.json(t)["friendly_name"] != "renamed" {
		t.Fatalf("update: %s", a.body)
	}
	if a := do(t, s, "POST", acct(sid)+"/Keys.json", url.Values{"FriendlyName": {strings.Repeat("x", 65)}}, sid, tok); a.status != 400 {
		t.Fatalf("long name: %d", a.status)
	}
	if a := do(t, s, "POST", acct(sid)+"/Keys.json", url.Values{}, sid, tok); a.status != 201 || a.json(t)["friendly_name"] != nil {
		t.Fatalf("no name: %d %s", a.status, a.body)
	}
	// A new key is Standard.
	if a := do(t, s, "GET", acct(sid)+"/Keys.json", nil, ksid, ksec); a.status != 401 {
		t.Fatalf("created key on /Keys: %d", a.status)
	}
	if a := do(t, s, "DELETE", kp, nil, sid, tok); a.status != 204 {
		t.Fatalf("delete: %d", a.status)
	}
	if s.Authenticates(ksid, ksec) || s.HasKey(sid, ksid) {
		t.Fatal("deleted key authenticates")
	}
	if a := do(t, s, "GET", kp, nil, sid, tok); a.status != 404 || a.code(t) != 20404 {
		t.Fatalf("fetch deleted: %d", a.status)
	}
}

func TestAccountsListCreateUpdate(t *testing.T) {
	s := twiliotest.NewServer(t)
	sid, tok := s.AddAccount(twiliotest.AccountSpec{FriendlyName: "parent"})
	a := do(t, s, "POST", "/2010-04-01/Accounts.json", url.Values{"FriendlyName": {"child"}}, sid, tok)
	if a.status != 201 {
		t.Fatalf("create subaccount: %d %s", a.status, a.body)
	}
	sub := a.json(t)
	subSID, subTok := sub["sid"].(string), secret.New(sub["auth_token"].(string))
	if sub["owner_account_sid"] != sid || !s.Authenticates(subSID, subTok) {
		t.Fatalf("subaccount: %v", sub["owner_account_sid"])
	}
	a = do(t, s, "GET", "/2010-04-01/Accounts.json", nil, sid, tok)
	if n := len(a.json(t)["accounts"].([]any)); n != 2 {
		t.Fatalf("parent lists %d accounts", n)
	}
	a = do(t, s, "GET", "/2010-04-01/Accounts.json?FriendlyName=child", nil, sid, tok)
	if n := len(a.json(t)["accounts"].([]any)); n != 1 {
		t.Fatalf("filtered list: %d", n)
	}
	if a := do(t, s, "POST", "/2010-04-01/Accounts.json", url.Values{}, subSID, subTok); a.status != 401 {
		t.Fatalf("subaccount creating a subaccount: %d", a.status)
	}
	if a := do(t, s, "POST", acct(subSID)+".json", url.Values{"Status": {"suspended"}}, sid, tok); a.status != 200 || a.json(t)["status"] != "suspended" {
		t.Fatalf("suspend subaccount: %d %s", a.status, a.body)
	}
	if s.Authenticates(subSID, subTok) {
		t.Fatal("suspended subaccount authenticates")
	}
	if a := do(t, s, "POST", acct(sid)+".json", url.Values{"Status": {"closed"}}, sid, tok); a.status != 400 {
		t.Fatalf("closing own main account: %d", a.status)
	}
	if a := do(t, s, "POST", acct(sid)+".json", url.Values{"FriendlyName": {"renamed"}}, sid, tok); a.json(t)["friendly_name"] != "renamed" {
		t.Fatalf("rename: %s", a.body)
	}
	if a := do(t, s, "POST", acct(subSID)+".json", url.Values{"Status": {"bogus"}}, sid, tok); a.status != 400 {
		t.Fatalf("bad status: %d", a.status)
	}
}

func TestFaults(t *testing.T) {
	s := twiliotest.NewServer(t)
	sid, tok := s.AddAccount(twiliotest.AccountSpec{})
	path := acct(sid) + ".json"
	s.Inject(twiliotest.Fault{Method: "GET", PathPrefix: path, Nth: 2, Times: 2, Status: 429, RetryAfter: 1500 * time.Millisecond})
	var got []int
	for range 5 {
		a := do(t, s, "GET", path, nil, sid, tok)
		got = append(got, a.status)
		if a.status == 429 && (a.header.Get("Retry-After") != "2" || a.code(t) != 20429) {
			t.Errorf("429: Retry-After %q code %d", a.header.Get("Retry-After"), a.code(t))
		}
	}
	if want := []int{200, 429, 429, 200, 200}; !equal(got, want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	// AfterEffect: applied, then failed.
	s.Inject(twiliotest.Fault{Method: "POST", PathPrefix: "/v1/AuthTokens/Secondary", Status: 500, AfterEffect: true})
	if a := do(t, s, "POST", "/v1/AuthTokens/Secondary", url.Values{}, sid, tok); a.status != 500 || a.code(t) != 20500 {
		t.Fatalf("after effect: %d", a.status)
	}
	if _, sec := s.Tokens(sid); sec.IsZero() {
		t.Fatal("AfterEffect did not apply the operation")
	}
	// 502 looks like a gateway, not Twilio.
	s.Inject(twiliotest.Fault{Method: "DELETE", Status: 502})
	if a := do(t, s, "DELETE", "/v1/AuthTokens/Secondary", nil, sid, tok); a.status != 502 || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") {
		t.Fatalf("502: %d %q", a.status, a.header.Get("Content-Type"))
	}
	// Drop: no answer at all.
	s.Inject(twiliotest.Fault{PathPrefix: "/v1/AuthTokens/Promote", Drop: true})
	req, _ := http.NewRequest("POST", s.URL()+"/v1/AuthTokens/Promote", nil)
	req.SetBasicAuth(sid, tok.Reveal())
	if resp, err := s.Options().HTTPClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("dropped connection answered")
	}
	calls := s.Calls()
	last := calls[len(calls)-1]
	if last.Status != 0 || !last.Fault || last.InFlight {
		t.Fatalf("dropped call record: %+v", last)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCallsNeverHoldSecrets(t *testing.T) {
	s := twiliotest.NewServer(t)
	sid, tok := s.AddAccount(twiliotest.AccountSpec{})
	_, ksec := s.AddKey(sid, true)
	a := do(t, s, "POST", "/v1/AuthTokens/Secondary", url.Values{}, sid, tok)
	sec := a.json(t)["secondary_auth_token"].(string)
	nk := do(t, s, "POST", acct(sid)+"/Keys.json", url.Values{"FriendlyName": {"x"}}, sid, tok).json(t)["secret"].(string)
	do(t, s, "GET", acct(sid)+".json", nil, sid, secret.New(sec))
	do(t, s, "GET", acct(sid), nil, sid, tok) // XML
	do(t, s, "POST", "/v1/AuthTokens/Promote", url.Values{}, sid, tok)
	for _, c := range s.Calls() {
		blob, _ := json.Marshal(c)
		for _, v := range []string{tok.Reveal(), ksec.Reveal(), sec, nk} {
			if strings.Contains(string(blob), v) || strings.Contains(string(c.Response), v) {
				t.Errorf("%s %s: call record holds a secret", c.Method, c.Path)
			}
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	s := twiliotest.NewServer(t)
	sid, tok := s.AddAccount(twiliotest.AccountSpec{})
	s.Inject(twiliotest.Fault{Method: "GET", Nth: 3, Times: 5, Status: 503})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			var err error
			switch i % 4 {
			case 0:
				_, err = send(s, "GET", acct(sid)+"/Keys.json", nil, sid, tok)
			case 1:
				_, err = send(s, "POST", acct(sid)+"/Keys.json", url.Values{}, sid, tok)
			case 2:
				_, err = send(s, "POST", "/v1/AuthTokens/Secondary", url.Values{}, sid, tok)
			default:
				s.AddKey(sid, false)
				_ = s.Calls()
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(s.Calls()); n != 12 {
		t.Fatalf("calls = %d", n)
	}
}
