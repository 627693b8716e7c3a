package state

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
)

func (s *sqlStore) Audit(ctx context.Context) ([]AuditEntry, error) {
	var out []AuditEntry
	rots, err := s.Rotations(ctx, RotationFilter{})
	if err != nil {
		return nil, fmt.Errorf("read audit trail: %w", err)
	}
	for _, r := range rots {
		d, _ := json.Marshal(map[string]any{
			"state": r.State, "leaked_role": r.LeakedRole, "new_key_sid": r.NewKeySID,
			"attempt": r.Attempt, "error": r.Error, "finished_at": r.FinishedAt,
		})
		out = append(out, AuditEntry{
			At: r.CreatedAt, Type: "rotation", Actor: r.CreatedBy, RotationID: r.ID, Fingerprint: r.Fingerprint,
			Kind: r.Kind, AccountSID: r.AccountSID, KeySID: r.KeySID, Status: string(r.State), Detail: d, order: 0,
		})
		steps, err := s.Steps(ctx, r.ID)
		if err != nil {
			return nil, fmt.Errorf("read audit trail: %w", err)
		}
		for _, st := range steps {
			out = append(out, AuditEntry{
				At: st.At, Type: "step", Actor: st.Actor, RotationID: st.RotationID, Fingerprint: r.Fingerprint,
				Kind: r.Kind, AccountSID: r.AccountSID, KeySID: r.KeySID, Attempt: st.Attempt, Step: st.Name,
				Phase: string(st.Phase), Detail: st.Detail, seq: st.ID, order: 1,
			})
		}
	}
	vs, err := s.Verifications(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("read audit trail: %w", err)
	}
	for _, v := range vs {
		var d json.RawMessage
		if v.Detail != "" {
			d, _ = json.Marshal(map[string]string{"error": v.Detail})
		}
		out = append(out, AuditEntry{
			At: v.At, Type: "verification", Actor: v.Actor, Fingerprint: v.Fingerprint, Kind: v.Kind,
			AccountSID: v.AccountSID, KeySID: v.KeySID, Status: v.Status, Detail: d, seq: v.ID, order: 2,
		})
	}
	evs, err := s.Events(ctx, EventFilter{})
	if err != nil {
		return nil, fmt.Errorf("read audit trail: %w", err)
	}
	for _, e := range evs {
		out = append(out, AuditEntry{
			At: e.At, Type: "event", Actor: e.Actor, RotationID: e.RotationID, Fingerprint: e.Fingerprint,
			Event: e.Kind, Detail: e.Detail, seq: e.ID, order: 3,
		})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.At.Equal(b.At) {
			return a.At.Before(b.At)
		}
		if a.order != b.order {
			return a.order < b.order
		}
		return a.seq < b.seq
	})
	return out, nil
}

// WriteAudit writes s's audit trail to w as a JSON array, one entry per
// line. It holds no secrets: the store has none.
func WriteAudit(ctx context.Context, s Store, w io.Writer) error {
	entries, err := s.Audit(ctx)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, "["); err != nil {
		return fmt.Errorf("write audit trail: %w", err)
	}
	for i, e := range entries {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode audit entry: %w", err)
		}
		sep := ",\n"
		if i == 0 {
			sep = "\n"
		}
		if _, err := io.WriteString(w, sep+string(b)); err != nil {
			return fmt.Errorf("write audit trail: %w", err)
		}
	}
	if _, err := io.WriteString(w, "\n]\n"); err != nil {
		return fmt.Errorf("write audit trail: %w", err)
	}
	return nil
}
