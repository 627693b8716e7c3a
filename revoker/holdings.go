package revoker

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/secret"
	"github.com/leakstop/leakstop/state"
)

// The invariant: no consumer ever holds a dead credential.
//
// Every transition that removes a credential (deleting a secondary Auth
// Token, promoting one, deleting an API key) first calls ensureHeld with
// the credential that survives the removal. ensureHeld reads, from the
// rotation's recorded steps (every attempt), what each sink may hold —
// the last delivery it acknowledged and any delivery started after it
// whose end was never recorded (a kill mid-delivery) — and gives every
// sink that may hold anything else the survivor first, as a recorded
// "restore:<sink>" step. Only when every sink is known to hold the
// survivor does the removal go ahead; otherwise nothing is removed and the
// caller reports why. A resumed run follows the same rule from the same
// records, so a kill at any point cannot leave a sink with a credential
// that is then removed.
//
// A sink this rotation never delivered to holds whatever its owner put
// there (normally the credential in use); the rotation reaches every sink
// before the old credential is cut off.

// Labels of what a delivery carried, recorded with its keyed hash.
const (
	holdsNew     = "new"     // the new secondary token or replacement key
	holdsLeaked  = "leaked"  // the leaked credential, given back
	holdsPrimary = "primary" // the account's primary token (credential_env), given back
)

// heldEntry is one delivery a sink may hold.
type heldEntry struct {
	hash, holds string
}

// holding is what one sink may hold: its last acknowledged delivery and
// the deliveries started after it whose outcome is unknown.
type holding struct {
	entries []heldEntry
	pending []heldEntry
}

func (h *holding) possible() []heldEntry {
	return append(append([]heldEntry(nil), h.entries...), h.pending...)
}

// sinkOfStep names the sink of a delivery step.
func sinkOfStep(name string) (string, bool) {
	if s, ok := strings.CutPrefix(name, "deliver:"); ok {
		return s, true
	}
	return strings.CutPrefix(name, "restore:")
}

// holdings reads what each sink may hold from every attempt's steps.
func (r *runner) holdings(ctx context.Context) (map[string]*holding, error) {
	all, err := r.rv.d.Store.Steps(ctx, r.rot.ID)
	if err != nil {
		return nil, err
	}
	out := map[string]*holding{}
	for _, s := range all {
		name, ok := sinkOfStep(s.Name)
		if !ok {
			continue
		}
		h := out[name]
		if h == nil {
			h = &holding{}
			out[name] = h
		}
		var d struct {
			Hash  string `json:"secret_hash"`
			Holds string `json:"holds"`
		}
		_ = json.Unmarshal(s.Detail, &d)
		switch s.Phase {
		case state.PhaseStarted:
			h.pending = append(h.pending, heldEntry{hash: d.Hash, holds: d.Holds})
		case state.PhaseDone:
			e := heldEntry{hash: d.Hash, holds: d.Holds}
			if e.hash == "" && len(h.pending) > 0 {
				e = h.pending[len(h.pending)-1]
			}
			h.entries, h.pending = []heldEntry{e}, nil
		case state.PhaseFailed:
			// The sink refused this delivery: it holds what it held.
			if len(h.pending) > 0 {
				h.pending = h.pending[:len(h.pending)-1]
			}
		}
	}
	return out, nil
}

// survivor is the credential a removal leaves working.
type survivor struct {
	what string // for people: "the account's current token"
	// ok says whether a recorded delivery is this credential.
	ok func(e heldEntry) bool
	// get returns the credential to deliver; zero Secret when this run
	// does not have it (err says why).
	get func(ctx context.Context) (Delivery, string, error)
}

// holdError: some sinks could not be given the surviving credential, so
// the removal must not happen.
type holdError struct {
	sinks []string
	why   string
}

func (e *holdError) Error() string {
	return "sink(s) " + strings.Join(e.sinks, ", ") + " may hold the credential about to be removed and could not be given " + e.why
}

// ensureHeld makes sure that every sink this rotation delivered to holds
// sv's credential before a removal (see the top of this file). It returns
// an abort, a store error, *needsInputError when this run lacks the
// surviving credential, or *holdError when a sink could not take it.
func (r *runner) ensureHeld(ctx context.Context, sv survivor) error {
	hs, err := r.holdings(ctx)
	if err != nil {
		return err
	}
	sinks, missing := r.rv.sinksFor(r.acct, r.rot.Kind, r.rot.KeySID)
	var atRisk []Sink
	var unavailable []string
	for name, h := range hs {
		risky := false
		for _, e := range h.possible() {
			if !sv.ok(e) {
				risky = true
			}
		}
		if !risky {
			continue
		}
		found := false
		for _, s := range sinks {
			if s.Name() == name {
				atRisk = append(atRisk, s)
				found = true
			}
		}
		if !found && len(missing) > 0 {
			unavailable = append(unavailable, name)
		}
	}
	if len(atRisk) == 0 && len(unavailable) == 0 {
		return nil
	}
	if len(unavailable) > 0 {
		return &holdError{sinks: unavailable, why: sv.what + " (the sink is not available to this run)"}
	}
	// Deliver in configuration order.
	var ordered []Sink
	for _, s := range sinks {
		for _, a := range atRisk {
			if a == s {
				ordered = append(ordered, s)
			}
		}
	}
	d, hold, err := sv.get(ctx)
	if err != nil {
		return err
	}
	var failed []string
	for _, s := range ordered {
		_, err := r.step(ctx, "restore:"+s.Name(), map[string]any{
			"sink": s.Name(), "holds": hold, "secret_hash": r.hashOf(d.Secret), "key_sid": d.KeySID,
			"reason": "before a credential is removed, the sink gets " + sv.what,
		}, func(ctx context.Context) (map[string]any, error) {
			return map[string]any{"holds": hold, "secret_hash": r.hashOf(d.Secret)}, s.Deliver(ctx, d)
		})
		if isAbort(err) {
			return err
		}
		if err != nil {
			failed = append(failed, s.Name())
		}
	}
	if len(failed) > 0 {
		return &holdError{sinks: failed, why: sv.what}
	}
	return nil
}

func (r *runner) hashOf(v secret.Value) string {
	if v.IsZero() {
		return ""
	}
	return r.rv.d.Store.Hash(v.Reveal())
}

// primarySurvivor is the account's primary Auth Token: what survives
// deleting a secondary. A sink may hold the owner's token or, unless it is
// the secondary, the leaked one.
func (r *runner) primarySurvivor() survivor {
	return survivor{
		what: "the account's current token",
		ok: func(e heldEntry) bool {
			if e.hash == "" {
				return false
			}
			if !r.owner.IsZero() && !r.ownerBad && e.hash == r.hashOf(r.owner) {
				return true
			}
			return r.rot.LeakedRole != RoleSecondary && !r.leaked.IsZero() && e.hash == r.hashOf(r.leaked)
		},
		get: func(ctx context.Context) (Delivery, string, error) {
			cur := r.currentToken(ctx)
			if cur.IsZero() {
				return Delivery{}, "", &needsInputError{"the account's current token (credential_env, or the leaked primary in the scan report) to give the sinks back"}
			}
			hold := holdsPrimary
			if cur.Equal(r.leaked) {
				hold = holdsLeaked
			}
			return Delivery{AccountSID: r.sid(), Kind: KindAuthToken, Secret: cur, RotationID: r.rot.ID}, hold, nil
		},
	}
}

// newSurvivor is the new secondary token or replacement key: what survives
// promotion or the deletion of the leaked key.
func (r *runner) newSurvivor() survivor {
	return survivor{
		what: "the new secret",
		ok: func(e heldEntry) bool {
			return e.hash != "" && e.hash == r.rot.NewSecretHash
		},
		get: func(context.Context) (Delivery, string, error) {
			if r.fresh.IsZero() || r.hashOf(r.fresh) != r.rot.NewSecretHash {
				return Delivery{}, "", &failure{msg: "a sink may not hold the new secret, and this run does not have it to deliver again", todo: []string{
					"Check the sinks of account " + r.sid() + " by hand, then run leakstop revoke --apply again.",
				}}
			}
			return Delivery{AccountSID: r.sid(), Kind: r.rot.Kind, KeySID: r.rot.NewKeySID, Secret: r.fresh, RotationID: r.rot.ID}, holdsNew, nil
		},
	}
}

// leakedKeySurvivor is the leaked API key, live until it is deleted: what
// survives deleting a replacement.
func (r *runner) leakedKeySurvivor() survivor {
	return survivor{
		what: "the key in use (the leaked key, which still works)",
		ok: func(e heldEntry) bool {
			if e.holds == holdsLeaked {
				return true
			}
			return e.hash != "" && !r.leaked.IsZero() && e.hash == r.hashOf(r.leaked)
		},
		get: func(context.Context) (Delivery, string, error) {
			if r.leaked.IsZero() {
				return Delivery{}, "", &needsInputError{"the leaked key (in the scan report) to give the sinks back"}
			}
			return Delivery{AccountSID: r.sid(), Kind: KindAPIKey, KeySID: r.rot.KeySID, Secret: r.leaked, RotationID: r.rot.ID}, holdsLeaked, nil
		},
	}
}

// holdFailure turns a failed ensureHeld into a failure for people, or returns
// other errors as they are.
func (r *runner) holdFailure(err error, kept string) error {
	var he *holdError
	if !errors.As(err, &he) {
		return err
	}
	return &failure{msg: r.clean(he.Error()) + "; " + kept + " was left in place so that they keep working", retry: true, todo: []string{
		"Fix sink(s) " + strings.Join(he.sinks, ", ") + " and run leakstop revoke --apply again.",
	}}
}

// currentToken returns a token of the account that Twilio accepts now
// and that is not the secondary about to be deleted: the owner's, else
// the leaked primary. Zero when neither works.
func (r *runner) currentToken(ctx context.Context) secret.Value {
	var cands []secret.Value
	if !r.ownerBad && !r.owner.IsZero() {
		cands = append(cands, r.owner)
	}
	if r.rot.LeakedRole != RoleSecondary && !r.leaked.IsZero() {
		cands = append(cands, r.leaked)
	}
	for _, c := range cands {
		if r.verifyToken(ctx, c).Status == twilio.StatusLive {
			return c
		}
	}
	return secret.Value{}
}
