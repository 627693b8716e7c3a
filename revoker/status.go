package revoker

import (
	"context"
	"fmt"
	"github.com/leakstop/leakstop/credential"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/leakstop/leakstop/state"
)

// RotationStatus is one rotation as the store knows it.
type RotationStatus struct {
	ID          string          `json:"id"`
	Kind        credential.Kind `json:"kind"`
	AccountSID  string          `json:"account_sid"`
	AccountName string          `json:"account_name,omitempty"`
	KeySID      string          `json:"key_sid,omitempty"`
	State       string          `json:"state"`
	LeakedRole  string          `json:"leaked_role,omitempty"`
	NewKeySID   string          `json:"new_key_sid,omitempty"`
	Attempt     int             `json:"attempt"`
	Error       string          `json:"error,omitempty"`
	CreatedBy   string          `json:"created_by"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	FinishedAt  time.Time       `json:"finished_at,omitzero"`
	LastStep    string          `json:"last_step,omitempty"`
	LastPhase   string          `json:"last_phase,omitempty"`
	LastStepAt  time.Time       `json:"last_step_at,omitzero"`
	LockedBy    string          `json:"locked_by,omitempty"` // the run holding the account now
	// Fingerprint is the store's keyed hash of the credential.
	Fingerprint string `json:"fingerprint"`
}

// Status lists every rotation, oldest first, with its last step and who
// holds its account's lease.
func (rv *Revoker) Status(ctx context.Context) ([]RotationStatus, error) {
	rots, err := rv.d.Store.Rotations(ctx, state.RotationFilter{})
	if err != nil {
		return nil, fmt.Errorf("read status: %w", err)
	}
	locks, err := rv.d.Store.Locks(ctx)
	if err != nil {
		return nil, fmt.Errorf("read status: %w", err)
	}
	held := map[string]string{}
	for _, l := range locks {
		held[l.Name] = l.Owner + " until " + l.ExpiresAt.UTC().Format(time.RFC3339)
	}
	var out []RotationStatus
	for _, r := range rots {
		s := RotationStatus{
			ID: r.ID, Kind: r.Kind, AccountSID: r.AccountSID, KeySID: r.KeySID, State: string(r.State),
			LeakedRole: r.LeakedRole, NewKeySID: r.NewKeySID, Attempt: r.Attempt, Error: r.Error,
			CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, FinishedAt: r.FinishedAt,
			Fingerprint: r.Fingerprint, LockedBy: held["account:"+strings.ToLower(r.AccountSID)],
		}
		if a := rv.cfg.Account(r.AccountSID); a != nil {
			s.AccountName = a.Name
		}
		steps, err := rv.d.Store.Steps(ctx, r.ID)
		if err != nil {
			return nil, fmt.Errorf("read status: %w", err)
		}
		if n := len(steps); n > 0 {
			s.LastStep, s.LastPhase, s.LastStepAt = steps[n-1].Name, string(steps[n-1].Phase), steps[n-1].At
		}
		out = append(out, s)
	}
	return out, nil
}

// WriteStatusText prints rotations as a table.
func WriteStatusText(w io.Writer, st []RotationStatus) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROTATION\tKIND\tACCOUNT\tKEY\tSTATE\tATTEMPT\tLAST STEP\tUPDATED\tNOTE")
	for _, s := range st {
		note := s.Error
		if s.LockedBy != "" {
			note = strings.TrimSpace("in progress by " + s.LockedBy + " " + note)
		}
		acct := s.AccountSID
		if s.AccountName != "" {
			acct = s.AccountName
		}
		last := s.LastStep
		if last != "" {
			last += " " + s.LastPhase
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", s.ID, s.Kind, acct, dash(s.KeySID), s.State, s.Attempt,
			dash(last), s.UpdatedAt.UTC().Format(time.RFC3339), note)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	return nil
}

// Audit writes the store's audit trail as JSON: every verification,
// rotation, step and decision, in time order. It holds no secret.
func (rv *Revoker) Audit(ctx context.Context, w io.Writer) error {
	return state.WriteAudit(ctx, rv.d.Store, w)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
