package revoker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sourcegraph/conc/pool"

	"github.com/leakstop/leakstop/secret"
	"github.com/leakstop/leakstop/state"
)

// Result is what Apply or Resume did.
type Result struct {
	Mode  Mode   `json:"mode"`
	Items []Item `json:"items"`
}

// ErrPlanMode is returned by Apply and Resume when the configuration's mode
// is not "apply".
var ErrPlanMode = errors.New(`refusing to act: mode is "plan" (set mode = "apply" in the configuration)`)

// Apply verifies every distinct credential and acts on the policy: live
// credentials of configured accounts are rotated (or an unfinished rotation
// of them resumed); live credentials of other accounts are reported and
// people notified; dead, test and unverifiable credentials are left alone
// and reported. Apply is idempotent: run again after a kill, it resumes.
//
// The returned error is for the run itself (store unreachable, context
// cancelled); what happened to each credential, failures included, is in
// the Result.
func (rv *Revoker) Apply(ctx context.Context, leaks []Leak) (Result, error) {
	if rv.cfg.Mode != ModeApply {
		return Result{}, ErrPlanMode
	}
	return rv.apply(ctx, leaks)
}

func (rv *Revoker) apply(ctx context.Context, leaks []Leak) (Result, error) {
	as, err := rv.assess(ctx, leaks)
	if err != nil {
		return Result{}, err
	}
	res := Result{Mode: rv.cfg.Mode, Items: make([]Item, len(as))}
	groups := map[string][]job{}
	var order []string
	for i, a := range as {
		it, err := rv.decide(ctx, a)
		if err != nil {
			return Result{}, err
		}
		res.Items[i] = it
		switch it.Decision {
		case DecisionRotate, DecisionResume, DecisionRetry:
			sid := strings.ToLower(a.accountSID)
			if _, ok := groups[sid]; !ok {
				order = append(order, sid)
			}
			groups[sid] = append(groups[sid], job{a: a, item: &res.Items[i]})
			continue
		case DecisionNotOwned:
			res.Items[i].Outcome = OutcomeReported
			if err := rv.reportUnowned(ctx, a, &res.Items[i]); err != nil {
				return res, err
			}
		case DecisionAlreadyRotated:
			res.Items[i].Outcome = OutcomeAlreadyRotated
		default:
			res.Items[i].Outcome = OutcomeSkipped
		}
		if err := rv.event(ctx, a.fp, it.RotationID, "decision", map[string]any{"decision": it.Decision, "reason": it.Reason, "verification": it.Verification}); err != nil {
			return res, err
		}
	}
	extra, err := rv.runGroups(ctx, order, groups)
	res.Items = append(res.Items, extra...)
	return res, err
}

// Resume finishes the rotations that runs left unfinished (killed, or
// stopped by an error). leaks, optional, are the scan report: they supply
// the leaked secrets (without them a rotation can still finish if the
// account's credential_env is set and the remaining steps do not need the
// leaked secret; otherwise its outcome is needs-input), and every
// credential of the report that no unfinished rotation covers is then
// applied as Apply would: a run killed before its rotation's first record
// (during the first verification, say) left nothing to resume, but its
// owned live credentials must still be rotated. The Result has an item for
// every credential of the report, so a credential still live after Resume
// shows why (blocked, busy, unknown, failed, …).
func (rv *Revoker) Resume(ctx context.Context, leaks ...Leak) (Result, error) {
	res, covered, err := rv.resumeInFlight(ctx, leaks)
	if err != nil || len(leaks) == 0 {
		return res, err
	}
	var rest []Leak
	for _, l := range leaks {
		if !covered[rv.d.Store.Hash(l.identity())] {
			rest = append(rest, l)
		}
	}
	if len(rest) == 0 {
		return res, nil
	}
	more, err := rv.apply(ctx, rest)
	res.Items = append(res.Items, more.Items...)
	return res, err
}

// resumeInFlight runs every unfinished rotation; covered holds their
// fingerprints.
func (rv *Revoker) resumeInFlight(ctx context.Context, leaks []Leak) (Result, map[string]bool, error) {
	if rv.cfg.Mode != ModeApply {
		return Result{}, nil, ErrPlanMode
	}
	byFP := map[string]Leak{}
	for _, l := range leaks {
		byFP[rv.d.Store.Hash(l.identity())] = l
	}
	rots, err := rv.d.Store.Rotations(ctx, state.RotationFilter{InFlight: true})
	if err != nil {
		return Result{}, nil, err
	}
	res := Result{Mode: rv.cfg.Mode, Items: make([]Item, len(rots))}
	groups := map[string][]job{}
	covered := map[string]bool{}
	var order []string
	for i, rot := range rots {
		covered[rot.Fingerprint] = true
		it := Item{Kind: rot.Kind, AccountSID: rot.AccountSID, KeySID: rot.KeySID, RotationID: rot.ID, State: string(rot.State), Decision: DecisionResume}
		a := &assessment{fp: rot.Fingerprint, accountSID: rot.AccountSID, status: StatusLive, account: rv.cfg.Account(rot.AccountSID)}
		a.leak = Leak{Kind: rot.Kind, AccountSID: rot.AccountSID, KeySID: rot.KeySID}
		if l, ok := byFP[rot.Fingerprint]; ok {
			a.leak, a.leak.AccountSID = l, rot.AccountSID
			it = a.item()
			it.RotationID, it.State, it.Decision = rot.ID, string(rot.State), DecisionResume
		}
		if a.account == nil {
			it.Decision, it.Outcome = DecisionNotOwned, OutcomeSkipped
			it.Reason = "the account is no longer in the configuration: the rotation is left as it is"
			res.Items[i] = it
			continue
		}
		it.Owned, it.AccountName = true, a.account.Name
		res.Items[i] = it
		sid := strings.ToLower(rot.AccountSID)
		if _, ok := groups[sid]; !ok {
			order = append(order, sid)
		}
		groups[sid] = append(groups[sid], job{a: a, item: &res.Items[i], rot: &rots[i]})
	}
	extra, err := rv.runGroups(ctx, order, groups)
	res.Items = append(res.Items, extra...)
	for _, it := range extra {
		if it.RotationID != "" {
			if rot, rerr := rv.d.Store.Rotation(ctx, it.RotationID); rerr == nil {
				covered[rot.Fingerprint] = true
			}
		}
	}
	return res, covered, err
}

// job is one credential to rotate.
type job struct {
	a    *assessment
	item *Item
	rot  *state.Rotation // set when resuming a known rotation
}

// runGroups rotates account by account, accounts in parallel. It returns
// items for unfinished rotations it met that were not asked about.
func (rv *Revoker) runGroups(ctx context.Context, order []string, groups map[string][]job) ([]Item, error) {
	var mu sync.Mutex
	var extra []Item
	p := pool.New().WithErrors().WithContext(ctx).WithMaxGoroutines(rv.cfg.Concurrency)
	for _, sid := range order {
		jobs := groups[sid]
		p.Go(func(ctx context.Context) error {
			more, err := rv.rotateAccount(ctx, jobs)
			mu.Lock()
			extra = append(extra, more...)
			mu.Unlock()
			return err
		})
	}
	err := p.Wait()
	return extra, err
}

// rotateAccount takes the account's lease and rotates its credentials one
// after the other: at most one rotation per account is in flight. Other
// unfinished rotations of the account go first; while one stays
// unfinished, no new rotation of the account starts.
func (rv *Revoker) rotateAccount(ctx context.Context, jobs []job) (extra []Item, err error) {
	sid := jobs[0].a.accountSID
	err = rv.withLease(ctx, "account:"+strings.ToLower(sid), func(ctx context.Context) error {
		// Unfinished rotations of this account not in this batch come first.
		inflight, err := rv.d.Store.Rotations(ctx, state.RotationFilter{AccountSID: sid, InFlight: true})
		if err != nil {
			return err
		}
		var blocking []string
		// current is the account's primary once this run has promoted a new
		// one: credential_env is stale from then on.
		var current secret.Value
		for _, rot := range inflight {
			if slices.ContainsFunc(jobs, func(j job) bool { return j.a.fp == rot.Fingerprint }) {
				continue
			}
			a := &assessment{fp: rot.Fingerprint, accountSID: rot.AccountSID, status: StatusLive, account: rv.cfg.Account(rot.AccountSID),
				leak: Leak{Kind: rot.Kind, AccountSID: rot.AccountSID, KeySID: rot.KeySID}}
			it := Item{Kind: rot.Kind, AccountSID: rot.AccountSID, KeySID: rot.KeySID, Decision: DecisionResume,
				Owned: a.account != nil, Reason: "unfinished rotation of the same account"}
			if err := rv.rotateOne(ctx, job{a: a, item: &it, rot: &rot}, &current); err != nil {
				return err
			}
			extra = append(extra, it)
			if !state.State(it.State).Terminal() {
				blocking = append(blocking, rot.ID)
			}
		}
		for _, j := range jobs {
			if len(blocking) > 0 && j.item.Decision != DecisionResume {
				j.item.Outcome = OutcomeSkipped
				j.item.Reason = "account has an unfinished rotation (" + strings.Join(blocking, ", ") + "): resume it first"
				continue
			}
			if err := rv.rotateOne(ctx, j, &current); err != nil {
				return err
			}
			if !state.State(j.item.State).Terminal() && j.item.Outcome != OutcomeAlreadyRotated {
				blocking = append(blocking, j.item.RotationID)
			}
		}
		return nil
	}, func(lerr error) {
		for _, j := range jobs {
			j.item.Outcome, j.item.Error = OutcomeBusy, lerr.Error()
		}
	})
	return extra, err
}

// rotateOne creates or loads the rotation of one credential and runs it.
// Only an abort or a store failure is returned; the rest goes in the item.
// current carries the account's primary token across rotations of one run
// once one of them has promoted a new token.
func (rv *Revoker) rotateOne(ctx context.Context, j job, current *secret.Value) error {
	a, it := j.a, j.item
	var rot state.Rotation
	if j.rot != nil {
		cur, err := rv.d.Store.Rotation(ctx, j.rot.ID)
		if err != nil {
			return err
		}
		rot = cur
	} else {
		cur, err := rv.d.Store.RotationByFingerprint(ctx, a.fp)
		switch {
		case errors.Is(err, state.ErrNotFound):
			cur, err = rv.d.Store.CreateRotation(ctx, state.Rotation{
				ID: newID(), Fingerprint: a.fp, Kind: a.leak.Kind, AccountSID: a.accountSID, KeySID: a.leak.KeySID,
				CreatedBy: rv.d.Actor,
			})
			if err != nil && !errors.Is(err, state.ErrRotationExists) {
				return err
			}
		case err != nil:
			return err
		}
		rot = cur
	}
	it.RotationID, it.State = rot.ID, string(rot.State)
	switch {
	case rot.State == state.StateDone:
		it.Outcome, it.FinishedAt = OutcomeAlreadyRotated, rot.FinishedAt
		it.Reason = "already rotated at " + rot.FinishedAt.UTC().Format(time.RFC3339) + " (" + rot.ID + ")"
		return nil
	case rot.State == state.StateFailed && !retryable(rot):
		it.Outcome, it.Error = OutcomeSkipped, rot.Error
		it.Reason = "rotation " + rot.ID + " failed and needs a person"
		return nil
	case rot.State == state.StateFailed:
		next := rot
		next.State, next.Error, next.Retryable, next.Attempt, next.FinishedAt = state.StateStarted, "", false, rot.Attempt+1, time.Time{}
		next.NewKeySID, next.NewSecretHash, next.LeakedRole = "", "", ""
		updated, err := rv.d.Store.UpdateRotation(ctx, next, state.StateFailed, state.Step{
			RotationID: rot.ID, Attempt: next.Attempt, Name: "retry", Phase: state.PhaseDone,
			Detail: mustJSON(map[string]any{"previous_error": rot.Error}), Actor: rv.d.Actor,
		})
		if err != nil {
			return err
		}
		rot = updated
	}
	r := &runner{rv: rv, rot: rot, acct: a.account, fp: a.leak.Fingerprint, mainKey: a.mainKey, keyChecked: a.verified}
	if !a.leak.Secret.IsZero() {
		l := a.leak
		r.leak, r.leaked = &l, l.Secret
	}
	r.owner = rv.ownerSecret(a.account)
	switch {
	case !current.IsZero():
		r.owner = *current
	case a.account != nil && a.account.CredentialEnv != "" && r.owner.IsZero():
		r.warn("credential_env %s is not set: working with the leaked credential", a.account.CredentialEnv)
	}
	err := r.run(ctx)
	if r.rot.Kind == KindAuthToken && r.rot.State == state.StateDone && r.rot.LeakedRole == RolePrimary && !r.fresh.IsZero() {
		*current = r.fresh
	}
	r.outcomeItem(it)
	var ni *needsInputError
	switch {
	case isAbort(err):
		return err
	case err == nil:
	case errors.As(err, &ni):
		it.Outcome, it.Error = OutcomeNeedsInput, ni.Error()
	case errors.Is(err, state.ErrConflict), errors.Is(err, state.ErrLockLost):
		it.Outcome, it.Error = OutcomeIncomplete, err.Error()
	default:
		if cause := context.Cause(ctx); cause != nil && errors.Is(cause, state.ErrLockLost) {
			it.Outcome, it.Error = OutcomeIncomplete, "lost the lease on the account: "+r.clean(err.Error())
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		it.Outcome, it.Error = OutcomeIncomplete, r.clean(err.Error())
		// Keep the reason with the rotation for status and the next run.
		cur := r.rot
		cur.Error = "interrupted: " + r.clean(err.Error())
		if updated, uerr := rv.d.Store.UpdateRotation(ctx, cur, cur.State); uerr == nil {
			r.rot = updated
		}
	}
	return nil
}

// reportUnowned notifies people, once per credential, of a live credential
// of an account not in the configuration. Nothing at Twilio is touched.
func (rv *Revoker) reportUnowned(ctx context.Context, a *assessment, it *Item) error {
	prev, err := rv.d.Store.Events(ctx, state.EventFilter{Fingerprint: a.fp, Kind: "notified-unowned"})
	if err != nil {
		return err
	}
	if len(prev) > 0 {
		it.Reason += "; people were notified at " + prev[0].At.UTC().Format(time.RFC3339)
		return nil
	}
	ns := rv.notifiersFor(nil)
	if len(ns) == 0 {
		return nil
	}
	what := "A live Twilio credential leaked for account " + a.accountSID + ", which is not in leakstop's configuration, so leakstop did not touch it."
	m := Message{
		Subject:    "Live Twilio credential leaked (account not managed by leakstop)",
		What:       what,
		Credential: a.leak.ref(),
		Locations:  a.leak.Locations,
		Todo: []string{
			"Rotate the credential now in the Twilio console (Auth Token: create a secondary, deploy it, promote it; API key: create a new key, deploy it, delete the leaked one).",
			"Or add the account to leakstop's configuration with its sinks and run leakstop revoke --apply.",
			"Remove the credential from the places listed and from git history.",
		},
		Severity: SeverityCritical,
	}
	m.Credential.AccountSID = a.accountSID
	res := map[string]any{}
	for _, n := range ns {
		if err := n.Notify(ctx, m); err != nil {
			res[n.Name()] = secret.Scrub(err.Error(), a.leak.Secret)
			it.Warnings = append(it.Warnings, "notify "+n.Name()+": "+secret.Scrub(err.Error(), a.leak.Secret))
			continue
		}
		res[n.Name()] = "sent"
	}
	return rv.event(ctx, a.fp, "", "notified-unowned", res)
}

func (rv *Revoker) event(ctx context.Context, fp, rotID, kind string, d map[string]any) error {
	_, err := rv.d.Store.AppendEvent(ctx, state.Event{Fingerprint: fp, RotationID: rotID, Kind: kind, Detail: mustJSON(d), Actor: rv.d.Actor})
	return err
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode detail: %v", err))
	}
	return b
}
