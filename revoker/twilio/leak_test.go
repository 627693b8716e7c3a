package twilio_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/revoker/twilio/twiliotest"
	"github.com/leakstop/leakstop/secret"
)

// renderings is every way a value might end up in a log line.
func renderings(v any) []string {
	out := []string{fmt.Sprint(v), fmt.Sprintf("%v|%+v|%#v|%s|%q", v, v, v, v, v)}
	if b, err := json.Marshal(v); err == nil {
		out = append(out, string(b))
	}
	if err, ok := v.(error); ok && err != nil {
		out = append(out, err.Error())
	}
	return out
}

func TestNoSecretInErrorsOrCalls(t *testing.T) {
	e := newEnv(t, func(o *twilio.Options) { o.Timeout = 500 * time.Millisecond })
	ctx := context.Background()
	secrets := []secret.Value{e.primary}
	sec := e.srv.SetSecondary(e.sid)
	secrets = append(secrets, sec)
	mainSID, mainSecret := e.srv.AddKey(e.sid, true)
	stdSID, stdSecret := e.srv.AddKey(e.sid, false)
	secrets = append(secrets, mainSecret, stdSecret)
	testSID, testTok := e.srv.AddAccount(twiliotest.AccountSpec{Test: true})
	secrets = append(secrets, testTok)
	wrong := secret.New(randHex(16))
	secrets = append(secrets, wrong)

	var seen []any
	keep := func(vs ...any) { seen = append(seen, vs...) }

	// Error paths of every kind.
	keep(e.c.Verify(ctx, e.sid, cred(e.sid, wrong)))
	keep(e.c.Verify(ctx, e.sid, cred(stdSID, stdSecret)))
	keep(e.c.Verify(ctx, testSID, cred(testSID, testTok)))
	keep(e.c.Verify(ctx, "", cred(mainSID, wrong)))
	keep(e.c.Verify(ctx, e.sid, cred(wrong.Reveal(), wrong))) // a token pasted as username
	_, err := e.c.CreateSecondaryAuthToken(ctx, cred(e.sid, sec))
	keep(err)
	_, err = e.c.ListKeys(ctx, e.sid, cred(stdSID, stdSecret))
	keep(err)
	keep(e.c.DeleteKey(ctx, e.sid, "SK"+randHex(16), e.cred()))
	keep(e.c.DeleteKey(ctx, e.sid, "SK"+randHex(16), cred(e.sid, secret.Value{})))

	e.srv.Inject(twiliotest.Fault{Method: "POST", PathPrefix: promotePath, Status: 500, AfterEffect: true})
	p, err := e.c.PromoteSecondaryAuthToken(ctx, e.cred())
	keep(p, err)
	e.srv.Inject(twiliotest.Fault{Method: "POST", PathPrefix: keysPath(e.sid), Delay: 3 * time.Second})
	_, err = e.c.CreateKey(ctx, e.sid, "k", cred(e.sid, sec))
	keep(err)
	e.srv.Inject(twiliotest.Fault{Method: "GET", Drop: true})
	keep(e.c.Verify(ctx, e.sid, cred(e.sid, sec)))
	e.srv.ClearFaults()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = e.c.FetchAccount(cctx, e.sid, cred(e.sid, sec))
	keep(err)

	// Success values hold secrets only as secret.Value.
	nk, err := e.c.CreateKey(ctx, e.sid, "k2", cred(e.sid, sec))
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, nk.Secret)
	st, err := e.c.CreateSecondaryAuthToken(ctx, cred(mainSID, mainSecret))
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, st.Token)
	v := e.c.Verify(ctx, e.sid, cred(e.sid, sec))
	keep(nk, st, v, v.Account, cred(e.sid, sec))
	// Values without secret fields are safe even nested under a bad verb,
	// where fmt skips Format methods (secret.Value itself is not, see below).
	nested := struct {
		V *twilio.Verification
		A *twilio.Account
	}{&v, v.Account}
	badVerbs := "%s %d %x"
	keep(fmt.Sprintf(badVerbs, nested, nested, nested))

	for _, c := range e.srv.Calls() {
		keep(c, string(c.Response))
	}
	for _, x := range seen {
		for _, s := range renderings(x) {
			for _, sv := range secrets {
				if strings.Contains(s, sv.Reveal()) {
					t.Errorf("secret %s revealed in %s", sv, s)
				}
			}
		}
	}
}

// A server that echoes the password into its messages must not get it into
// our errors.
func TestServerEchoIsScrubbed(t *testing.T) {
	pw := randHex(16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, p, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		if r.Method == "POST" {
			w.WriteHeader(500)
		} else {
			w.WriteHeader(400)
		}
		_, _ = fmt.Fprintf(w, `{"code":20001,"message":"bad password %s","more_info":"https://www.twilio.com/docs/errors/20001?p=%s","status":400}`, p, p)
	}))
	defer srv.Close()
	c := twilio.New(twilio.Options{APIBaseURL: srv.URL, AccountsBaseURL: srv.URL, HTTPClient: srv.Client(), MaxRetries: -1})
	sid := "AC" + randHex(16)
	_, err1 := c.FetchAccount(context.Background(), sid, cred(sid, secret.New(pw)))
	_, err2 := c.CreateSecondaryAuthToken(context.Background(), cred(sid, secret.New(pw)))
	for _, err := range []error{err1, err2} {
		if err == nil {
			t.Fatal("want error")
		}
		for _, s := range renderings(err) {
			if strings.Contains(s, pw) {
				t.Errorf("password echoed: %s", s)
			}
		}
	}
}

// A malformed success body holding a new secret must not be quoted.
func TestMalformedBodyNotQuoted(t *testing.T) {
	tok := randHex(16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		_, _ = fmt.Fprintf(w, `{"secondary_auth_token": %s}`, tok)
	}))
	defer srv.Close()
	c := twilio.New(twilio.Options{AccountsBaseURL: srv.URL, HTTPClient: srv.Client()})
	sid := "AC" + randHex(16)
	_, err := c.CreateSecondaryAuthToken(context.Background(), cred(sid, secret.New(randHex(16))))
	if !twilio.IsUnknownOutcome(err) {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), tok[:12]) {
		t.Fatalf("body quoted: %v", err)
	}
}

// twilioPlaceholder matches the example SIDs of Twilio's OpenAPI files
// (ACaaaa…a, SKaaaa…ab): not credentials, and only allowed there.
var twilioPlaceholder = regexp.MustCompile(`^(AC|SK)a{31}[ab]$`)

// No file of this package tree may hold a credential-shaped literal, but
// for Twilio's documentation placeholders in the copied OpenAPI files.
func TestNoCredentialShapedLiterals(t *testing.T) {
	shapes := []*regexp.Regexp{
		regexp.MustCompile(`(AC|SK)[0-9a-fA-F]{32}`),
		regexp.MustCompile(`(^|[^0-9a-zA-Z])[0-9a-fA-F]{32}([^0-9a-zA-Z]|$)`),
	}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		spec := strings.HasPrefix(filepath.ToSlash(path), "twiliotest/testdata/openapi/")
		for _, re := range shapes {
			for _, m := range re.FindAll(data, -1) {
				if spec && twilioPlaceholder.Match(m) {
					continue
				}
				t.Errorf("%s holds a credential-shaped literal (%s…)", path, m[:6])
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
