package twilio_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/revoker/twilio/twiliotest"
	"github.com/leakstop/leakstop/secret"
)

var keySecretRe = regexp.MustCompile(`^[A-Za-z0-9]{32}$`)

func TestKeyLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	nk, err := e.c.CreateKey(ctx, e.sid, "leakstop rotation", e.cred())
	if err != nil {
		t.Fatal(err)
	}
	if !twilio.IsKeySID(nk.SID) || nk.FriendlyName != "leakstop rotation" || nk.DateCreated.IsZero() || !keySecretRe.MatchString(nk.Secret.Reveal()) {
		t.Fatalf("new key = %+v", nk)
	}
	if !e.srv.HasKey(e.sid, nk.SID) || !e.srv.Authenticates(nk.SID, nk.Secret) {
		t.Fatal("created key missing or not authenticating")
	}
	calls := e.srv.Calls()
	if last := calls[len(calls)-1]; last.Form.Get("FriendlyName") != "leakstop rotation" || last.ContentType != "application/x-www-form-urlencoded" {
		t.Fatalf("create request: form %v, content type %q", last.Form, last.ContentType)
	}

	k, err := e.c.FetchKey(ctx, e.sid, nk.SID, e.cred())
	if err != nil || k.SID != nk.SID || k.FriendlyName != nk.FriendlyName {
		t.Fatalf("FetchKey = %+v, %v", k, err)
	}
	keys, err := e.c.ListKeys(ctx, e.sid, e.cred())
	if err != nil || len(keys) != 1 || keys[0].SID != nk.SID {
		t.Fatalf("ListKeys = %+v, %v", keys, err)
	}

	// Keys made through the API are Standard: no access to /Keys.
	if _, err := e.c.ListKeys(ctx, e.sid, cred(nk.SID, nk.Secret)); !twilio.IsAuth(err) {
		t.Fatalf("standard key listing keys: %v", err)
	}

	if err := e.c.DeleteKey(ctx, e.sid, nk.SID, e.cred()); err != nil {
		t.Fatal(err)
	}
	if e.srv.HasKey(e.sid, nk.SID) || e.srv.Authenticates(nk.SID, nk.Secret) {
		t.Fatal("deleted key still there")
	}
	if _, err := e.c.FetchKey(ctx, e.sid, nk.SID, e.cred()); !twilio.IsNotFound(err) {
		t.Fatalf("fetch deleted key: %v", err)
	}
	if err := e.c.DeleteKey(ctx, e.sid, nk.SID, e.cred()); !twilio.IsNotFound(err) {
		t.Fatalf("delete deleted key: %v", err)
	}
}

func TestMainKeyManagesKeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mainSID, mainSecret := e.srv.AddKey(e.sid, true)
	victim, _ := e.srv.AddKey(e.sid, false)
	mk := cred(mainSID, mainSecret)
	if _, err := e.c.ListKeys(ctx, e.sid, mk); err != nil {
		t.Fatal(err)
	}
	if err := e.c.DeleteKey(ctx, e.sid, victim, mk); err != nil {
		t.Fatal(err)
	}
	other, _ := e.srv.AddAccount(twiliotest.AccountSpec{})
	if _, err := e.c.ListKeys(ctx, other, mk); !twilio.IsAuth(err) {
		t.Fatalf("main key on another account: %v", err)
	}
}

func TestCreateKeyArguments(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	nk, err := e.c.CreateKey(ctx, e.sid, "", e.cred())
	if err != nil || nk.FriendlyName != "" {
		t.Fatalf("no name: %+v, %v", nk, err)
	}
	if f := e.srv.Calls()[0].Form; f.Has("FriendlyName") {
		t.Errorf("empty FriendlyName was sent: %v", f)
	}
	if _, err := e.c.CreateKey(ctx, e.sid, strings.Repeat("é", 65), e.cred()); !errors.Is(err, twilio.ErrInvalidArgument) {
		t.Fatalf("long name: %v", err)
	}
	if _, err := e.c.FetchKey(ctx, e.sid, "SK123", e.cred()); !errors.Is(err, twilio.ErrInvalidArgument) {
		t.Fatalf("bad key SID: %v", err)
	}
	if len(e.srv.Calls()) != 1 {
		t.Errorf("invalid arguments reached the server")
	}
}

func TestKeyOfAnotherAccount(t *testing.T) {
	e := newEnv(t)
	other, otherTok := e.srv.AddAccount(twiliotest.AccountSpec{})
	k, _ := e.srv.AddKey(other, false)
	ctx := context.Background()
	if _, err := e.c.FetchKey(ctx, other, k, e.cred()); !twilio.IsAuth(err) {
		t.Fatalf("foreign account path: %v", err)
	}
	// The key under the wrong (but own) account is simply not there.
	if _, err := e.c.FetchKey(ctx, e.sid, k, e.cred()); !twilio.IsNotFound(err) {
		t.Fatalf("key under the wrong account: %v", err)
	}
	if err := e.c.DeleteKey(ctx, other, k, cred(other, otherTok)); err != nil {
		t.Fatal(err)
	}
}

func TestListKeysPagination(t *testing.T) {
	e := newEnv(t)
	var want []string
	for range 250 {
		k, _ := e.srv.AddKey(e.sid, false)
		want = append(want, k)
	}
	keys, err := e.c.ListKeys(context.Background(), e.sid, e.cred())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(want) {
		t.Fatalf("got %d keys, want %d", len(keys), len(want))
	}
	for i := range want {
		if keys[i].SID != want[i] {
			t.Fatalf("key %d out of order", i)
		}
	}
	var pages []twiliotest.Call
	for _, c := range e.srv.Calls() {
		if c.Path == keysPath(e.sid) {
			pages = append(pages, c)
		}
	}
	if len(pages) != 3 {
		t.Fatalf("pages fetched = %d, want 3", len(pages))
	}
	if pages[0].Query.Has("PageToken") || !strings.HasPrefix(pages[1].Query.Get("PageToken"), "PA") || pages[2].Query.Get("Page") != "2" {
		t.Errorf("page queries: %v / %v / %v", pages[0].Query, pages[1].Query, pages[2].Query)
	}
}

func TestListKeysEmpty(t *testing.T) {
	e := newEnv(t)
	keys, err := e.c.ListKeys(context.Background(), e.sid, e.cred())
	if err != nil || len(keys) != 0 {
		t.Fatalf("ListKeys = %v, %v", keys, err)
	}
}

// pageServer answers every keys list with the given next_page_uri.
func pageServer(t *testing.T, next func(self string) string) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[],"next_page_uri":"` + next(srv.URL) + `"}`))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestListKeysRefusesForeignNextPage(t *testing.T) {
	var evilHits atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { evilHits.Add(1) }))
	defer evil.Close()
	sid := "AC" + randHex(16)
	c := cred(sid, secret.New(randHex(16)))
	for name, next := range map[string]func(string) string{
		"other host":        func(string) string { return evil.URL + keysPath(sid) + "?Page=1" },
		"scheme-relative":   func(string) string { return "//" + strings.TrimPrefix(evil.URL, "http://") + keysPath(sid) },
		"other path":        func(string) string { return "/2010-04-01/Accounts/" + sid + ".json" },
		"repeating forever": func(string) string { return keysPath(sid) + "?Page=1" },
	} {
		srv, _ := pageServer(t, next)
		cl := twilio.New(twilio.Options{APIBaseURL: srv.URL, HTTPClient: srv.Client()})
		if _, err := cl.ListKeys(context.Background(), sid, c); !errors.Is(err, twilio.ErrMalformedResponse) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if evilHits.Load() != 0 {
		t.Fatal("credentials were sent to another host")
	}
}

func TestListKeysAbsoluteSameHostNextPage(t *testing.T) {
	sid := "AC" + randHex(16)
	var page atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if page.Add(1) == 1 {
			_, _ = w.Write([]byte(`{"keys":[{"sid":"SK` + randHex(16) + `"}],"next_page_uri":"` + srv.URL + keysPath(sid) + `?Page=1"}`))
			return
		}
		_, _ = w.Write([]byte(`{"keys":[{"sid":"SK` + randHex(16) + `"}],"next_page_uri":null}`))
	}))
	defer srv.Close()
	cl := twilio.New(twilio.Options{APIBaseURL: srv.URL, HTTPClient: srv.Client()})
	keys, err := cl.ListKeys(context.Background(), sid, cred(sid, secret.New(randHex(16))))
	if err != nil || len(keys) != 2 {
		t.Fatalf("ListKeys = %v, %v", keys, err)
	}
}
