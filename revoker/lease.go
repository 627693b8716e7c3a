package revoker

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/sourcegraph/conc"

	"github.com/leakstop/leakstop/internal/wait"
	"github.com/leakstop/leakstop/state"
)

// withLease runs fn holding the named lease, renewed in the background; if
// the lease is lost, fn's context is cancelled with state.ErrLockLost. If
// the lease cannot be had within LockWait, busy is called instead. An
// aborted run keeps the lease, as a killed process would, until it expires.
func (rv *Revoker) withLease(ctx context.Context, name string, fn func(ctx context.Context) error, busy func(error)) (err error) {
	lease, err := rv.acquire(ctx, name)
	if errors.Is(err, state.ErrLocked) {
		busy(err)
		return nil
	}
	if err != nil {
		return err
	}
	runCtx, cancelRun := context.WithCancelCause(ctx)
	hbCtx, stopHB := context.WithCancel(ctx)
	var wg conc.WaitGroup
	wg.Go(func() {
		ttl := time.Duration(rv.cfg.LockTTL)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-hbCtx.Done():
				return
			case <-t.C:
			}
			l, rerr := rv.d.Store.RenewLock(hbCtx, lease, ttl)
			switch {
			case rerr == nil:
				lease = l
			case hbCtx.Err() != nil:
			case errors.Is(rerr, state.ErrLockLost) || time.Now().After(lease.ExpiresAt):
				rv.d.Log.Error("lost the lease on the account; stopping", "lock", name)
				cancelRun(state.ErrLockLost)
			default:
				rv.d.Log.Warn("renew lease failed; will retry", "lock", name, "error", rerr.Error())
			}
		}
	})
	defer func() {
		stopHB()
		wg.Wait()
		cancelRun(nil)
		if isAbort(err) {
			return
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if rerr := rv.d.Store.ReleaseLock(rctx, lease); rerr != nil {
			rv.d.Log.Warn("release lease failed; it expires by itself", "lock", name, "error", rerr.Error())
		}
	}()
	return fn(runCtx)
}

// acquire takes the lease, waiting up to LockWait while someone else holds it.
func (rv *Revoker) acquire(ctx context.Context, name string) (state.Lease, error) {
	deadline := time.Now().Add(time.Duration(rv.cfg.LockWait))
	for {
		l, err := rv.d.Store.AcquireLock(ctx, name, rv.d.Actor, time.Duration(rv.cfg.LockTTL))
		if err == nil || !errors.Is(err, state.ErrLocked) {
			return l, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return l, err
		}
		pause := min(left, 50*time.Millisecond+rand.N(150*time.Millisecond))
		if serr := wait.Sleep(ctx, pause); serr != nil {
			return l, serr
		}
	}
}
