package revoker

import (
	"context"
	"errors"
	"fmt"

	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/secret"
	"github.com/leakstop/leakstop/state"
)

// The Auth Token state machine:
//
//	started           → classify: primary or secondary?        → classified
//	classified/2ndary → delete the secondary, confirm           → done
//	classified/prim.  → delete any secondary, create one        → secondary-created
//	secondary-created → (new token held) deliver to every sink  → delivered
//	                    (new token lost: a resumed run) delete it, start over → classified
//	delivered         → notify, grace/readiness, promote        → promoted
//	promoted          → confirm leaked 401, new 200, notify     → done
func (r *runner) authTokenPhase(ctx context.Context) error {
	switch r.rot.State {
	case state.StateStarted:
		return r.classify(ctx)
	case state.StateClassified:
		if r.rot.LeakedRole == RoleSecondary {
			return r.cutOffSecondary(ctx)
		}
		return r.createSecondary(ctx)
	case state.StateSecondaryCreated:
		if r.fresh.IsZero() {
			return r.discardSecondary(ctx)
		}
		return r.deliverToken(ctx)
	case state.StateDelivered:
		return r.promote(ctx)
	case state.StatePromoted:
		return r.confirmToken(ctx)
	}
	return fmt.Errorf("auth token rotation in unexpected state %q", r.rot.State)
}

func (r *runner) sid() string { return r.rot.AccountSID }

func (r *runner) tokenCred(v secret.Value) twilio.Credential {
	return twilio.Credential{Username: r.sid(), Password: v}
}

// mgmtTokens lists the tokens that may manage the account, most trusted
// first: the owner's, the primary learned from Twilio, the leaked one.
func (r *runner) mgmtTokens() []secret.Value {
	var out []secret.Value
	add := func(v secret.Value) {
		if v.IsZero() {
			return
		}
		for _, o := range out {
			if o.Equal(v) {
				return
			}
		}
		out = append(out, v)
	}
	if !r.ownerBad {
		add(r.owner)
	}
	add(r.primary)
	add(r.leaked)
	return out
}

// withToken runs op with each management token in turn while Twilio
// rejects them (401: nothing happened).
func (r *runner) withToken(op func(c twilio.Credential) error) error {
	toks := r.mgmtTokens()
	if len(toks) == 0 {
		return &needsInputError{"the leaked token or the account's credential_env"}
	}
	var err error
	for _, t := range toks {
		err = op(r.tokenCred(t))
		if !twilio.IsAuth(err) {
			return err
		}
		if !r.owner.IsZero() && t.Equal(r.owner) {
			r.ownerBad = true
			r.warn("Twilio rejected the credential in %s", r.acct.CredentialEnv)
		}
	}
	return err
}

// verifyToken checks a token of this account.
func (r *runner) verifyToken(ctx context.Context, v secret.Value) twilio.Verification {
	return r.rv.d.Twilio.Verify(ctx, r.sid(), r.tokenCred(v))
}

// classify finds out whether the leaked token is the primary or the
// secondary: compare with the owner's credential; else with the primary
// Twilio shows in the account resource (which can only say "it is the
// primary"); else delete any secondary and see whether the leaked token
// still works.
func (r *runner) classify(ctx context.Context) error {
	if r.leaked.IsZero() {
		return &needsInputError{"the leaked token"}
	}
	var role, method string
	var dead bool
	_, err := r.step(ctx, "classify", nil, func(ctx context.Context) (map[string]any, error) {
		if !r.owner.IsZero() && !r.ownerBad {
			vo := r.verifyToken(ctx, r.owner)
			switch vo.Status {
			case twilio.StatusLive:
				method = "owner-credential"
				if r.leaked.Equal(r.owner) {
					role, r.primary = RolePrimary, r.owner
					return map[string]any{"method": method, "role": role}, nil
				}
				vl := r.verifyToken(ctx, r.leaked)
				switch vl.Status {
				case twilio.StatusLive:
					role, r.primary = RoleSecondary, r.owner
					return map[string]any{"method": method, "role": role}, nil
				case twilio.StatusDead:
					dead = true
					return map[string]any{"method": method, "leaked": "rejected"}, nil
				}
				return nil, transient("verify the leaked token", vl.Err)
			case twilio.StatusDead:
				r.ownerBad = true
				r.warn("Twilio rejects the credential in %s; classifying with the leaked token instead", r.acct.CredentialEnv)
			default:
				return nil, transient("verify the owner's credential", vo.Err)
			}
		}
		vl := r.verifyToken(ctx, r.leaked)
		switch vl.Status {
		case twilio.StatusDead:
			dead = true
			return map[string]any{"leaked": "rejected"}, nil
		case twilio.StatusUnknown:
			return nil, transient("verify the leaked token", vl.Err)
		}
		if vl.Account.IsAuthToken(r.leaked) {
			// Twilio's account resource names the leaked token as the primary.
			method, role, r.primary = "account-resource", RolePrimary, r.leaked
			return map[string]any{"method": method, "role": role}, nil
		}
		// Not the primary the resource shows, or the resource shows none.
		method = "delete-probe"
		return map[string]any{"method": method}, nil
	})
	if err != nil {
		return err
	}
	probedNow := method == "delete-probe" && !dead
	if probedNow {
		if role, dead, err = r.probe(ctx); err != nil {
			return err
		}
	}
	if dead && !probedNow {
		// A probe of an earlier run (killed before it could record what it
		// found) deleted the secondary and the leaked token died with it:
		// the leaked token was the secondary, and it is cut off.
		probed, err := r.probeDeleted(ctx)
		if err != nil {
			return err
		}
		if probed {
			return r.advance(ctx, state.StateClassified, func(n *state.Rotation) { n.LeakedRole = RoleSecondary })
		}
	}
	if dead {
		return r.advance(ctx, state.StateDone, func(n *state.Rotation) {
			n.Error = "the leaked token stopped authenticating before leakstop acted: nothing to rotate"
		})
	}
	return r.advance(ctx, state.StateClassified, func(n *state.Rotation) { n.LeakedRole = role })
}

// createSecondary clears any secondary (a stranger's, or ours from a run
// that died before delivery) and creates a new one. The token is kept in
// memory; only its keyed hash is stored.
func (r *runner) createSecondary(ctx context.Context) error {
	if r.rot.Attempt > maxAttempts {
		return &failure{msg: fmt.Sprintf("gave up after %d attempts to create and deliver a secondary token", maxAttempts)}
	}
	ours, err := r.everStarted(ctx, "create-secondary")
	if err != nil {
		return err
	}
	for range 3 {
		if err := r.ensureHeld(ctx, r.primarySurvivor()); err != nil {
			return r.holdFailure(err, "the secondary token")
		}
		existed := false
		reason := "clear the way for a new secondary token"
		_, err := r.step(ctx, "delete-secondary", map[string]any{"reason": reason}, func(ctx context.Context) (map[string]any, error) {
			err := r.withToken(func(c twilio.Credential) error { return r.rv.d.Twilio.DeleteSecondaryAuthToken(ctx, c) })
			switch {
			case err == nil:
				existed = true
			case twilio.IsNotFound(err):
			default:
				return nil, err
			}
			return map[string]any{"existed": existed, "ours": existed && ours}, nil
		})
		if err != nil {
			return transient("delete the secondary token", err)
		}
		if existed && !ours {
			r.unexpectedSecondary()
		}
		var tok secret.Value
		_, err = r.step(ctx, "create-secondary", nil, func(ctx context.Context) (map[string]any, error) {
			err := r.withToken(func(c twilio.Credential) error {
				st, err := r.rv.d.Twilio.CreateSecondaryAuthToken(ctx, c)
				if err == nil {
					tok = st.Token
				}
				return err
			})
			if err != nil {
				return nil, err
			}
			if tok.IsZero() {
				return nil, &twilio.UnknownOutcomeError{Method: "POST", Path: "/v1/AuthTokens/Secondary", Err: errors.New("no token in the response")}
			}
			return map[string]any{"new_token_hash": r.rv.d.Store.Hash(tok.Reveal())[:16]}, nil
		})
		ours = true
		switch {
		case err == nil:
			r.fresh = tok
			return r.advance(ctx, state.StateSecondaryCreated, func(n *state.Rotation) {
				n.NewSecretHash = r.rv.d.Store.Hash(tok.Reveal())
			})
		case isAbort(err):
			return err
		case twilio.IsSecondaryExists(err), twilio.IsUnknownOutcome(err):
			// Someone created one since we cleared the way, or ours may
			// exist with a value we never saw: clear and create again.
			continue
		default:
			return transient("create the secondary token", err)
		}
	}
	return transient("create the secondary token: gave up after 3 tries", nil)
}

// discardSecondary deletes a secondary whose value this run never held
// (created by a run that died before every sink had it) and starts over.
// A sink whose delivery had started may hold that secondary (a command
// sink can finish writing after leakstop dies): ensureHeld gives it the
// account's current token first.
func (r *runner) discardSecondary(ctx context.Context) error {
	if err := r.ensureHeld(ctx, r.primarySurvivor()); err != nil {
		return r.holdFailure(err, "the undelivered secondary token")
	}
	_, err := r.step(ctx, "delete-secondary", map[string]any{"reason": "created but not delivered to every sink; its value is lost: start over"}, func(ctx context.Context) (map[string]any, error) {
		err := r.withToken(func(c twilio.Credential) error { return r.rv.d.Twilio.DeleteSecondaryAuthToken(ctx, c) })
		if err != nil && !twilio.IsNotFound(err) {
			return nil, err
		}
		return map[string]any{"existed": err == nil}, nil
	})
	if err != nil {
		return transient("delete the undelivered secondary token", err)
	}
	return r.advance(ctx, state.StateClassified, func(n *state.Rotation) {
		n.NewSecretHash = ""
		n.Attempt++
	})
}

// deliverToken hands the new token to every sink. If one fails, the sinks
// that took the new token get the account's current token back, then the
// secondary is deleted, nothing is promoted, and the attempt fails. Should
// a sink refuse the current token, the secondary it holds is left in place
// (it works) rather than deleted under it.
func (r *runner) deliverToken(ctx context.Context) error {
	_, err := r.deliver(ctx, Delivery{AccountSID: r.sid(), Kind: KindAuthToken, Secret: r.fresh, RotationID: r.rot.ID})
	if isAbort(err) {
		return err
	}
	if err == nil {
		return r.advance(ctx, state.StateDelivered, nil)
	}
	msg := deliveryFailedPrefix + r.clean(err.Error())
	if herr := r.ensureHeld(ctx, r.primarySurvivor()); herr != nil {
		var he *holdError
		var ni *needsInputError
		switch {
		case errors.As(herr, &he):
			return &failure{msg: msg + "; " + r.clean(he.Error()) + ": the new secondary token was left in place so that they keep working", retry: true, todo: []string{
				"Fix the failing sinks and run leakstop revoke --apply again: the leaked token still works.",
			}}
		case errors.As(herr, &ni):
			return &failure{msg: msg + "; no working token of the account to give the sinks back: the new secondary token was left in place", todo: []string{
				"Check account " + r.sid() + " in the Twilio console: neither the leaked token nor credential_env is accepted.",
			}}
		}
		return herr
	}
	_, derr := r.step(ctx, "delete-secondary", map[string]any{"reason": "delivery failed: no promotion"}, func(ctx context.Context) (map[string]any, error) {
		err := r.withToken(func(c twilio.Credential) error { return r.rv.d.Twilio.DeleteSecondaryAuthToken(ctx, c) })
		if err != nil && !twilio.IsNotFound(err) {
			return nil, err
		}
		return nil, nil
	})
	if isAbort(derr) {
		return derr
	}
	if derr != nil {
		r.warn("%s; deleting the undelivered secondary token failed too (the next run deletes it): %v", msg, derr)
		return transient("delete the undelivered secondary token", derr)
	}
	r.fresh = secret.Value{}
	return &failure{msg: msg, retry: true, todo: []string{
		"Fix the failing sink and run leakstop revoke --apply again: the leaked token still works.",
		"Or rotate the Auth Token by hand in the Twilio console.",
	}}
}

// promote waits for consumers, then makes the secondary the primary.
func (r *runner) promote(ctx context.Context) error {
	if err := r.notifyOnce(ctx, "notify-delivered", r.message("Leaked Twilio Auth Token is being rotated",
		"A live Twilio Auth Token leaked. leakstop created a new token and delivered it to the configured secret stores; it will promote it to primary after the grace period, which retires the leaked token.",
		SeverityCritical)); err != nil {
		return err
	}
	if err := r.waitReady(ctx); err != nil {
		return err
	}
	if err := r.ensureHeld(ctx, r.newSurvivor()); err != nil {
		return r.holdFailure(err, "the old primary token")
	}
	withNew := !r.fresh.IsZero()
	using := "the new token"
	if !withNew {
		using = "a management credential (the new token is not held by this run)"
	}
	var got secret.Value
	_, err := r.step(ctx, "promote", map[string]any{"credential": using}, func(ctx context.Context) (map[string]any, error) {
		op := func(c twilio.Credential) error {
			p, err := r.rv.d.Twilio.PromoteSecondaryAuthToken(ctx, c)
			if err == nil {
				got = p.Token
			}
			return err
		}
		if withNew {
			// Promoting with the new token binds the promotion to our
			// secondary: had someone replaced it, this is rejected.
			return nil, op(r.tokenCred(r.fresh))
		}
		return nil, r.withToken(op)
	})
	switch {
	case err == nil:
		if !got.IsZero() && r.rot.NewSecretHash != "" && r.rv.d.Store.Hash(got.Reveal()) != r.rot.NewSecretHash {
			return &failure{msg: "the token Twilio promoted is not the one leakstop created and delivered: someone replaced the secondary token", todo: []string{
				"Treat account " + r.sid() + " as compromised: rotate its Auth Token by hand in the Twilio console and review its activity.",
			}}
		}
		if r.fresh.IsZero() && !got.IsZero() {
			r.fresh = got // the same token, hash-checked: used only to confirm
		}
		return r.advance(ctx, state.StatePromoted, nil)
	case isAbort(err):
		return err
	case twilio.IsUnknownOutcome(err), twilio.IsAuth(err), twilio.IsNotFound(err):
		return r.afterUnclearPromotion(ctx, err, withNew)
	}
	return transient("promote the secondary token", err)
}

// afterUnclearPromotion finds out what happened from the old primary:
// rejected means the promotion took effect (ours, or a kill after it);
// accepted means it did not.
func (r *runner) afterUnclearPromotion(ctx context.Context, perr error, withNew bool) error {
	old := r.leaked
	if old.IsZero() {
		old = r.owner
	}
	if old.IsZero() {
		return &needsInputError{"the leaked token"}
	}
	v := r.verifyToken(ctx, old)
	switch {
	case v.Status == twilio.StatusDead && withNew && twilio.IsAuth(perr):
		// Our new token is rejected and so is the old primary: someone
		// promoted another secondary.
		return &failure{msg: "the new secondary token vanished and the old primary no longer works: someone else rotated the token", todo: []string{
			"Treat account " + r.sid() + " as compromised: rotate its Auth Token by hand in the Twilio console and review its activity.",
		}}
	case v.Status == twilio.StatusDead:
		if !withNew {
			r.warn("promotion had already taken effect; the promoted token could not be compared with the one delivered")
		}
		if _, err := r.step(ctx, "promote-check", nil, func(context.Context) (map[string]any, error) {
			return map[string]any{"old_primary": "rejected: the promotion took effect"}, nil
		}); err != nil {
			return err
		}
		return r.advance(ctx, state.StatePromoted, nil)
	case v.Status == twilio.StatusLive && twilio.IsUnknownOutcome(perr):
		return transient("promote the secondary token (outcome unknown, not applied)", perr)
	case v.Status == twilio.StatusLive:
		// No secondary, or ours is rejected, while the old primary works:
		// our secondary was deleted. Start over.
		r.warn("the new secondary token disappeared before promotion (someone deleted it); creating another")
		r.addTodo("The new secondary token was deleted by someone else during the rotation: review account " + r.sid() + "'s activity.")
		if _, err := r.step(ctx, "promote-check", nil, func(context.Context) (map[string]any, error) {
			return map[string]any{"secondary": "vanished: starting over"}, nil
		}); err != nil {
			return err
		}
		r.fresh = secret.Value{}
		return r.advance(ctx, state.StateClassified, func(n *state.Rotation) {
			n.NewSecretHash = ""
			n.Attempt++
		})
	}
	return transient("check the old primary token after an unclear promotion", v.Err)
}

// confirmToken checks that the leaked token is rejected and the new one
// accepted, then reports.
func (r *runner) confirmToken(ctx context.Context) error {
	_, err := r.step(ctx, "confirm", nil, func(ctx context.Context) (map[string]any, error) {
		out := map[string]any{}
		if r.leaked.IsZero() {
			out["leaked"] = "not checked: the leaked token is not available to this run"
		} else {
			st, err := r.confirmGone(ctx, func(ctx context.Context) (twilio.Status, error) {
				v := r.verifyToken(ctx, r.leaked)
				return v.Status, v.Err
			})
			switch st {
			case twilio.StatusDead:
				out["leaked"] = "rejected"
			case twilio.StatusLive:
				return out, &failure{msg: "the leaked token still authenticates after promotion", todo: []string{
					"Rotate the Auth Token of account " + r.sid() + " by hand in the Twilio console.",
				}}
			default:
				return out, transient("verify the leaked token", err)
			}
		}
		if r.fresh.IsZero() {
			out["new"] = "not checked: the new token is not held by this run"
		} else {
			v := r.verifyToken(ctx, r.fresh)
			switch v.Status {
			case twilio.StatusLive:
				out["new"] = "accepted"
			case twilio.StatusDead:
				return out, &failure{msg: "the new token is rejected after promotion", todo: []string{
					"Check account " + r.sid() + " in the Twilio console: its current Auth Token is not the one delivered.",
				}}
			default:
				return out, transient("verify the new token", v.Err)
			}
		}
		return out, nil
	})
	if err != nil {
		return err
	}
	if !r.owner.IsZero() {
		r.addTodo("Update " + r.acct.CredentialEnv + " with the new token (it is in your secret stores).")
	}
	r.addTodo("Twilio Functions and Classic services may need about a minute to pick up the new token; webhook signatures (X-Twilio-Signature) now use it.")
	r.addTodo("Remove the leaked token from the places listed and from git history; it no longer works.")
	if err := r.notifyOnce(ctx, "notify-done", r.message("Leaked Twilio Auth Token rotated",
		"The leaked Twilio Auth Token no longer works. Its replacement is the account's primary token and is in the configured secret stores.",
		SeverityInfo)); err != nil {
		return err
	}
	return r.advance(ctx, state.StateDone, nil)
}
