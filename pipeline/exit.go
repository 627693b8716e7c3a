package pipeline

import (
	"errors"
	"fmt"

	"github.com/leakstop/leakstop/revoker"
	"github.com/leakstop/leakstop/scanner"
)

// ErrFindings is returned when a run went right and found credentials
// that are still a risk: exit status 1 for every front end.
var ErrFindings = errors.New("findings")

// ErrRevokeFailed is wrapped by the error of a run in which a rotation
// failed or was left unfinished: exit status 2.
var ErrRevokeFailed = errors.New("rotation failed")

// PlanExit classifies a plan: an error wrapping ErrRevokeFailed when an
// earlier rotation failed and needs a person, ErrFindings when a
// credential may still be live, nil otherwise. hint (nil: none) is told
// what --apply would do.
func PlanExit(p revoker.Plan, hint func(format string, a ...any)) error {
	var attention, rotatable, live int
	for _, it := range p.Items {
		switch it.Decision {
		case revoker.DecisionAttention:
			attention++
		case revoker.DecisionRotate, revoker.DecisionResume, revoker.DecisionRetry:
			rotatable++
		case revoker.DecisionNotOwned, revoker.DecisionBlocked, revoker.DecisionUnknown:
			live++
		}
	}
	if attention > 0 {
		return fmt.Errorf("%w: %d earlier rotation(s) failed and need a person (see leakstop revoke status)", ErrRevokeFailed, attention)
	}
	if rotatable > 0 && hint != nil {
		hint("nothing was changed; %d credential(s) would be rotated as planned by --apply (scan: --revoke apply)", rotatable)
	}
	if rotatable+live > 0 {
		return ErrFindings
	}
	return nil
}

// ResultExit classifies a result: an error wrapping ErrRevokeFailed when a
// rotation failed or is unfinished, ErrFindings when a credential may
// still be live and was not rotated, nil otherwise.
func ResultExit(r revoker.Result) error {
	var bad, live int
	for _, it := range r.Items {
		switch it.Outcome {
		case revoker.OutcomeFailed, revoker.OutcomeIncomplete, revoker.OutcomeNeedsInput, revoker.OutcomeBusy:
			bad++
		case revoker.OutcomeReported:
			live++
		case revoker.OutcomeSkipped:
			switch it.Decision {
			case revoker.DecisionAttention:
				bad++
			case revoker.DecisionNotOwned, revoker.DecisionBlocked, revoker.DecisionUnknown, revoker.DecisionRotate, revoker.DecisionResume, revoker.DecisionRetry:
				live++
			}
		}
	}
	if bad > 0 {
		return fmt.Errorf("%w: %d rotation(s) failed or are unfinished (see above, and leakstop revoke status)", ErrRevokeFailed, bad)
	}
	if live > 0 {
		return ErrFindings
	}
	return nil
}

// Failing returns the findings that fail a run. Twilio test credentials
// (named as such, or answered 20008 by --verify) are notes: reported, but
// failing only with countTest (--fail-on-test-credentials).
func (r *Result) Failing(countTest bool) []scanner.Finding {
	if countTest {
		return r.Findings
	}
	var out []scanner.Finding
	for _, f := range r.Findings {
		if !f.IsTestCredential() {
			out = append(out, f)
		}
	}
	return out
}
