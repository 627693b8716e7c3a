package revoker

import (
	"context"
	"fmt"

	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/secret"
	"github.com/leakstop/leakstop/state"
)

// The API key state machine:
//
//	started        → remove stale replacements, create a replacement → key-created
//	key-created    → (secret held) deliver to every sink             → delivered
//	                 (secret lost: a resumed run) delete it, start over → started
//	delivered      → notify, grace/readiness, delete the leaked key  → leaked-deleted
//	leaked-deleted → confirm the leaked key is gone, notify          → done
//
// Replacement keys are named "leakstop <rotation id>", so that one created
// by a request whose outcome was unknown, or by a run that died, can be
// found and removed.
func (r *runner) apiKeyPhase(ctx context.Context) error {
	switch r.rot.State {
	case state.StateStarted:
		return r.createKey(ctx)
	case state.StateKeyCreated:
		if r.fresh.IsZero() {
			return r.discardKey(ctx)
		}
		return r.deliverKey(ctx)
	case state.StateDelivered:
		return r.deleteLeakedKey(ctx)
	case state.StateLeakedDeleted:
		return r.confirmKey(ctx)
	}
	return fmt.Errorf("API key rotation in unexpected state %q", r.rot.State)
}

func (r *runner) keyMarker() string { return "leakstop " + r.rot.ID }

// keyCreds lists the credentials that may manage the account's keys: the
// owner's Auth Token, else the leaked key itself when it is a Main key.
func (r *runner) keyCreds() []twilio.Credential {
	var out []twilio.Credential
	if !r.owner.IsZero() && !r.ownerBad {
		out = append(out, r.tokenCred(r.owner))
	}
	if !r.leaked.IsZero() {
		out = append(out, twilio.Credential{Username: r.rot.KeySID, Password: r.leaked})
	}
	return out
}

func (r *runner) withKeyCred(op func(c twilio.Credential) error) error {
	creds := r.keyCreds()
	if len(creds) == 0 {
		return &needsInputError{"the account's credential_env or the leaked key"}
	}
	var err error
	for _, c := range creds {
		err = op(c)
		if !twilio.IsAuth(err) {
			return err
		}
		if c.Username == r.sid() {
			r.ownerBad = true
			r.warn("Twilio rejected the credential in %s", r.acct.CredentialEnv)
		}
	}
	if twilio.IsAuth(err) {
		return &failure{msg: "no credential may manage the account's API keys (a Standard key cannot)", retry: true, todo: []string{
			"Set credential_env for account " + r.sid() + " to its Auth Token, then run leakstop revoke --apply again.",
		}}
	}
	return err
}

// removeStaleKeys deletes replacement keys of this rotation other than keep.
func (r *runner) removeStaleKeys(ctx context.Context, keep string) error {
	_, err := r.step(ctx, "remove-stale-keys", map[string]any{"friendly_name": r.keyMarker()}, func(ctx context.Context) (map[string]any, error) {
		var keys []twilio.Key
		err := r.withKeyCred(func(c twilio.Credential) error {
			var err error
			keys, err = r.rv.d.Twilio.ListKeys(ctx, r.sid(), c)
			return err
		})
		if err != nil {
			return nil, err
		}
		var deleted []string
		for _, k := range keys {
			if k.FriendlyName != r.keyMarker() || k.SID == keep || k.SID == r.rot.KeySID {
				continue
			}
			err := r.withKeyCred(func(c twilio.Credential) error { return r.rv.d.Twilio.DeleteKey(ctx, r.sid(), k.SID, c) })
			if err != nil && !twilio.IsNotFound(err) {
				return map[string]any{"deleted": deleted}, err
			}
			deleted = append(deleted, k.SID)
		}
		return map[string]any{"deleted": deleted}, nil
	})
	return err
}

// createKey creates the replacement key; its secret stays in memory.
func (r *runner) createKey(ctx context.Context) error {
	if r.rot.Attempt > maxAttempts {
		return &failure{msg: fmt.Sprintf("gave up after %d attempts to create and deliver a replacement key", maxAttempts)}
	}
	for range 3 {
		if err := r.removeStaleKeys(ctx, ""); err != nil {
			return transient("remove stale replacement keys", err)
		}
		var nk *twilio.NewKey
		_, err := r.step(ctx, "create-key", map[string]any{"friendly_name": r.keyMarker()}, func(ctx context.Context) (map[string]any, error) {
			err := r.withKeyCred(func(c twilio.Credential) error {
				var err error
				nk, err = r.rv.d.Twilio.CreateKey(ctx, r.sid(), r.keyMarker(), c)
				return err
			})
			if err != nil {
				return nil, err
			}
			return map[string]any{"new_key_sid": nk.SID}, nil
		})
		switch {
		case err == nil:
			r.fresh = nk.Secret
			return r.advance(ctx, state.StateKeyCreated, func(n *state.Rotation) {
				n.NewKeySID = nk.SID
				n.NewSecretHash = r.rv.d.Store.Hash(nk.Secret.Reveal())
			})
		case isAbort(err):
			return err
		case twilio.IsUnknownOutcome(err):
			continue // the key may exist: removeStaleKeys finds it by name
		default:
			return transient("create the replacement key", err)
		}
	}
	return transient("create the replacement key: gave up after 3 tries", nil)
}

// discardKey deletes a replacement whose secret this run never held.
func (r *runner) discardKey(ctx context.Context) error {
	_, err := r.step(ctx, "delete-key", map[string]any{"key_sid": r.rot.NewKeySID, "reason": "created but not delivered to every sink; its secret is lost: start over"}, func(ctx context.Context) (map[string]any, error) {
		err := r.withKeyCred(func(c twilio.Credential) error { return r.rv.d.Twilio.DeleteKey(ctx, r.sid(), r.rot.NewKeySID, c) })
		if err != nil && !twilio.IsNotFound(err) {
			return nil, err
		}
		return nil, nil
	})
	if err != nil {
		return transient("delete the undelivered replacement key", err)
	}
	return r.advance(ctx, state.StateStarted, func(n *state.Rotation) {
		n.NewKeySID, n.NewSecretHash = "", ""
		n.Attempt++
	})
}

// deliverKey hands the replacement to every sink; if one fails, the
// replacement is deleted, the leaked key is left alone, and the attempt fails.
func (r *runner) deliverKey(ctx context.Context) error {
	acked, err := r.deliver(ctx, Delivery{AccountSID: r.sid(), Kind: KindAPIKey, KeySID: r.rot.NewKeySID, Secret: r.fresh, RotationID: r.rot.ID})
	if isAbort(err) {
		return err
	}
	if err == nil {
		return r.advance(ctx, state.StateDelivered, nil)
	}
	msg := deliveryFailedPrefix + r.clean(err.Error())
	_, derr := r.step(ctx, "delete-key", map[string]any{"key_sid": r.rot.NewKeySID, "reason": "delivery failed: the leaked key is left in place"}, func(ctx context.Context) (map[string]any, error) {
		err := r.withKeyCred(func(c twilio.Credential) error { return r.rv.d.Twilio.DeleteKey(ctx, r.sid(), r.rot.NewKeySID, c) })
		if err != nil && !twilio.IsNotFound(err) {
			return nil, err
		}
		return nil, nil
	})
	if isAbort(derr) {
		return derr
	}
	if derr != nil {
		r.warn("%s; deleting the undelivered replacement key failed too (the next run deletes it): %v", msg, derr)
		return transient("delete the undelivered replacement key", derr)
	}
	r.fresh = secret.Value{}
	for _, s := range acked {
		r.addTodo("Sink " + s.Name() + " received a replacement key that was then deleted: put the key in use back there.")
	}
	return &failure{msg: msg, retry: true, todo: []string{
		"Fix the failing sink and run leakstop revoke --apply again: the leaked key still works.",
		"Or delete API key " + r.rot.KeySID + " by hand in the Twilio console after replacing it.",
	}}
}

// deleteLeakedKey waits for consumers, then deletes the leaked key.
func (r *runner) deleteLeakedKey(ctx context.Context) error {
	if err := r.notifyOnce(ctx, "notify-delivered", r.message("Leaked Twilio API key is being replaced",
		"A live Twilio API key leaked. leakstop created a replacement key ("+r.rot.NewKeySID+") and delivered it to the configured secret stores; it will delete the leaked key after the grace period.",
		SeverityCritical)); err != nil {
		return err
	}
	if err := r.waitReady(ctx); err != nil {
		return err
	}
	_, err := r.step(ctx, "delete-leaked-key", map[string]any{"key_sid": r.rot.KeySID}, func(ctx context.Context) (map[string]any, error) {
		err := r.withKeyCred(func(c twilio.Credential) error { return r.rv.d.Twilio.DeleteKey(ctx, r.sid(), r.rot.KeySID, c) })
		switch {
		case err == nil:
			return map[string]any{"existed": true}, nil
		case twilio.IsNotFound(err):
			return map[string]any{"existed": false}, nil
		}
		return nil, err
	})
	if err != nil {
		if isAbort(err) {
			return err
		}
		return transient("delete the leaked key", err)
	}
	return r.advance(ctx, state.StateLeakedDeleted, nil)
}

// confirmKey checks the leaked key is gone (and no longer authenticates)
// and the replacement exists.
func (r *runner) confirmKey(ctx context.Context) error {
	_, err := r.step(ctx, "confirm", nil, func(ctx context.Context) (map[string]any, error) {
		out := map[string]any{}
		owner := !r.owner.IsZero() && !r.ownerBad
		if owner {
			c := r.tokenCred(r.owner)
			_, err := r.rv.d.Twilio.FetchKey(ctx, r.sid(), r.rot.KeySID, c)
			switch {
			case twilio.IsNotFound(err):
				out["leaked"] = "deleted"
			case err == nil:
				return out, &failure{msg: "the leaked key still exists after deletion", todo: []string{
					"Delete API key " + r.rot.KeySID + " by hand in the Twilio console.",
				}}
			default:
				return out, transient("look up the leaked key", err)
			}
			_, err = r.rv.d.Twilio.FetchKey(ctx, r.sid(), r.rot.NewKeySID, c)
			switch {
			case err == nil:
				out["new"] = "exists"
			case twilio.IsNotFound(err):
				return out, &failure{msg: "the replacement key " + r.rot.NewKeySID + " no longer exists", todo: []string{
					"Create a new API key for the consumers of " + r.rot.KeySID + " by hand.",
				}}
			default:
				return out, transient("look up the replacement key", err)
			}
		}
		if !r.leaked.IsZero() {
			v := r.rv.d.Twilio.Verify(ctx, r.sid(), twilio.Credential{Username: r.rot.KeySID, Password: r.leaked})
			if v.Status == twilio.StatusLive {
				return out, &failure{msg: "the leaked key still authenticates after deletion", todo: []string{
					"Delete API key " + r.rot.KeySID + " by hand in the Twilio console.",
				}}
			}
			out["leaked_auth"] = "rejected"
		} else if !owner {
			out["leaked"] = "not checked: neither the leaked key nor the account's credential is available to this run"
		}
		return out, nil
	})
	if err != nil {
		return err
	}
	r.addTodo("Remove the leaked key from the places listed and from git history; it no longer works.")
	if err := r.notifyOnce(ctx, "notify-done", r.message("Leaked Twilio API key replaced",
		"The leaked Twilio API key "+r.rot.KeySID+" was deleted and no longer works. Its replacement, "+r.rot.NewKeySID+", is in the configured secret stores.",
		SeverityInfo)); err != nil {
		return err
	}
	return r.advance(ctx, state.StateDone, nil)
}
