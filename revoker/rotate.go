package revoker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/secret"
	"github.com/leakstop/leakstop/state"
)

// Outcomes of a credential in Apply or Resume.
const (
	OutcomeRotated        = "rotated"         // replaced; the leaked secret is dead
	OutcomeCutOff         = "cut-off"         // a leaked secondary token was deleted; nothing to replace
	OutcomeAlreadyDead    = "already-dead"    // it stopped authenticating before the rotation acted
	OutcomeAlreadyRotated = "already-rotated" // rotated by an earlier run
	OutcomeFailed         = "failed"          // the attempt ended without cutting the credential off
	OutcomeIncomplete     = "incomplete"      // interrupted by an error; resume or apply again
	OutcomeNeedsInput     = "needs-input"     // resuming needs the leaked secret: apply with the scan report
	OutcomeBusy           = "busy"            // another run holds the account
	OutcomeReported       = "reported"        // not owned: reported and people notified
	OutcomeSkipped        = "skipped"         // policy: dead, test, unknown, blocked, needs attention
)

const (
	// maxAttempts bounds how often a rotation starts over from creating a
	// new secret (after a crash before delivery, a vanished secondary).
	maxAttempts = 5
	// maxTransitions bounds one run of the state machine.
	maxTransitions       = 40
	deliveryFailedPrefix = "delivery failed: "
)

// retryable reports whether a failed rotation may start a new attempt: its
// cause was one a person fixes by configuration (a sink, a credential);
// anything else needs a person to look first.
func retryable(r state.Rotation) bool {
	return r.State == state.StateFailed && r.Retryable
}

// abortError stops a run on the spot, leaving the store as a kill would
// (tests use it to simulate crashes).
type abortError struct{ err error }

func (e *abortError) Error() string { return "run aborted: " + e.err.Error() }
func (e *abortError) Unwrap() error { return e.err }

func isAbort(err error) bool {
	var a *abortError
	return errors.As(err, &a)
}

// needsInputError: the run lacks a secret it needs (resuming without the
// scan report).
type needsInputError struct{ what string }

func (e *needsInputError) Error() string {
	return "need " + e.what + " to continue: run apply again with the scan report"
}

// failure ends an attempt: the rotation becomes failed.
type failure struct {
	msg      string
	severity string
	todo     []string
	// retry: a later apply may start a new attempt (the cause is
	// configuration a person can fix).
	retry bool
}

func (f *failure) Error() string { return f.msg }

// runner drives one rotation. Secrets live only here, in memory.
type runner struct {
	rv      *Revoker
	rot     state.Rotation
	acct    *AccountConfig
	leak    *Leak  // nil when resuming without the scan report
	fp      string // the scanner's fingerprint, for people
	mainKey bool   // the leaked API key may manage its account
	// keyChecked: mainKey comes from a verification of this run.
	keyChecked bool

	leaked   secret.Value // the leaked secret
	owner    secret.Value // the owner's credential (credential_env)
	ownerBad bool         // Twilio rejected the owner's credential
	primary  secret.Value // the account's current primary, when learned
	fresh    secret.Value // the new token or key secret, created in this run

	actions []Action
	todo    []string
	warns   []string
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "rot-" + hex.EncodeToString(b)
}

// secrets lists what must never leave in clear.
func (r *runner) secrets() []secret.Value {
	return []secret.Value{r.leaked, r.owner, r.primary, r.fresh}
}

// clean removes every secret this runner knows from s.
func (r *runner) clean(s string) string { return secret.Scrub(s, r.secrets()...) }

func (r *runner) warn(format string, a ...any) {
	msg := r.clean(fmt.Sprintf(format, a...))
	for _, w := range r.warns {
		if w == msg {
			return
		}
	}
	r.warns = append(r.warns, msg)
	r.rv.d.Log.Warn(msg, "rotation", r.rot.ID)
}

func (r *runner) addTodo(s string) {
	for _, t := range r.todo {
		if t == s {
			return
		}
	}
	r.todo = append(r.todo, s)
}

// point gives the test hook its chance to abort.
func (r *runner) point(name string) error {
	if r.rv.hook == nil {
		return nil
	}
	if err := r.rv.hook(name); err != nil {
		return &abortError{err}
	}
	return nil
}

func (r *runner) detailJSON(d map[string]any) json.RawMessage {
	if len(d) == 0 {
		return nil
	}
	for k, v := range d {
		if s, ok := v.(string); ok {
			d[k] = r.clean(s)
		}
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil
	}
	return json.RawMessage(r.clean(string(b)))
}

func (r *runner) record(ctx context.Context, name string, phase state.Phase, d map[string]any) error {
	_, err := r.rv.d.Store.AppendStep(ctx, state.Step{
		RotationID: r.rot.ID, Attempt: r.rot.Attempt, Name: name, Phase: phase,
		Detail: r.detailJSON(d), Actor: r.rv.d.Actor,
	})
	return err
}

// step records name as started, runs fn, and records it done or failed
// with fn's detail: every step is in the store before and after it runs.
func (r *runner) step(ctx context.Context, name string, detail map[string]any, fn func(ctx context.Context) (map[string]any, error)) (map[string]any, error) {
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	if err := r.record(ctx, name, state.PhaseStarted, detail); err != nil {
		return nil, err
	}
	if err := r.point(name + ":started"); err != nil {
		return nil, err
	}
	r.rv.d.Log.Info("step started", "rotation", r.rot.ID, "step", name)
	out, err := fn(ctx)
	if herr := r.point(name + ":effect"); herr != nil {
		return nil, herr
	}
	if isAbort(err) {
		return nil, err
	}
	if out == nil {
		out = map[string]any{}
	}
	phase, outcome := state.PhaseDone, "done"
	if err != nil {
		phase = state.PhaseFailed
		out["error"] = err.Error()
		outcome = "failed: " + r.clean(err.Error())
	}
	if rerr := r.record(ctx, name, phase, out); rerr != nil {
		return nil, rerr
	}
	r.actions = append(r.actions, Action{Step: name, At: time.Now().UTC(), Outcome: outcome})
	if herr := r.point(name + ":" + string(phase)); herr != nil {
		return nil, herr
	}
	return out, err
}

// advance moves the rotation to state to (after mutate), provided nobody
// else moved it meanwhile.
func (r *runner) advance(ctx context.Context, to state.State, mutate func(*state.Rotation)) error {
	next := r.rot
	next.State, next.Error, next.Retryable = to, "", false
	if mutate != nil {
		mutate(&next)
	}
	next.Error = r.clean(next.Error)
	if to.Terminal() && next.FinishedAt.IsZero() {
		next.FinishedAt = time.Now().UTC()
	}
	updated, err := r.rv.d.Store.UpdateRotation(ctx, next, r.rot.State)
	if err != nil {
		return err
	}
	r.rot = updated
	r.rv.d.Log.Info("rotation state", "rotation", r.rot.ID, "state", string(to))
	return r.point("state:" + string(to))
}

// steps returns this attempt's recorded steps.
func (r *runner) steps(ctx context.Context) ([]state.Step, error) {
	all, err := r.rv.d.Store.Steps(ctx, r.rot.ID)
	if err != nil {
		return nil, err
	}
	var out []state.Step
	for _, s := range all {
		if s.Attempt == r.rot.Attempt {
			out = append(out, s)
		}
	}
	return out, nil
}

// stepDone reports whether a step named name completed in this attempt.
func (r *runner) stepDone(ctx context.Context, name string) (bool, error) {
	st, err := r.steps(ctx)
	if err != nil {
		return false, err
	}
	for _, s := range st {
		if s.Name == name && s.Phase == state.PhaseDone {
			return true, nil
		}
	}
	return false, nil
}

// everStarted reports whether any attempt of this rotation started a step
// named name.
func (r *runner) everStarted(ctx context.Context, name string) (bool, error) {
	all, err := r.rv.d.Store.Steps(ctx, r.rot.ID)
	if err != nil {
		return false, err
	}
	for _, s := range all {
		if s.Name == name {
			return true, nil
		}
	}
	return false, nil
}

// run drives the rotation until it is done, failed, or an error stops it
// (the state then says where to resume).
func (r *runner) run(ctx context.Context) error {
	for range maxTransitions {
		if r.rot.State.Terminal() {
			return nil
		}
		var err error
		if r.rot.Kind == KindAPIKey {
			err = r.apiKeyPhase(ctx)
		} else {
			err = r.authTokenPhase(ctx)
		}
		var f *failure
		switch {
		case isAbort(err):
			return err
		case errors.As(err, &f):
			return r.fail(ctx, f)
		case err != nil:
			return err
		}
	}
	return errors.New("rotation did not converge; the state machine is stuck")
}

// fail ends the attempt: recorded, reported, people told.
func (r *runner) fail(ctx context.Context, f *failure) error {
	for _, t := range f.todo {
		r.addTodo(t)
	}
	sev := f.severity
	if sev == "" {
		sev = SeverityCritical
	}
	what := "Rotating this credential failed: " + f.msg + ". The leaked credential may still work."
	if err := r.notifyOnce(ctx, "notify-failed", r.message("Twilio credential rotation FAILED", what, sev)); err != nil {
		return err
	}
	return r.advance(ctx, state.StateFailed, func(n *state.Rotation) { n.Error, n.Retryable = f.msg, f.retry })
}

// transient wraps an error that leaves the rotation resumable.
func transient(what string, err error) error {
	if err == nil {
		return errors.New(what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// message builds a notification about this rotation. It holds no secret.
func (r *runner) message(subject, what, severity string) Message {
	ref := CredentialRef{Kind: r.rot.Kind, AccountSID: r.rot.AccountSID, KeySID: r.rot.KeySID, Fingerprint: r.fp}
	var locs []Location
	if r.leak != nil {
		ref.Redacted = secret.Redact(r.leaked.Reveal())
		locs = r.leak.Locations
	}
	if r.acct != nil && r.acct.Name != "" {
		subject += " — " + r.acct.Name
	}
	return Message{
		Subject: r.clean(subject), What: r.clean(what), Credential: ref, Locations: locs,
		Actions: append([]Action(nil), r.actions...), Todo: append([]string(nil), r.todo...), Severity: severity,
	}
}

// notifyOnce sends m to the account's notifiers, once per attempt. A
// notifier that fails is recorded and reported, but does not stop the
// rotation: cutting the credential off matters more.
func (r *runner) notifyOnce(ctx context.Context, name string, m Message) error {
	done, err := r.stepDone(ctx, name)
	if err != nil || done {
		return err
	}
	ns := r.rv.notifiersFor(r.acct)
	if len(ns) == 0 {
		return nil
	}
	var names []string
	for _, n := range ns {
		names = append(names, n.Name())
	}
	_, err = r.step(ctx, name, map[string]any{"notifiers": names, "severity": m.Severity}, func(ctx context.Context) (map[string]any, error) {
		res := map[string]any{}
		var failed []string
		for _, n := range ns {
			if err := n.Notify(ctx, m); err != nil {
				res[n.Name()] = r.clean(err.Error())
				failed = append(failed, n.Name())
				continue
			}
			res[n.Name()] = "sent"
		}
		if len(failed) > 0 {
			return res, fmt.Errorf("notify %s failed", strings.Join(failed, ", "))
		}
		return res, nil
	})
	if isAbort(err) {
		return err
	}
	if err != nil {
		r.warn("%v", err)
	}
	return nil
}

// deliver hands the new secret to every sink of the account, each step
// recorded with the secret's keyed hash (see holdings.go). It returns the
// sinks that acknowledged and the first failure.
func (r *runner) deliver(ctx context.Context, d Delivery) (acked []Sink, failed error) {
	sinks, missing := r.rv.sinksFor(r.acct, r.rot.Kind, r.rot.KeySID)
	if len(missing) > 0 {
		return nil, fmt.Errorf("sinks not available: %s", strings.Join(missing, ", "))
	}
	if len(sinks) == 0 {
		return nil, errors.New("no sink is configured for this credential")
	}
	h := r.hashOf(d.Secret)
	for _, s := range sinks {
		_, err := r.step(ctx, "deliver:"+s.Name(), map[string]any{"sink": s.Name(), "new_key_sid": d.KeySID, "holds": holdsNew, "secret_hash": h}, func(ctx context.Context) (map[string]any, error) {
			return map[string]any{"holds": holdsNew, "secret_hash": h}, s.Deliver(ctx, d)
		})
		if err != nil {
			if isAbort(err) {
				return acked, err
			}
			return acked, fmt.Errorf("sink %s: %w", s.Name(), err)
		}
		acked = append(acked, s)
	}
	return acked, nil
}

// deliveredAt is when the last sink of this attempt acknowledged.
func (r *runner) deliveredAt(ctx context.Context) (time.Time, error) {
	st, err := r.steps(ctx)
	if err != nil {
		return time.Time{}, err
	}
	at := r.rot.UpdatedAt
	for _, s := range st {
		if strings.HasPrefix(s.Name, "deliver:") && s.Phase == state.PhaseDone {
			at = s.At
		}
	}
	return at, nil
}

// confirmGone polls check until it reports the credential rejected, with
// back-off: Twilio may take a moment to stop accepting a retired secret.
func (r *runner) confirmGone(ctx context.Context, check func(ctx context.Context) (twilio.Status, error)) (twilio.Status, error) {
	var st twilio.Status
	var err error
	for i := 0; ; i++ {
		st, err = check(ctx)
		if err == nil && st == twilio.StatusDead {
			return st, nil
		}
		if i >= len(r.rv.confirmDelays) {
			return st, err
		}
		if serr := r.rv.d.Sleep(ctx, r.rv.confirmDelays[i]); serr != nil {
			return st, serr
		}
	}
}

func (r *runner) outcomeItem(it *Item) {
	it.RotationID, it.State, it.LeakedRole, it.NewKeySID = r.rot.ID, string(r.rot.State), r.rot.LeakedRole, r.rot.NewKeySID
	it.Actions = append(it.Actions, r.actions...)
	it.Todo = append(it.Todo, r.todo...)
	it.Warnings = append(it.Warnings, r.warns...)
	switch r.rot.State {
	case state.StateDone:
		it.FinishedAt = r.rot.FinishedAt
		switch {
		case r.rot.Error != "":
			it.Outcome, it.Reason = OutcomeAlreadyDead, r.rot.Error
		case r.rot.LeakedRole == RoleSecondary:
			it.Outcome = OutcomeCutOff
		default:
			it.Outcome = OutcomeRotated
		}
	case state.StateFailed:
		it.Outcome, it.Error = OutcomeFailed, r.rot.Error
	}
}

// Roles of a leaked Auth Token.
const (
	RolePrimary   = state.RolePrimary
	RoleSecondary = state.RoleSecondary
)
