package revoker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/secret"
	"github.com/leakstop/leakstop/state"
)

// The API key state machine:
//
//	started        → find the leaked key's type (Main / Restricted + policy / Standard),
//	                 remove stale replacements, create a replacement
//	                 of the same type and policy                     → key-created
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

// removeStaleKeys deletes replacement keys of this rotation other than
// keep, once every sink holds the key in use (ensureHeld).
func (r *runner) removeStaleKeys(ctx context.Context, keep string) error {
	if err := r.ensureHeld(ctx, r.leakedKeySurvivor()); err != nil {
		return r.holdFailure(err, "the earlier replacement key")
	}
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

// createKey creates the replacement key, of the leaked key's type and
// policy (see keyType); its secret stays in memory.
func (r *runner) createKey(ctx context.Context) error {
	if r.rot.Attempt > maxAttempts {
		return &failure{msg: fmt.Sprintf("gave up after %d attempts to create and deliver a replacement key", maxAttempts)}
	}
	kt, err := r.keyType(ctx)
	if err != nil {
		return err
	}
	for range 3 {
		if err := r.removeStaleKeys(ctx, ""); err != nil {
			var f *failure
			if isAbort(err) || errors.As(err, &f) {
				return err
			}
			return transient("remove stale replacement keys", err)
		}
		var sid string
		var sec secret.Value
		_, err := r.step(ctx, "create-key", map[string]any{"friendly_name": r.keyMarker(), "type": kt.create}, func(ctx context.Context) (map[string]any, error) {
			err := r.withKeyCred(func(c twilio.Credential) error {
				if kt.create == twilio.KeyRestricted {
					nk, err := r.rv.d.Twilio.CreateIAMKey(ctx, r.sid(), r.keyMarker(), twilio.KeyRestricted, kt.policy, c)
					if err == nil {
						sid, sec = nk.SID, nk.Secret
						if !twilio.SamePolicy(nk.Policy, kt.policy) {
							return fmt.Errorf("the replacement key %s was created with another policy than the leaked key's", nk.SID)
						}
					}
					return err
				}
				nk, err := r.rv.d.Twilio.CreateKey(ctx, r.sid(), r.keyMarker(), c)
				if err == nil {
					sid, sec = nk.SID, nk.Secret
				}
				return err
			})
			if err != nil {
				return nil, err
			}
			return map[string]any{"new_key_sid": sid}, nil
		})
		switch {
		case err == nil:
			r.fresh = sec
			return r.advance(ctx, state.StateKeyCreated, func(n *state.Rotation) {
				n.NewKeySID = sid
				n.NewSecretHash = r.rv.d.Store.Hash(sec.Reveal())
			})
		case isAbort(err):
			return err
		case twilio.IsUnknownOutcome(err):
			continue // the key may exist: removeStaleKeys finds it by name
		default:
			var f *failure
			if errors.As(err, &f) {
				return err
			}
			return transient("create the replacement key", err)
		}
	}
	return transient("create the replacement key: gave up after 3 tries", nil)
}

// leakedKeyType is what the replacement must be.
type leakedKeyType struct {
	leaked string          // twilio.KeyStandard, KeyRestricted or KeyMain
	create string          // the type to create: KeyStandard or KeyRestricted
	policy json.RawMessage // a Restricted key's policy
}

// keyType finds the leaked key's type: Main when it may read its account
// (assessed, or checked now with the leaked secret); else Restricted when
// IAM v1 shows a policy; else Standard. A Restricted key is replaced by a
// Restricted key with the same policy, a Standard key by a Standard key.
// No API creates a Main key: one is replaced by a Standard key only when
// the account's configuration says its users need no Main rights.
func (r *runner) keyType(ctx context.Context) (leakedKeyType, error) {
	var kt leakedKeyType
	// IAM v1 shows no policy for Standard and Main keys alike: only the
	// leaked key itself (or an earlier run's record) tells a Main key.
	recorded, known, err := r.recordedKeyType(ctx)
	if err != nil {
		return kt, err
	}
	if !r.mainKey && !r.keyChecked && r.leaked.IsZero() && !known {
		return kt, &needsInputError{"the leaked key (in the scan report), to find out whether it is a Main key"}
	}
	_, err = r.step(ctx, "key-type", map[string]any{"key_sid": r.rot.KeySID}, func(ctx context.Context) (map[string]any, error) {
		main := r.mainKey || recorded == twilio.KeyMain
		if !main && !r.keyChecked && !r.leaked.IsZero() {
			v := r.rv.d.Twilio.Verify(ctx, r.sid(), twilio.Credential{Username: r.rot.KeySID, Password: r.leaked})
			main = v.Status == twilio.StatusLive
		}
		if main {
			kt = leakedKeyType{leaked: twilio.KeyMain, create: twilio.KeyStandard}
			return map[string]any{"type": kt.leaked}, nil
		}
		var k *twilio.IAMKey
		err := r.withKeyCred(func(c twilio.Credential) error {
			var err error
			k, err = r.rv.d.Twilio.FetchIAMKey(ctx, r.rot.KeySID, c)
			return err
		})
		if err != nil {
			return nil, err
		}
		kt = leakedKeyType{leaked: twilio.KeyStandard, create: twilio.KeyStandard}
		if k.Restricted() {
			kt = leakedKeyType{leaked: twilio.KeyRestricted, create: twilio.KeyRestricted, policy: k.Policy}
			return map[string]any{"type": kt.leaked, "policy": string(k.Policy)}, nil
		}
		return map[string]any{"type": kt.leaked}, nil
	})
	var f *failure
	switch {
	case isAbort(err), errors.As(err, &f):
		return kt, err
	case twilio.IsNotFound(err):
		return kt, &failure{msg: "the leaked key " + r.rot.KeySID + " no longer exists in account " + r.sid(), todo: []string{
			"Check account " + r.sid() + " in the Twilio console: the leaked key is gone, but nothing replaced it.",
		}}
	case err != nil:
		return kt, transient("find the leaked key's type", err)
	}
	if kt.leaked == twilio.KeyMain && (r.acct == nil || !r.acct.ReplaceMainKeysWithStandard) {
		return kt, &failure{msg: mainKeyBlocked, retry: true, todo: mainKeyTodo(r.sid(), r.rot.KeySID)}
	}
	if kt.leaked == twilio.KeyMain {
		r.warn("the leaked key is a Main key; as configured (replace_main_keys_with_standard), it is replaced by a Standard key")
	}
	return kt, nil
}

const mainKeyBlocked = "the leaked key is a Main key, and no API creates a Main key: leakstop does not delete it unless the account's configuration sets replace_main_keys_with_standard"

func mainKeyTodo(acct, keySID string) []string {
	return []string{
		"Create a new Main API key for account " + acct + " in the Twilio Console, put it where the leaked key " + keySID + " is used, then delete " + keySID + " there.",
		"Or, if nothing that uses " + keySID + " needs Main rights (managing keys, subaccounts or the Auth Token), set replace_main_keys_with_standard = true for the account and run leakstop revoke --apply again: leakstop then replaces it with a Standard key and deletes it.",
	}
}

// discardKey deletes a replacement whose secret this run never held, once
// every sink that may hold it has the leaked key (still live) back.
func (r *runner) discardKey(ctx context.Context) error {
	if err := r.ensureHeld(ctx, r.leakedKeySurvivor()); err != nil {
		return r.holdFailure(err, "the undelivered replacement key")
	}
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

// deliverKey hands the replacement to every sink. If one fails, the sinks
// that took the replacement get the leaked key (still live) back, then the
// replacement is deleted and the attempt fails. Should a sink refuse the
// leaked key, the replacement it holds is left in place (it works).
func (r *runner) deliverKey(ctx context.Context) error {
	_, err := r.deliver(ctx, Delivery{AccountSID: r.sid(), Kind: KindAPIKey, KeySID: r.rot.NewKeySID, Secret: r.fresh, RotationID: r.rot.ID})
	if isAbort(err) {
		return err
	}
	if err == nil {
		return r.advance(ctx, state.StateDelivered, nil)
	}
	msg := deliveryFailedPrefix + r.clean(err.Error())
	if herr := r.ensureHeld(ctx, r.leakedKeySurvivor()); herr != nil {
		var he *holdError
		if errors.As(herr, &he) {
			return &failure{msg: msg + "; " + r.clean(he.Error()) + ": the replacement key " + r.rot.NewKeySID + " was left in place so that they keep working", retry: true, todo: []string{
				"Fix the failing sinks and run leakstop revoke --apply again: the leaked key still works.",
			}}
		}
		return herr
	}
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
	if err := r.ensureHeld(ctx, r.newSurvivor()); err != nil {
		return r.holdFailure(err, "the leaked key")
	}
	// A leaked Main key may be the only credential that manages the keys;
	// once a killed run deleted it, Twilio rejects it (401): that is its
	// deletion, seen from here.
	again, err := r.everStarted(ctx, "delete-leaked-key")
	if err != nil {
		return err
	}
	onlyLeaked := r.owner.IsZero() || r.ownerBad
	_, err = r.step(ctx, "delete-leaked-key", map[string]any{"key_sid": r.rot.KeySID}, func(ctx context.Context) (map[string]any, error) {
		err := r.withKeyCred(func(c twilio.Credential) error { return r.rv.d.Twilio.DeleteKey(ctx, r.sid(), r.rot.KeySID, c) })
		var f *failure
		switch {
		case err == nil:
			return map[string]any{"existed": true}, nil
		case twilio.IsNotFound(err):
			return map[string]any{"existed": false}, nil
		case again && onlyLeaked && errors.As(err, &f) && r.leakedKeyWasMain(ctx):
			return map[string]any{"existed": false, "leaked": "rejected: an earlier run deleted it"}, nil
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

// leakedKeyWasMain reports whether this rotation found the leaked key to
// be a Main key.
func (r *runner) leakedKeyWasMain(ctx context.Context) bool {
	t, _, err := r.recordedKeyType(ctx)
	return r.mainKey || (err == nil && t == twilio.KeyMain)
}

// recordedKeyType is the leaked key's type as a run of this rotation (any
// attempt) found it.
func (r *runner) recordedKeyType(ctx context.Context) (keyType string, known bool, err error) {
	all, err := r.rv.d.Store.Steps(ctx, r.rot.ID)
	if err != nil {
		return "", false, err
	}
	for _, s := range all {
		var d struct {
			Type string `json:"type"`
		}
		if s.Name == "key-type" && s.Phase == state.PhaseDone && json.Unmarshal(s.Detail, &d) == nil && d.Type != "" {
			keyType, known = d.Type, true
		}
	}
	return keyType, known, nil
}
