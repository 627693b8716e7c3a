package revoker

import (
	"context"
	"errors"
	"fmt"
	"github.com/leakstop/leakstop/credential"
	"strings"
	"time"

	"github.com/leakstop/leakstop/secret"
	"github.com/leakstop/leakstop/state"
)

// Decisions: what the policy says to do about a credential.
const (
	DecisionRotate         = "rotate"          // live, owned: rotate it
	DecisionResume         = "resume"          // a rotation is unfinished: finish it
	DecisionRetry          = "retry"           // the last attempt failed for a fixable cause: try again
	DecisionAlreadyRotated = "already-rotated" // rotated before: never again
	DecisionAttention      = "needs-attention" // a rotation failed in a way a person must look at
	DecisionNotOwned       = "report"          // live, account not in the config: report, never touch
	DecisionBlocked        = "blocked"         // live, owned, but the config lacks what rotation needs
	DecisionDead           = "none-dead"       // no longer authenticates: nothing to do
	DecisionTest           = "none-test"       // test credentials: never rotated
	DecisionUnknown        = "none-unknown"    // verification inconclusive: no action
)

// Item is one distinct credential in a plan or a result. It holds no secret
// (Secret is the redacted form).
type Item struct {
	Fingerprint  string          `json:"fingerprint,omitempty"`
	Kind         credential.Kind `json:"kind"`
	AccountSID   string          `json:"account_sid,omitempty"`
	AccountName  string          `json:"account_name,omitempty"`
	KeySID       string          `json:"key_sid,omitempty"`
	Secret       string          `json:"secret,omitempty"` // redacted
	Verification string          `json:"verification,omitempty"`
	// Unreachable is set with an unknown Verification when Twilio was
	// not reached (a network error or a timeout), as opposed to an answer
	// that was inconclusive.
	Unreachable bool       `json:"unreachable,omitempty"`
	Detail      string     `json:"detail,omitempty"`
	Owned       bool       `json:"owned"`
	Decision    string     `json:"decision"`
	Reason      string     `json:"reason,omitempty"`
	Steps       []string   `json:"planned_steps,omitempty"`
	Locations   []Location `json:"locations,omitempty"`

	// Filled by Apply and Resume.
	Outcome    string    `json:"outcome,omitempty"`
	RotationID string    `json:"rotation_id,omitempty"`
	State      string    `json:"state,omitempty"`
	LeakedRole string    `json:"leaked_role,omitempty"`
	NewKeySID  string    `json:"new_key_sid,omitempty"`
	Actions    []Action  `json:"actions,omitempty"`
	Todo       []string  `json:"todo,omitempty"`
	Warnings   []string  `json:"warnings,omitempty"`
	Error      string    `json:"error,omitempty"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// Plan is what Apply would do.
type Plan struct {
	Mode  Mode   `json:"mode"`
	Items []Item `json:"items"`
}

// Plan verifies every distinct credential (read-only, recorded in the store)
// and says what Apply would do. It changes nothing at Twilio.
func (rv *Revoker) Plan(ctx context.Context, leaks []Leak) (Plan, error) {
	as, err := rv.assess(ctx, leaks)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Mode: rv.cfg.Mode}
	for _, a := range as {
		it, err := rv.decide(ctx, a)
		if err != nil {
			return Plan{}, err
		}
		p.Items = append(p.Items, it)
	}
	return p, nil
}

// decide applies the policy to one verified credential. A rotation already
// recorded for it comes first: done means never again; unfinished means
// finish it whatever the credential's status now (a leaked token is
// expected to be dead once promotion has happened).
func (rv *Revoker) decide(ctx context.Context, a *assessment) (Item, error) {
	it := a.item()
	prev, err := rv.d.Store.RotationByFingerprint(ctx, a.fp)
	switch {
	case errors.Is(err, state.ErrNotFound):
	case err != nil:
		return it, err
	default:
		it.RotationID, it.State, it.LeakedRole, it.NewKeySID = prev.ID, string(prev.State), prev.LeakedRole, prev.NewKeySID
		switch {
		case prev.State == state.StateDone:
			it.Decision = DecisionAlreadyRotated
			it.Reason = "already rotated at " + prev.FinishedAt.UTC().Format(time.RFC3339) + " (" + prev.ID + ")"
			it.FinishedAt = prev.FinishedAt
			return it, nil
		case prev.State == state.StateFailed && !retryable(prev):
			it.Decision = DecisionAttention
			it.Reason = "rotation " + prev.ID + " failed and needs a person: " + prev.Error
			return it, nil
		case prev.State != state.StateFailed && a.account != nil:
			it.Decision, it.Reason = DecisionResume, "rotation "+prev.ID+" is unfinished (state "+string(prev.State)+")"
			it.Steps = rv.plannedSteps(a)
			return it, nil
		}
	}
	switch a.status {
	case StatusTest:
		it.Decision, it.Reason = DecisionTest, "test credentials are never rotated"
		return it, nil
	case StatusDead:
		it.Decision, it.Reason = DecisionDead, "no longer authenticates: nothing to rotate"
		return it, nil
	case StatusUnknown:
		it.Decision, it.Reason = DecisionUnknown, "verification was inconclusive: no action; run again later"
		return it, nil
	}
	if a.account == nil {
		it.Decision = DecisionNotOwned
		it.Reason = "the account is not in the configuration: reported, never touched"
		return it, nil
	}
	if why := rv.blocked(a); why != "" {
		it.Decision, it.Reason = DecisionBlocked, why
		return it, nil
	}
	if it.RotationID != "" {
		it.Decision, it.Reason = DecisionRetry, "the last attempt failed: "+prev.Error
	} else {
		it.Decision = DecisionRotate
	}
	it.Steps = rv.plannedSteps(a)
	return it, nil
}

// blocked says why an owned live credential cannot be rotated, or "".
func (rv *Revoker) blocked(a *assessment) string {
	sinks, missing := rv.sinksFor(a.account, a.leak.Kind, a.leak.KeySID)
	if len(missing) > 0 {
		return "sinks not available: " + strings.Join(missing, ", ")
	}
	if len(sinks) == 0 {
		return fmt.Sprintf("account %s has no %s sink: the new secret would reach no one", a.account.Label(), a.leak.Kind)
	}
	if a.leak.Kind == KindAPIKey && !a.mainKey && rv.ownerSecret(a.account).IsZero() {
		return "replacing a Standard or Restricted API key needs the account's credential: set credential_env for " + a.account.Label()
	}
	if a.leak.Kind == KindAPIKey && a.mainKey && !a.account.ReplaceMainKeysWithStandard {
		todo := mainKeyTodo(a.accountSID, a.leak.KeySID)
		return mainKeyBlocked + ". To do: " + strings.Join(todo, " ")
	}
	return ""
}

func (a *assessment) item() Item {
	it := Item{
		Fingerprint: a.leak.Fingerprint, Kind: a.leak.Kind, AccountSID: a.accountSID, KeySID: a.leak.KeySID,
		Secret: secret.Redact(a.leak.Secret.Reveal()), Verification: a.status, Detail: secret.Scrub(a.detail, a.leak.Secret),
		Unreachable: a.status == StatusUnknown && a.unreachable,
		Locations:   a.leak.Locations, Owned: a.account != nil,
	}
	if a.account != nil {
		it.AccountName = a.account.Name
	}
	return it
}

// plannedSteps describes a rotation for people.
func (rv *Revoker) plannedSteps(a *assessment) []string {
	sinks, _ := rv.sinksFor(a.account, a.leak.Kind, a.leak.KeySID)
	var names []string
	for _, s := range sinks {
		names = append(names, s.Name())
	}
	var nn []string
	for _, n := range rv.notifiersFor(a.account) {
		nn = append(nn, n.Name())
	}
	notify := "notify: " + strings.Join(nn, ", ")
	if len(nn) == 0 {
		notify = "notify: (no notifiers configured)"
	}
	wait := "wait the grace period (" + time.Duration(rv.cfg.GracePeriod).String() + ")"
	if rv.cfg.Readiness != nil {
		wait += " and until the readiness command passes"
	}
	deliver := "deliver the new secret to: " + strings.Join(names, ", ")
	if a.leak.Kind == KindAPIKey {
		create := "create a replacement API key of the leaked key's type: a Standard key (v2010), or a Restricted key with the same policy (IAM v1)"
		if a.mainKey {
			create = "create a Standard replacement for the leaked Main key (no API creates a Main key; the configuration says its users need no Main rights: replace_main_keys_with_standard)"
		}
		return []string{
			create,
			deliver,
			notify,
			wait,
			"delete the leaked key " + a.leak.KeySID,
			"confirm the leaked key is gone and the replacement exists",
		}
	}
	classify := "find out whether the leaked token is the primary or the secondary"
	if rv.ownerSecret(a.account).IsZero() {
		classify += " (from the account resource, else by deleting any secondary and re-checking)"
	} else {
		classify += " (compare with credential_env " + a.account.CredentialEnv + ")"
	}
	return []string{
		classify,
		"if secondary: delete it and confirm the leaked token is rejected; done",
		"if primary: delete any existing secondary token (it may be the finder's)",
		"create a new secondary token",
		deliver,
		notify,
		wait,
		"promote the secondary to primary",
		"confirm the leaked token is rejected and the new one works",
	}
}
