package revoker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/leakstop/leakstop/credential"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/revoker/twilio/twiliotest"
	"github.com/leakstop/leakstop/secret"
	"github.com/leakstop/leakstop/state"
	"github.com/leakstop/leakstop/state/storetest"
)

// memSink records deliveries; it fails while fail is set, and on its next
// failTimes deliveries. initial is what it held before any delivery (the
// credential in use). A delivery under a cancelled context (a killed run)
// does nothing.
type memSink struct {
	name      string
	mu        sync.Mutex
	got       []Delivery
	initial   Delivery
	fail      error
	failTimes int
	failed    int
	onDeliver func() // called after each delivery, without the lock
}

func (s *memSink) Name() string { return s.name }

func (s *memSink) Deliver(ctx context.Context, d Delivery) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.fail != nil || s.failTimes > 0 {
		s.failed++
		if s.failTimes > 0 {
			s.failTimes--
		}
		err := s.fail
		s.mu.Unlock()
		if err == nil {
			err = errors.New("exit status 3")
		}
		return err
	}
	s.got = append(s.got, d)
	f := s.onDeliver
	s.mu.Unlock()
	if f != nil {
		f()
	}
	return nil
}

// holding is what the sink holds now: its last delivery, or its initial
// content.
func (s *memSink) holding() Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.got) == 0 {
		return s.initial
	}
	return s.got[len(s.got)-1]
}

func (s *memSink) last() (Delivery, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.got) == 0 {
		return Delivery{}, false
	}
	return s.got[len(s.got)-1], true
}

func (s *memSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// memNotifier records messages.
type memNotifier struct {
	name string
	mu   sync.Mutex
	msgs []Message
	fail error
}

func (n *memNotifier) Name() string { return n.name }

func (n *memNotifier) Notify(_ context.Context, m Message) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.msgs = append(n.msgs, m)
	return n.fail
}

func (n *memNotifier) messages() []Message {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Message(nil), n.msgs...)
}

// env is a fake Twilio, a store and a configuration for one test.
type env struct {
	t        *testing.T
	fake     *twiliotest.Server
	client   *twilio.Client
	dsn      string
	backend  string
	acct     string       // an owned account
	primary  secret.Value // its primary at the start
	tokenEnv map[string]string
	cfg      Config
	sinks    map[string]*memSink
	notes    *memNotifier
	logs     *syncBuffer
	stores   []state.Store
	// promoteAfterEffect: faults on Promote apply the promotion.
	promoteAfterEffect bool
	// violations of "every sink holds a credential Twilio accepts" (watch)
	violations   []string
	violationsMu *sync.Mutex
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type envOpt func(*env)

// withOwnerCred configures credential_env for the owned account.
func withOwnerCred(e *env) {
	e.cfg.Accounts[0].CredentialEnv = "TWILIO_OWNER_TOKEN"
	e.tokenEnv["TWILIO_OWNER_TOKEN"] = e.primary.Reveal()
}

func withBackend(b storetest.Backend) envOpt {
	return func(e *env) { e.backend, e.dsn = b.Name, b.DSN(e.t) }
}

func newEnv(t *testing.T, opts ...envOpt) *env {
	t.Helper()
	fake := twiliotest.NewServer(t)
	sid, primary := fake.AddAccount(twiliotest.AccountSpec{FriendlyName: "production"})
	e := &env{
		t: t, fake: fake, client: twilio.New(fake.Options()), acct: sid, primary: primary,
		tokenEnv: map[string]string{}, notes: &memNotifier{name: "people"}, logs: &syncBuffer{},
		sinks: map[string]*memSink{
			"gh-token": {name: "github-repo:acme/app:TWILIO_AUTH_TOKEN"},
			"vault":    {name: "command:vault"},
			"gh-key":   {name: "github-repo:acme/app:TWILIO_API_SECRET"},
		},
		backend: "sqlite",
		dsn:     storetest.SQLite(t),
	}
	e.cfg = Config{
		Mode:     ModeApply,
		LockTTL:  Duration(time.Second),
		LockWait: Duration(5 * time.Second),
		Accounts: []AccountConfig{{SID: sid, Name: "production", Sinks: []string{"gh-token", "vault", "gh-key"}, Notifiers: []string{"people"}}},
		Sinks: []SinkConfig{
			{Name: "gh-token", Type: SinkGitHubSecret, Owner: "acme", Repo: "app", Secret: "TWILIO_AUTH_TOKEN"},
			{Name: "vault", Type: SinkCommand, Command: []string{"vault-put"}},
			{Name: "gh-key", Type: SinkGitHubSecret, Kind: KindAPIKey, Owner: "acme", Repo: "app", Secret: "TWILIO_API_SECRET", KeySIDSecret: "TWILIO_API_KEY"},
		},
		Notifiers: []NotifierConfig{{Name: "people", Type: NotifierWebhook, URLEnv: "HOOK"}},
	}
	e.sinks["gh-token"].initial = Delivery{AccountSID: sid, Kind: KindAuthToken, Secret: primary}
	e.sinks["vault"].initial = Delivery{AccountSID: sid, Kind: KindAuthToken, Secret: primary}
	for _, o := range opts {
		o(e)
	}
	return e
}

// watch checks, after every request the fake Twilio answers and after
// every sink delivery, that each sink holds a credential Twilio accepts at
// that moment. Violations are reported by checkHeld.
func (e *env) watch() {
	var mu sync.Mutex
	check := func(when string) {
		for name, s := range e.sinks {
			h := s.holding()
			if h.Secret.IsZero() {
				continue
			}
			user := h.AccountSID
			if h.Kind == KindAPIKey {
				user = h.KeySID
			}
			if !e.fake.Authenticates(user, h.Secret) {
				mu.Lock()
				e.violations = append(e.violations, fmt.Sprintf("after %s: sink %s holds a credential Twilio rejects", when, name))
				mu.Unlock()
			}
		}
	}
	e.fake.Observe(func(c twiliotest.Call) { check(c.Method + " " + c.Path) })
	for name, s := range e.sinks {
		s.onDeliver = func() { check("a delivery to " + name) }
	}
	e.violationsMu = &mu
}

// checkHeld fails the test if a sink ever held a rejected credential.
func (e *env) checkHeld(t *testing.T) {
	t.Helper()
	e.violationsMu.Lock()
	defer e.violationsMu.Unlock()
	for i, v := range e.violations {
		if i == 5 {
			t.Errorf("… and %d more", len(e.violations)-5)
			break
		}
		t.Error(v)
	}
}

// store opens a new handle on the test database (as another process would).
func (e *env) store() state.Store {
	e.t.Helper()
	s, err := state.Open(context.Background(), e.dsn, state.Options{})
	if err != nil {
		e.t.Fatalf("open store: %v", err)
	}
	e.t.Cleanup(func() { s.Close() })
	e.stores = append(e.stores, s)
	return s
}

// revoker builds a Revoker on a new store handle.
func (e *env) revoker(mutate ...func(*Deps)) *Revoker {
	e.t.Helper()
	sinks := map[string]Sink{}
	for k, v := range e.sinks {
		sinks[k] = v
	}
	d := Deps{
		Store: e.store(), Twilio: e.client, Sinks: sinks,
		Notifiers: map[string]Notifier{"people": e.notes},
		Getenv:    func(k string) string { return e.tokenEnv[k] },
		Log:       slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Sleep:     func(ctx context.Context, d time.Duration) error { return ctx.Err() },
	}
	for _, m := range mutate {
		m(&d)
	}
	rv, err := New(e.cfg, d)
	if err != nil {
		e.t.Fatalf("New: %v", err)
	}
	rv.confirmDelays = []time.Duration{time.Millisecond, time.Millisecond}
	return rv
}

func (e *env) tokenLeak() Leak {
	return Leak{
		Fingerprint: "fp-" + e.primary.Reveal()[:6], Kind: KindAuthToken, AccountSID: e.acct, Secret: e.primary,
		Locations: []Location{{Repo: "acme/app", Commit: "0123456789abcdef", Path: "config/prod.env", Line: 3}},
	}
}

func (e *env) apply(rv *Revoker, leaks ...Leak) Result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := rv.Apply(ctx, leaks)
	if err != nil {
		e.t.Fatalf("Apply: %v", err)
	}
	return res
}

// calls counts fake calls by method and path prefix, with the given status
// (0: any).
func (e *env) calls(method, prefix string, status int) int {
	n := 0
	for _, c := range e.fake.Calls() {
		if c.Method == method && strings.HasPrefix(c.Path, prefix) && (status == 0 || c.Status == status) {
			n++
		}
	}
	return n
}

const (
	promotePath   = "/v1/AuthTokens/Promote"
	secondaryPath = "/v1/AuthTokens/Secondary"
	accountsPath  = "/2010-04-01/Accounts"
)

// mutations counts calls that could change Twilio's state.
func (e *env) mutations() int {
	return e.calls("POST", "/", 0) + e.calls("DELETE", "/", 0)
}

// assertRotated checks the end state of a rotated primary Auth Token: the
// leaked token is dead, the sinks hold the live primary, exactly one
// promotion happened.
func (e *env) assertRotated(leaked secret.Value) {
	e.t.Helper()
	primary, secondary := e.fake.Tokens(e.acct)
	if primary.Equal(leaked) {
		e.t.Fatal("the leaked token is still the primary")
	}
	if e.fake.Authenticates(e.acct, leaked) {
		e.t.Fatal("the leaked token still authenticates")
	}
	if !secondary.IsZero() {
		e.t.Fatal("a secondary token is left over")
	}
	for _, name := range []string{"gh-token", "vault"} {
		d, ok := e.sinks[name].last()
		if !ok || !d.Secret.Equal(primary) || d.Kind != KindAuthToken || d.AccountSID != e.acct {
			e.t.Fatalf("sink %s does not hold the live primary (delivered: %v)", name, ok)
		}
	}
	if n := e.promotions(); n != 1 {
		e.t.Fatalf("%d promotions took effect, want 1", n)
	}
}

// promotions counts the promotions that took effect: answered 200, or
// faulted after the effect was applied.
func (e *env) promotions() int {
	n := 0
	for _, c := range e.fake.Calls() {
		if c.Method == "POST" && c.Path == promotePath && (c.Status == 200 || (c.Fault && e.promoteAfterEffect)) {
			n++
		}
	}
	return n
}

func itemOf(t *testing.T, r Result, kind credential.Kind) Item {
	t.Helper()
	for _, it := range r.Items {
		if it.Kind == kind {
			return it
		}
	}
	t.Fatalf("no %s item in %+v", kind, r.Items)
	return Item{}
}

var errCrash = errors.New("simulated kill")

func dump(v any) string { return fmt.Sprintf("%+v", v) }

func twilioCred(user string, pw secret.Value) twilio.Credential {
	return twilio.Credential{Username: user, Password: pw}
}
