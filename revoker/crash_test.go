package revoker

import (
	"context"
	"errors"
	"fmt"
	"github.com/leakstop/leakstop/credential"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakstop/leakstop/revoker/twilio/twiliotest"
	"github.com/leakstop/leakstop/secret"
	"github.com/leakstop/leakstop/state"
	"github.com/leakstop/leakstop/state/storetest"
)

// crashScenario sets up one leak and checks the converged end state.
type crashScenario struct {
	name  string
	opts  []envOpt
	setup func(e *env) (leaks []Leak, check func(t *testing.T, res Result))
	// retries: runs it may take after a failed attempt (a sink that fails
	// once, then works) before it converges.
	retries int
	// requestKillsOnly: its steps are those of another scenario; only
	// TestCrashAtEveryRequest runs it (each step kill waits out a lease).
	requestKillsOnly bool
	// stepsFrom: TestCrashAnywhereConverges kills only from the first point
	// with this prefix on (the points before it are another scenario's).
	stepsFrom string
}

// settle applies the report again while the scenario's sink failure leaves
// the rotation failed (retryable), as a person would after fixing it.
func settle(t *testing.T, e *env, sc crashScenario, leaks []Leak, res Result) Result {
	t.Helper()
	for range sc.retries {
		if res.OK() {
			break
		}
		res = e.apply(e.revoker(), leaks...)
	}
	return res
}

func keyScenario(name, keyType, policy string, opts ...envOpt) crashScenario {
	return crashScenario{name: name, opts: opts, setup: func(e *env) ([]Leak, func(*testing.T, Result)) {
		e.cfg.Accounts[0].ReplaceMainKeysWithStandard = keyType == twiliotest.KeyMain
		keySID, keySecret := e.fake.AddTypedKey(e.acct, keyType, policy)
		e.sinks["gh-key"].initial = Delivery{AccountSID: e.acct, Kind: KindAPIKey, KeySID: keySID, Secret: keySecret}
		owner := e.primary
		return []Leak{{Fingerprint: "fp-key", Kind: KindAPIKey, AccountSID: e.acct, KeySID: keySID, Secret: keySecret}}, func(t *testing.T, res Result) {
			it := itemOf(t, res, KindAPIKey)
			if it.Outcome != OutcomeRotated && it.Outcome != OutcomeAlreadyRotated {
				t.Fatalf("item: %s", dump(it))
			}
			if e.fake.HasKey(e.acct, keySID) {
				t.Fatal("the leaked key survived")
			}
			d := e.sinks["gh-key"].holding()
			if !e.fake.HasKey(e.acct, d.KeySID) || !e.fake.Authenticates(d.KeySID, d.Secret) {
				t.Fatal("the sink does not hold the live replacement")
			}
			want := keyType
			if keyType == twiliotest.KeyMain {
				want = twiliotest.KeyStandard
			}
			if kt, pol, _ := e.fake.KeyInfo(d.KeySID); kt != want || string(pol) != policy {
				t.Fatalf("replacement is a %s key with policy %s", kt, pol)
			}
			keys, err := e.client.ListKeys(context.Background(), e.acct, twilioCred(e.acct, owner))
			if err != nil || len(keys) != 1 || keys[0].SID != d.KeySID {
				t.Fatalf("want exactly the replacement key left, have %+v (%v)", keys, err)
			}
		}
	}}
}

// failOnce makes an env's sink fail on its first delivery.
func failOnce(sink string) envOpt {
	return func(e *env) { e.sinks[sink].failTimes = 1 }
}

func primaryScenario(name string, opts ...envOpt) crashScenario {
	return crashScenario{name: name, opts: opts, setup: func(e *env) ([]Leak, func(*testing.T, Result)) {
		return []Leak{e.tokenLeak()}, func(t *testing.T, res Result) {
			if it := itemOf(t, res, KindAuthToken); it.Outcome != OutcomeRotated && it.Outcome != OutcomeAlreadyRotated {
				t.Fatalf("item: %s", dump(it))
			}
			e.t = t
			e.assertRotated(e.primary)
		}
	}}
}

var crashScenarios = []crashScenario{
	primaryScenario("primary-owner", withOwnerCred),
	primaryScenario("primary-leaked-only"),
	{name: "primary-strangers-secondary", setup: func(e *env) ([]Leak, func(*testing.T, Result)) {
		stranger := e.fake.SetSecondary(e.acct)
		return []Leak{e.tokenLeak()}, func(t *testing.T, res Result) {
			if it := itemOf(t, res, KindAuthToken); it.Outcome != OutcomeRotated && it.Outcome != OutcomeAlreadyRotated {
				t.Fatalf("item: %s", dump(it))
			}
			e.t = t
			e.assertRotated(e.primary)
			if e.fake.Authenticates(e.acct, stranger) {
				t.Fatal("the stranger's secondary survived")
			}
		}
	}},
	{name: "secondary", setup: func(e *env) ([]Leak, func(*testing.T, Result)) {
		sec := e.fake.SetSecondary(e.acct)
		l := e.tokenLeak()
		l.Secret = sec
		return []Leak{l}, func(t *testing.T, res Result) {
			it := itemOf(t, res, KindAuthToken)
			if it.Outcome != OutcomeCutOff && it.Outcome != OutcomeAlreadyRotated && it.Outcome != OutcomeAlreadyDead {
				t.Fatalf("item: %s", dump(it))
			}
			p, s := e.fake.Tokens(e.acct)
			if !p.Equal(e.primary) || !s.IsZero() || e.fake.Authenticates(e.acct, sec) || e.promotions() != 0 {
				t.Fatal("the secondary was not cut off cleanly")
			}
		}
	}},
	{name: "api-key", opts: []envOpt{withOwnerCred}, setup: func(e *env) ([]Leak, func(*testing.T, Result)) {
		keySID, keySecret := e.fake.AddKey(e.acct, false)
		e.sinks["gh-key"].initial = Delivery{AccountSID: e.acct, Kind: KindAPIKey, KeySID: keySID, Secret: keySecret}
		return []Leak{{Fingerprint: "fp-key", Kind: KindAPIKey, AccountSID: e.acct, KeySID: keySID, Secret: keySecret}}, func(t *testing.T, res Result) {
			if it := itemOf(t, res, KindAPIKey); it.Outcome != OutcomeRotated && it.Outcome != OutcomeAlreadyRotated {
				t.Fatalf("item: %s", dump(it))
			}
			if e.fake.HasKey(e.acct, keySID) {
				t.Fatal("the leaked key survived")
			}
			d, ok := e.sinks["gh-key"].last()
			if !ok || !e.fake.HasKey(e.acct, d.KeySID) || !e.fake.Authenticates(d.KeySID, d.Secret) {
				t.Fatal("the sink does not hold the live replacement")
			}
			keys, err := e.client.ListKeys(context.Background(), e.acct, twilioCred(e.acct, e.primary))
			if err != nil || len(keys) != 1 || keys[0].SID != d.KeySID {
				t.Fatalf("want exactly the replacement key left, have %+v (%v)", keys, err)
			}
		}
	}},
}

func init() {
	const policy = `{"allow":["/twilio/messaging/messages/read"]}`
	withSink := func(sc crashScenario) crashScenario { sc.retries = 1; return sc }
	requestOnly := func(sc crashScenario) crashScenario { sc.requestKillsOnly = true; return sc }
	crashScenarios = append(crashScenarios,
		requestOnly(keyScenario("api-key-restricted", twiliotest.KeyRestricted, policy, withOwnerCred)),
		requestOnly(keyScenario("api-key-main", twiliotest.KeyMain, "")),
		func() crashScenario {
			sc := withSink(primaryScenario("primary-sink-fails-once", failOnce("vault")))
			sc.stepsFrom = "deliver:command:vault"
			return sc
		}(),
		requestOnly(withSink(keyScenario("api-key-sink-fails-once", twiliotest.KeyStandard, "", withOwnerCred, func(e *env) {
			e.sinks["vault-key"] = &memSink{name: "command:vault-key", failTimes: 1}
			e.cfg.Sinks = append(e.cfg.Sinks, SinkConfig{Name: "vault-key", Type: SinkCommand, Kind: KindAPIKey, Command: []string{"vault-put"}})
			e.cfg.Accounts[0].Sinks = append(e.cfg.Accounts[0].Sinks, "vault-key")
		}))),
	)
}

// crashEnv makes an env whose lease expires quickly, as after a kill, and
// whose sinks are watched at every change (env.watch).
func crashEnv(t *testing.T, sc crashScenario, extra ...envOpt) (*env, []Leak, func(*testing.T, Result)) {
	e := newEnv(t, append(append([]envOpt(nil), sc.opts...), extra...)...)
	e.cfg.LockTTL = Duration(300 * time.Millisecond)
	leaks, check := sc.setup(e)
	e.watch()
	return e, leaks, func(t *testing.T, res Result) {
		t.Helper()
		check(t, res)
		e.checkHeld(t)
	}
}

// points runs the scenario once, uninterrupted, and lists every point at
// which a kill is simulated: before and after every step's effect, and
// after every state change.
func points(t *testing.T, sc crashScenario) []string {
	e, leaks, check := crashEnv(t, sc)
	var ps []string
	rv := e.revoker()
	rv.hook = func(p string) error { ps = append(ps, p); return nil }
	check(t, settle(t, e, sc, leaks, e.apply(rv, leaks...)))
	if len(ps) < 5 {
		t.Fatalf("only %d crash points", len(ps))
	}
	return ps
}

// killAt returns a hook that aborts at the n-th point.
func killAt(n int) func(string) error {
	var mu sync.Mutex
	i := 0
	return func(string) error {
		mu.Lock()
		defer mu.Unlock()
		i++
		if i-1 == n {
			return errCrash
		}
		return nil
	}
}

// TestCrashAnywhereConverges kills a run at every point of every scenario
// and shows that the next run (Apply again with the same report, or Resume)
// converges: one promotion, the leaked secret dead, the sinks holding the
// live new one.
func TestCrashAnywhereConverges(t *testing.T) {
	for _, sc := range crashScenarios {
		if sc.requestKillsOnly {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			ps := points(t, sc)
			from := slices.IndexFunc(ps, func(p string) bool { return strings.HasPrefix(p, sc.stepsFrom) })
			for i, p := range ps {
				if i < from {
					continue
				}
				t.Run(fmt.Sprintf("%02d-%s", i, p), func(t *testing.T) {
					t.Parallel()
					e, leaks, check := crashEnv(t, sc)
					rv := e.revoker()
					rv.hook = killAt(i)
					if _, err := rv.Apply(context.Background(), leaks); !errors.Is(err, errCrash) {
						t.Fatalf("the run was not killed at %s: %v", p, err)
					}
					var res Result
					var err error
					if i%2 == 0 {
						res, err = e.revoker().Apply(context.Background(), leaks)
					} else {
						res, err = e.revoker().Resume(context.Background(), leaks...)
					}
					if err != nil {
						t.Fatal(err)
					}
					check(t, settle(t, e, sc, leaks, res))
				})
			}
		})
	}
}

// TestCrashAtEveryRequest kills a run at every request it sends to Twilio
// — before the request leaves, and after Twilio applied it — in every
// scenario: from the first verification request on, through a sink that
// fails in the middle of delivery. Then Resume with the report must
// converge: one promotion (or one replacement key), the leaked credential
// dead; and at every change of Twilio's state and every delivery, each
// sink held a credential Twilio accepted (crashEnv watches).
func TestCrashAtEveryRequest(t *testing.T) {
	for _, sc := range crashScenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			e, leaks, check := crashEnv(t, sc)
			count := newKillTransport(e, -1, false)
			res := e.apply(e.revoker(count.deps(e)), leaks...)
			n := count.requests()
			check(t, settle(t, e, sc, leaks, res))
			for i := range n {
				for _, after := range []bool{false, true} {
					if after && strings.HasPrefix(count.log[i], "GET ") {
						continue // a GET has no effect: the same as the kill before it
					}
					when := "before"
					if after {
						when = "after"
					}
					t.Run(fmt.Sprintf("%02d-%s", i, when), func(t *testing.T) {
						t.Parallel()
						e, leaks, check := crashEnv(t, sc)
						kt := newKillTransport(e, i, after)
						ctx, cancel := context.WithCancelCause(context.Background())
						kt.kill = cancel
						_, _ = e.revoker(kt.deps(e)).Apply(ctx, leaks)
						cancel(nil)
						if !kt.fired() {
							t.Fatalf("the run never sent request %d", i)
						}
						res, err := e.revoker().Resume(context.Background(), leaks...)
						if err != nil {
							t.Fatal(err)
						}
						check(t, settle(t, e, sc, leaks, res))
					})
				}
			}
		})
	}
}

// TestCrashPostgres does the same on PostgreSQL for one scenario.
func TestCrashPostgres(t *testing.T) {
	pg := storetest.Backends()[1]
	sc := crashScenarios[1]
	ps := points(t, sc)
	for i, p := range ps {
		t.Run(fmt.Sprintf("%02d-%s", i, p), func(t *testing.T) {
			t.Parallel()
			e, leaks, check := crashEnv(t, sc, withBackend(pg))
			rv := e.revoker()
			rv.hook = killAt(i)
			if _, err := rv.Apply(context.Background(), leaks); !errors.Is(err, errCrash) {
				t.Fatalf("the run was not killed at %s: %v", p, err)
			}
			res, err := e.revoker().Apply(context.Background(), leaks)
			if err != nil {
				t.Fatal(err)
			}
			check(t, res)
		})
	}
}

// TestRepeatedCrashes kills run after run at random points until one
// finishes.
func TestRepeatedCrashes(t *testing.T) {
	for seed := range uint64(12) {
		sc := crashScenarios[int(seed)%len(crashScenarios)]
		t.Run(fmt.Sprintf("%s-seed%d", sc.name, seed), func(t *testing.T) {
			t.Parallel()
			rnd := rand.New(rand.NewPCG(seed, 42))
			e, leaks, check := crashEnv(t, sc)
			for run := 0; ; run++ {
				if run > 30 {
					t.Fatal("no convergence after 30 runs")
				}
				rv := e.revoker()
				crash := run < 6 // the later runs are left alone
				if crash {
					rv.hook = killAt(rnd.IntN(25))
				}
				res, err := rv.Apply(context.Background(), leaks)
				if errors.Is(err, errCrash) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if !res.OK() {
					continue
				}
				check(t, res)
				return
			}
		})
	}
}

// TestConcurrentRevokers: several revokers (as separate processes on one
// store) apply the same report at once; exactly one rotation happens.
func TestConcurrentRevokers(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, withBackend(b))
			e.cfg.Accounts[0].ReplaceMainKeysWithStandard = true
			keySID, keySecret := e.fake.AddKey(e.acct, true)
			leaks := []Leak{e.tokenLeak(), {Kind: KindAPIKey, AccountSID: e.acct, KeySID: keySID, Secret: keySecret}}
			const n = 6
			rvs := make([]*Revoker, n)
			for i := range rvs {
				rvs[i] = e.revoker()
			}
			results := make([]Result, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range rvs {
				wg.Add(1)
				go func() { // the test's own goroutines, not the code under test
					defer wg.Done()
					<-start
					results[i], errs[i] = rvs[i].Apply(context.Background(), leaks)
				}()
			}
			close(start)
			wg.Wait()
			rotated := map[credential.Kind]int{}
			for i, r := range results {
				if errs[i] != nil {
					t.Fatalf("revoker %d: %v", i, errs[i])
				}
				for _, it := range r.Items {
					switch it.Outcome {
					case OutcomeRotated:
						rotated[it.Kind]++
					case OutcomeAlreadyRotated, OutcomeBusy, OutcomeSkipped:
					default:
						t.Fatalf("revoker %d: unexpected outcome: %s", i, dump(it))
					}
				}
			}
			if rotated[KindAuthToken] != 1 || rotated[KindAPIKey] != 1 {
				t.Fatalf("rotations per kind: %v, want exactly one each", rotated)
			}
			rots, err := e.store().Rotations(context.Background(), state.RotationFilter{})
			if err != nil || len(rots) != 2 {
				t.Fatalf("%d rotations in the store (%v)", len(rots), err)
			}
			e.assertRotated(e.primary)
			if e.calls("POST", "/2010-04-01/Accounts/"+e.acct+"/Keys.json", 201) != 1 {
				t.Fatal("more than one replacement key was created")
			}
		})
	}
}

var _ = secret.Value{}
