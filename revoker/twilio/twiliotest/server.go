// Package twiliotest is a faithful fake of the part of Twilio's REST API
// that leakstop uses, built from Twilio's OpenAPI files in shared/api
// (twilio_api_v2010.accounts_keys.json, twilio_accounts_v1.authtokens.json)
// and shared/api/TWILIO.md, with fault injection.
//
// One httptest.Server serves both hosts: the api.twilio.com paths
// (/2010-04-01/Accounts…) and the accounts.twilio.com paths
// (/v1/AuthTokens/…) and the iam.twilio.com paths (/v1/Keys…), so every
// base URL points at Server.URL.
//
// Modelled behaviour:
//   - HTTP Basic on every call. A missing or malformed Authorization header
//     gets 401 / 20003 with WWW-Authenticate. An Account SID authenticates
//     with its primary or (while one exists) its secondary Auth Token; an API
//     key SID with its secret. Suspended or closed accounts, wrong or retired
//     tokens and deleted keys get 401 / 20003.
//   - Test credentials (AccountSpec.Test) get 403 / 20008 on every endpoint.
//   - /Accounts and /Keys paths: the account's own Auth Token, the Auth Token
//     of its parent account, or a Main key of that very account. A Standard
//     key, a Main key of another account, or credentials of an account that
//     is not the one in the URL (nor its parent) get 401 / 20003 — Twilio's
//     documented answer for "subaccount credentials used on the main account
//     or another subaccount"; the fake never reveals with a 404 whether a
//     foreign account exists. /v1/AuthTokens acts on the authenticated
//     account and refuses Standard keys (401 / 20003) as account
//     configuration.
//   - Unknown paths: 404 / 20404. Known paths with another method: 405 /
//     20004 with Allow. v2010 paths without .json (or with .xml) are answered
//     in XML, as Twilio does, so a client that forgets the suffix fails.
//   - Secondary Auth Token: create 201 (400 / 70002 if one exists), delete
//     204, promote 200 (404 / 20404 for both when there is none). Promotion
//     retires the old primary at once.
//   - API keys: list (PageSize 1..1000, default 50; Page; PageToken PA<sid> /
//     PB<sid>; the spec's meta fields), fetch, update, delete (204, the key
//     stops authenticating), create (201, a Standard key, its secret shown
//     only then). Keys have a type (AddTypedKey): Standard, Restricted (with
//     a policy) or Main; only Main keys may use /Accounts, /Keys, /v1/Keys
//     and /v1/AuthTokens, the others get 401 / 20003 there.
//   - IAM v1 keys (see iam.go): create Standard or Restricted keys, fetch
//     with policy, list with flags, update, delete.
//   - Accounts: fetch, list (the account and, for Auth Token callers, its
//     subaccounts), update (FriendlyName; Status of subaccounts), create a
//     subaccount.
//
// Bodies carry every property the spec lists, with its JSON type, v2010
// dates in RFC 2822 and v1 dates in ISO 8601; errors have the shape
// {"code","message","more_info","status"}. Parameter errors that the spec
// does not document (a PageSize out of range, a FriendlyName over 64
// characters) answer 400 with code 20001; that code is an assumption.
//
// The Server is safe for concurrent use. Calls() lists every request as it
// arrives (InFlight until answered), without its password, and response
// bodies with secrets redacted.
//
// Conformance: LoadSpec, Spec.CheckCall and CheckConformance check recorded
// calls against the OpenAPI files, found by FindSpecDir
// ($LEAKSTOP_TWILIO_OPENAPI_DIR, else the copy of Twilio's files in
// testdata/openapi). Tests of other packages can run them over their own
// calls.
package twiliotest

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/secret"
)

// Server is the fake Twilio.
type Server struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	accounts map[string]*account
	acctSeq  map[string]uint64
	keys     map[string]*apiKey
	keySeq   map[string]uint64 // every key ever made, for page tokens
	seq      uint64
	faults   []*faultState
	observe  []func(Call)
	calls    []Call
	callGen  int // bumped by ResetCalls
}

// NewServer starts a fake Twilio that is closed by t.Cleanup.
func NewServer(t testing.TB) *Server {
	s := &Server{
		t:        t,
		accounts: map[string]*account{},
		acctSeq:  map[string]uint64{},
		keys:     map[string]*apiKey{},
		keySeq:   map[string]uint64{},
	}
	s.srv = httptest.NewServer(s)
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the base URL for both Twilio hosts.
func (s *Server) URL() string { return s.srv.URL }

// Options returns client options aimed at the fake, with short back-offs.
func (s *Server) Options() twilio.Options {
	return twilio.Options{
		APIBaseURL:      s.srv.URL,
		AccountsBaseURL: s.srv.URL,
		IAMBaseURL:      s.srv.URL,
		HTTPClient:      s.srv.Client(),
		Timeout:         5 * time.Second,
		MaxRetries:      4,
		MinBackoff:      time.Millisecond,
		MaxBackoff:      20 * time.Millisecond,
		UserAgent:       "leakstop-twiliotest",
	}
}

func (s *Server) now() time.Time { return time.Now().UTC().Truncate(time.Second) }

// Observe registers f to be called after every request has taken effect,
// before its answer is sent (a test checks invariants there, at every
// change of the fake's state). f must not call Observe.
func (s *Server) Observe(f func(Call)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observe = append(s.observe, f)
}

// ServeHTTP answers one request, applying any injected fault, and records it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	user, _, _ := r.BasicAuth()
	c := Call{
		Method:      r.Method,
		Path:        r.URL.Path,
		Query:       r.URL.Query(),
		AuthUser:    user,
		ContentType: r.Header.Get("Content-Type"),
	}
	if r.Method == http.MethodPost {
		_ = r.ParseForm()
		c.Form = cloneValues(r.PostForm)
	}

	finish := s.begin(c)
	f, faulted := s.matchFault(r.Method, r.URL.Path)
	var resp response
	if !faulted {
		resp = s.handle(r)
	} else {
		c.Fault = true
		var applied response
		if f.AfterEffect {
			applied = s.handle(r)
		}
		if f.Delay > 0 && !wait(r, f.Delay) {
			finish(c) // the client left: nothing delivered
			return
		}
		switch {
		case f.Drop:
			finish(c)
			drop(w)
			return
		case f.Status != 0:
			resp = faultResponse(f)
		case f.AfterEffect:
			resp = applied
		default:
			resp = s.handle(r)
		}
	}
	format := formatOf(r.URL.Path)
	ct, body := resp.render(format)
	c.Status = resp.status
	c.ResponseType = ct
	_, c.Response = resp.redacted().render(format)
	finish(c) // before writing, so a client that got the answer sees the record
	s.mu.Lock()
	obs := slices.Clone(s.observe)
	s.mu.Unlock()
	for _, f := range obs {
		f(c)
	}

	h := w.Header()
	for k, v := range resp.header {
		h[k] = v
	}
	if ct != "" {
		h.Set("Content-Type", ct)
	}
	h.Set("Twilio-Request-Id", "RQ"+randHex(16))
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Headers", "Accept, Authorization, Content-Type, If-Match, If-Modified-Since, If-None-Match, If-Unmodified-Since")
	h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
	w.WriteHeader(resp.status)
	_, _ = w.Write(body)
}

func wait(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// drop closes the connection without a response.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// route is a recognised path.
type route struct {
	kind    routeKind
	account string // AccountSid or Sid of an account path
	key     string // Sid of a key path
}

type routeKind int

const (
	routeUnknown routeKind = iota
	routeAccounts
	routeAccount
	routeKeys
	routeKey
	routeSecondary
	routePromote
	routeIAMKeys // /v1/Keys
	routeIAMKey  // /v1/Keys/{Sid}
)

func (k routeKind) methods() []string {
	switch k {
	case routeAccounts, routeAccount, routeKeys:
		return []string{http.MethodGet, http.MethodPost}
	case routeKey:
		return []string{http.MethodGet, http.MethodPost, http.MethodDelete}
	case routeSecondary:
		return []string{http.MethodPost, http.MethodDelete}
	case routePromote:
		return []string{http.MethodPost}
	case routeIAMKeys:
		return []string{http.MethodGet, http.MethodPost}
	case routeIAMKey:
		return []string{http.MethodGet, http.MethodPost, http.MethodDelete}
	}
	return nil
}

const v2010 = "/2010-04-01/"

// formatOf is the body format Twilio uses for a path: v2010 answers XML
// unless the path ends in .json.
func formatOf(path string) string {
	if strings.HasPrefix(path, v2010) && !strings.HasSuffix(path, ".json") {
		return "xml"
	}
	return "json"
}

func parseRoute(path string) route {
	switch path {
	case "/v1/AuthTokens/Secondary":
		return route{kind: routeSecondary}
	case "/v1/AuthTokens/Promote":
		return route{kind: routePromote}
	case "/v1/Keys":
		return route{kind: routeIAMKeys}
	}
	if sid, ok := strings.CutPrefix(path, "/v1/Keys/"); ok && sid != "" && !strings.Contains(sid, "/") {
		return route{kind: routeIAMKey, key: sid}
	}
	rest, ok := strings.CutPrefix(path, v2010)
	if !ok {
		return route{}
	}
	if r, ok := strings.CutSuffix(rest, ".json"); ok {
		rest = r
	} else if r, ok := strings.CutSuffix(rest, ".xml"); ok {
		rest = r
	}
	seg := strings.Split(rest, "/")
	for _, s := range seg {
		if s == "" {
			return route{}
		}
	}
	switch {
	case len(seg) == 1 && seg[0] == "Accounts":
		return route{kind: routeAccounts}
	case len(seg) == 2 && seg[0] == "Accounts":
		return route{kind: routeAccount, account: seg[1]}
	case len(seg) == 3 && seg[0] == "Accounts" && seg[2] == "Keys":
		return route{kind: routeKeys, account: seg[1]}
	case len(seg) == 4 && seg[0] == "Accounts" && seg[2] == "Keys":
		return route{kind: routeKey, account: seg[1], key: seg[3]}
	}
	return route{}
}

// handle applies the request to the state and returns the answer.
func (s *Server) handle(r *http.Request) response {
	rt := parseRoute(r.URL.Path)
	if rt.kind == routeUnknown {
		return notFound(r.URL.Path)
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user == "" {
		return unauthorized("Authentication Error - No credentials provided")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.authenticateLocked(user, secret.New(pass))
	if !ok {
		return unauthorized("Authenticate")
	}
	if !methodAllowed(rt.kind, r.Method) {
		resp := errorResponse(http.StatusMethodNotAllowed, 20004, "Method not allowed")
		resp.header = http.Header{"Allow": {strings.Join(rt.kind.methods(), ", ")}}
		return resp
	}
	if p.acct.test {
		return errorResponse(http.StatusForbidden, 20008, "Resource not accessible with Test Account Credentials")
	}
	switch rt.kind {
	case routeAccounts:
		if p.key != nil && !p.key.main {
			return unauthorized("Authenticate")
		}
		if r.Method == http.MethodGet {
			return s.listAccounts(r, p)
		}
		return s.createAccount(r, p)
	case routeAccount, routeKeys, routeKey:
		if !s.mayUseAccount(p, rt.account) {
			return unauthorized("Authenticate")
		}
		return s.accountRoute(r, p, rt)
	case routeIAMKeys, routeIAMKey:
		return s.iamKeys(r, p, rt)
	default: // the v1 AuthTokens paths
		if p.key != nil && !p.key.main {
			return unauthorized("Authenticate")
		}
		return s.authTokens(r, p.acct, rt.kind)
	}
}

func (s *Server) accountRoute(r *http.Request, p principal, rt route) response {
	switch rt.kind {
	case routeAccount:
		if r.Method == http.MethodGet {
			return response{status: http.StatusOK, xmlName: "Account", body: s.accountBody(s.accounts[rt.account])}
		}
		return s.updateAccount(r, p, s.accounts[rt.account])
	case routeKeys:
		if r.Method == http.MethodGet {
			return s.listKeys(r, rt.account)
		}
		return s.createKey(r, rt.account)
	}
	k := s.keys[rt.key]
	if k == nil || k.account != rt.account {
		return notFound(r.URL.Path)
	}
	switch r.Method {
	case http.MethodGet:
		return response{status: http.StatusOK, xmlName: "Key", body: keyBody(k)}
	case http.MethodPost:
		return s.updateKey(r, k)
	default:
		delete(s.keys, k.sid)
		return response{status: http.StatusNoContent}
	}
}

func methodAllowed(k routeKind, m string) bool {
	for _, a := range k.methods() {
		if a == m {
			return true
		}
	}
	return false
}
