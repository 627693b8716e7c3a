package revoker

import (
	"context"
	"encoding/json"

	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/state"
)

// A leaked secondary Auth Token: found by the probe (or by comparison
// with the owner's token), cut off by deleting the secondary.

// probe deletes any secondary and checks whether the leaked token still
// authenticates: if it does, it is the primary (and the secondary that
// existed was someone else's); if not, the secondary just deleted was the
// leaked token, which is now cut off.
func (r *runner) probe(ctx context.Context) (role string, dead bool, err error) {
	if err := r.ensureHeld(ctx, r.primarySurvivor()); err != nil {
		return "", false, r.holdFailure(err, "the secondary token")
	}
	existed := false
	_, err = r.step(ctx, "delete-secondary", map[string]any{"reason": "probe: is the leaked token the secondary?", "probe": true}, func(ctx context.Context) (map[string]any, error) {
		err := r.rv.d.Twilio.DeleteSecondaryAuthToken(ctx, r.tokenCred(r.leaked))
		switch {
		case err == nil:
			existed = true
		case twilio.IsNotFound(err), twilio.IsAuth(err):
		default:
			return nil, err
		}
		return map[string]any{"existed": existed}, nil
	})
	if err != nil {
		return "", false, transient("delete the secondary token", err)
	}
	v := r.verifyToken(ctx, r.leaked)
	switch {
	case v.Status == twilio.StatusLive:
		r.primary = r.leaked
		if existed {
			r.unexpectedSecondary()
		}
		return RolePrimary, false, nil
	case v.Status == twilio.StatusDead && existed:
		return RoleSecondary, false, nil
	case v.Status == twilio.StatusDead:
		return "", true, nil
	}
	return "", false, transient("verify the leaked token", v.Err)
}

// probeDeleted reports whether this attempt's probe deleted (or started
// deleting, and may have deleted) the secondary token.
func (r *runner) probeDeleted(ctx context.Context) (bool, error) {
	st, err := r.steps(ctx)
	if err != nil {
		return false, err
	}
	deleted := false
	for _, s := range st {
		var d struct {
			Probe   bool `json:"probe"`
			Existed bool `json:"existed"`
		}
		if s.Name != "delete-secondary" || json.Unmarshal(s.Detail, &d) != nil {
			continue
		}
		switch {
		case s.Phase == state.PhaseStarted && d.Probe:
			deleted = true // unless its end says it found none
		case s.Phase == state.PhaseDone && deleted:
			deleted = d.Existed
		}
	}
	return deleted, nil
}

func (r *runner) unexpectedSecondary() {
	r.warn("an unexpected secondary Auth Token existed on the account and was deleted")
	r.addTodo("An unexpected secondary Auth Token existed on account " + r.sid() + " and was deleted. If nobody in your team created it, whoever found the leak may have: review the account's activity.")
}

// cutOffSecondary deletes the leaked secondary (unless the probe already
// did) and confirms it is rejected.
func (r *runner) cutOffSecondary(ctx context.Context) error {
	probed, err := r.probeDeleted(ctx)
	if err != nil {
		return err
	}
	if !probed {
		if err := r.cutOffDelete(ctx); err != nil {
			return err
		}
	}
	return r.confirmCutOff(ctx, probed)
}

func (r *runner) cutOffDelete(ctx context.Context) error {
	if err := r.ensureHeld(ctx, r.primarySurvivor()); err != nil {
		return r.holdFailure(err, "the leaked secondary token")
	}
	_, err := r.step(ctx, "delete-secondary", map[string]any{"reason": "the leaked token is the secondary: deleting it cuts it off"}, func(ctx context.Context) (map[string]any, error) {
		err := r.withToken(func(c twilio.Credential) error { return r.rv.d.Twilio.DeleteSecondaryAuthToken(ctx, c) })
		switch {
		case err == nil:
			return map[string]any{"existed": true}, nil
		case twilio.IsNotFound(err):
			return map[string]any{"existed": false}, nil
		case twilio.IsAuth(err):
			// Every token we hold is rejected: the confirmation decides.
			return map[string]any{"rejected": true}, nil
		}
		return nil, err
	})
	if err != nil && !isAbort(err) {
		return transient("delete the secondary token", err)
	}
	return err
}

func (r *runner) confirmCutOff(ctx context.Context, probed bool) error {
	if r.leaked.IsZero() {
		r.warn("the leaked token is not available to this run: its rejection was not re-checked")
	} else {
		var misclassified bool
		_, err := r.step(ctx, "confirm", nil, func(ctx context.Context) (map[string]any, error) {
			st, err := r.confirmGone(ctx, func(ctx context.Context) (twilio.Status, error) {
				v := r.verifyToken(ctx, r.leaked)
				return v.Status, v.Err
			})
			switch {
			case st == twilio.StatusDead:
				return map[string]any{"leaked": "rejected"}, nil
			case st == twilio.StatusLive:
				misclassified = true
				return map[string]any{"leaked": "still accepted: it is the primary after all"}, nil
			}
			return nil, transient("verify the leaked token", err)
		})
		if err != nil {
			return err
		}
		if misclassified {
			r.warn("the leaked token still worked after the secondary was deleted: rotating it as the primary")
			return r.advance(ctx, state.StateClassified, func(n *state.Rotation) { n.LeakedRole = RolePrimary })
		}
	}
	r.addTodo("Anything that used the leaked secondary token must use the primary token now.")
	r.addTodo("Remove the leaked token from the places listed and from git history; it no longer works.")
	how := "leakstop deleted the secondary token"
	if probed {
		how = "leakstop found this out by deleting the account's secondary token, which cut the leaked token off"
	}
	if err := r.notifyOnce(ctx, "notify-done", r.message("Leaked Twilio secondary Auth Token cut off",
		"The leaked Twilio Auth Token was the account's secondary token; "+how+". The leaked token no longer authenticates. The primary token is unchanged.",
		SeverityWarning)); err != nil {
		return err
	}
	return r.advance(ctx, state.StateDone, nil)
}
