package revoker

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// waitReady holds the cut-off (promotion, key deletion) until the grace
// period after delivery has passed and the readiness check, if configured,
// passes. A run resumed later waits only for what is left of the period.
// The lease on the account is renewed meanwhile by the heartbeat.
func (r *runner) waitReady(ctx context.Context) error {
	done, err := r.stepDone(ctx, "wait")
	if err != nil || done {
		return err
	}
	at, err := r.deliveredAt(ctx)
	if err != nil {
		return err
	}
	grace := time.Duration(r.rv.cfg.GracePeriod)
	until := at.Add(grace)
	detail := map[string]any{"grace_period": grace.String(), "until": until.UTC().Format(time.RFC3339)}
	rc := r.rv.cfg.Readiness
	if rc != nil || r.rv.d.Readiness != nil {
		detail["readiness"] = true
	}
	_, err = r.step(ctx, "wait", detail, func(ctx context.Context) (map[string]any, error) {
		if d := time.Until(until); d > 0 {
			if err := r.rv.d.Sleep(ctx, d); err != nil {
				return nil, err
			}
		}
		if rc == nil && r.rv.d.Readiness == nil {
			return nil, nil
		}
		check := ReadinessCheck{AccountSID: r.sid(), Kind: r.rot.Kind, NewKeySID: r.rot.NewKeySID, RotationID: r.rot.ID}
		timeout, every := DefaultReadyTimeout, DefaultReadyEvery
		if rc != nil {
			timeout, every = time.Duration(rc.Timeout), time.Duration(rc.Interval)
		}
		deadline := time.Now().Add(timeout)
		tries := 0
		for {
			tries++
			err := r.ready(ctx, check)
			if err == nil {
				return map[string]any{"tries": tries}, nil
			}
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			if time.Now().Add(every).After(deadline) {
				return map[string]any{"tries": tries}, fmt.Errorf("readiness check did not pass within %s: %v", timeout, err)
			}
			if err := r.rv.d.Sleep(ctx, every); err != nil {
				return nil, err
			}
		}
	})
	if err != nil {
		if isAbort(err) {
			return err
		}
		return transient("wait for consumers", err)
	}
	return nil
}

// ready runs one readiness check.
func (r *runner) ready(ctx context.Context, c ReadinessCheck) error {
	if r.rv.d.Readiness != nil {
		return r.rv.d.Readiness(ctx, c)
	}
	return runReadiness(ctx, r.rv.cfg.Readiness.Command, c)
}

// runReadiness runs the readiness command once, without a shell. Its
// environment gets the non-secret LEAKSTOP_ values; its output is not kept
// except the tail of standard error for the error message.
func runReadiness(ctx context.Context, argv []string, c ReadinessCheck) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(),
		"LEAKSTOP_ACCOUNT_SID="+c.AccountSID,
		"LEAKSTOP_KIND="+string(c.Kind),
		"LEAKSTOP_KEY_SID="+c.NewKeySID,
		"LEAKSTOP_ROTATION_ID="+c.RotationID,
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Run(); err != nil {
		tail := strings.TrimSpace(stderr.String())
		if len(tail) > 300 {
			tail = "…" + tail[len(tail)-300:]
		}
		if tail != "" {
			return fmt.Errorf("run readiness command %s: %w: %s", argv[0], err, tail)
		}
		return fmt.Errorf("run readiness command %s: %w", argv[0], err)
	}
	return nil
}
