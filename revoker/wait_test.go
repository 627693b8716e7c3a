package revoker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leakstop/leakstop/internal/wait"
	"github.com/leakstop/leakstop/state"
)

func TestGracePeriodAndReadiness(t *testing.T) {
	e := newEnv(t)
	e.cfg.GracePeriod = Duration(30 * time.Second)
	e.cfg.Readiness = &ReadinessConfig{Command: []string{"unused"}, Timeout: Duration(time.Minute), Interval: Duration(5 * time.Second)}
	var mu sync.Mutex
	var slept []time.Duration
	var checks []ReadinessCheck
	promotedBeforeReady := false
	rv := e.revoker(func(d *Deps) {
		d.Sleep = func(ctx context.Context, dur time.Duration) error {
			mu.Lock()
			defer mu.Unlock()
			slept = append(slept, dur)
			return nil
		}
		d.Readiness = func(_ context.Context, c ReadinessCheck) error {
			mu.Lock()
			defer mu.Unlock()
			checks = append(checks, c)
			if e.calls("POST", promotePath, 0) > 0 {
				promotedBeforeReady = true
			}
			if len(checks) < 3 {
				return errors.New("not yet")
			}
			return nil
		}
	})
	res := e.apply(rv, e.tokenLeak())
	if it := itemOf(t, res, KindAuthToken); it.Outcome != OutcomeRotated {
		t.Fatalf("item: %s", dump(it))
	}
	if len(checks) != 3 || promotedBeforeReady || checks[0].AccountSID != e.acct || checks[0].RotationID == "" {
		t.Fatalf("readiness checks: %+v (promoted before ready: %v)", checks, promotedBeforeReady)
	}
	if len(slept) < 3 || slept[0] < 29*time.Second || slept[0] > 30*time.Second || slept[1] != 5*time.Second {
		t.Fatalf("sleeps: %v", slept)
	}
}

func TestReadinessTimeoutHoldsPromotion(t *testing.T) {
	e := newEnv(t)
	e.cfg.Readiness = &ReadinessConfig{Command: []string{"unused"}, Timeout: Duration(time.Millisecond), Interval: Duration(time.Millisecond)}
	ready := atomic.Bool{}
	mk := func() *Revoker {
		return e.revoker(func(d *Deps) {
			d.Readiness = func(context.Context, ReadinessCheck) error {
				if ready.Load() {
					return nil
				}
				return errors.New("consumers still on the old token")
			}
		})
	}
	res := e.apply(mk(), e.tokenLeak())
	it := itemOf(t, res, KindAuthToken)
	if it.Outcome != OutcomeIncomplete || it.State != string(state.StateDelivered) || !strings.Contains(it.Error, "readiness") {
		t.Fatalf("item: %s", dump(it))
	}
	if e.calls("POST", promotePath, 0) != 0 {
		t.Fatal("promoted although the readiness check failed")
	}
	ready.Store(true)
	res, err := mk().Resume(context.Background(), e.tokenLeak())
	if err != nil {
		t.Fatal(err)
	}
	if it := itemOf(t, res, KindAuthToken); it.Outcome != OutcomeRotated {
		t.Fatalf("resume: %s", dump(it))
	}
	e.assertRotated(e.primary)
	// The delivery was not repeated: the first new token is the one promoted.
	if n := e.sinks["gh-token"].count(); n != 1 {
		t.Fatalf("%d deliveries, want 1", n)
	}
}

func TestRunReadinessCommand(t *testing.T) {
	c := ReadinessCheck{AccountSID: "acct", Kind: KindAuthToken, RotationID: "rot-1"}
	if err := runReadiness(context.Background(), []string{"sh", "-c", `test "$LEAKSTOP_KIND" = auth-token && test "$LEAKSTOP_ROTATION_ID" = rot-1`}, c); err != nil {
		t.Fatalf("passing check: %v", err)
	}
	err := runReadiness(context.Background(), []string{"sh", "-c", "echo still draining >&2; exit 3"}, c)
	if err == nil || !strings.Contains(err.Error(), "still draining") {
		t.Fatalf("failing check: %v", err)
	}
}

func TestNotifierFailureDoesNotBlock(t *testing.T) {
	e := newEnv(t)
	e.notes.fail = errors.New("slack is down")
	res := e.apply(e.revoker(), e.tokenLeak())
	it := itemOf(t, res, KindAuthToken)
	if it.Outcome != OutcomeRotated || !strings.Contains(strings.Join(it.Warnings, " "), "notify people failed") {
		t.Fatalf("item: %s", dump(it))
	}
	e.assertRotated(e.primary)
}

// loseLease fails every renewal, as if another run had taken the lease.
type loseLease struct {
	state.Store
	renewals atomic.Int32
}

func (s *loseLease) RenewLock(context.Context, state.Lease, time.Duration) (state.Lease, error) {
	s.renewals.Add(1)
	return state.Lease{}, state.ErrLockLost
}

func TestLostLeaseStopsRun(t *testing.T) {
	e := newEnv(t)
	e.cfg.LockTTL = Duration(90 * time.Millisecond)
	e.cfg.Readiness = &ReadinessConfig{Command: []string{"unused"}, Timeout: Duration(time.Minute), Interval: Duration(time.Millisecond)}
	var ls *loseLease
	rv := e.revoker(func(d *Deps) {
		ls = &loseLease{Store: d.Store}
		d.Store = ls
		d.Sleep = wait.Sleep
		d.Readiness = func(ctx context.Context, _ ReadinessCheck) error {
			<-ctx.Done() // hold the run until the lease is gone
			return context.Cause(ctx)
		}
	})
	res := e.apply(rv, e.tokenLeak())
	it := itemOf(t, res, KindAuthToken)
	if it.Outcome != OutcomeIncomplete || !strings.Contains(it.Error, "lease") || ls.renewals.Load() == 0 {
		t.Fatalf("item: %s (renewals %d)", dump(it), ls.renewals.Load())
	}
	if e.calls("POST", promotePath, 0) != 0 {
		t.Fatal("promoted without the lease")
	}
}
