package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/leakstop/leakstop/secret"
)

// sqlStore implements Store over database/sql for both dialects.
type sqlStore struct {
	db       *sql.DB
	d        dialect
	location string
	key      []byte
}

func (s *sqlStore) Dialect() string      { return s.d.name() }
func (s *sqlStore) Location() string     { return s.location }
func (s *sqlStore) Hash(v string) string { return secret.Hash(s.key, v) }
func (s *sqlStore) Close() error         { return s.db.Close() }

// tx runs fn in a transaction, committing if it returns nil.
func (s *sqlStore) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

func (s *sqlStore) q(query string) string { return s.d.rebind(query) }

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now().UTC()
	}
	return t.UTC()
}

// detail normalises a JSON detail: empty stays empty, anything else must be
// valid JSON.
func detail(d json.RawMessage) (string, error) {
	if len(d) == 0 {
		return "", nil
	}
	if !json.Valid(d) {
		return "", errors.New("detail is not valid JSON")
	}
	return string(d), nil
}

const rotationCols = `id, fingerprint, kind, account_sid, key_sid, state, leaked_role, new_key_sid,
	new_secret_hash, attempt, error, retryable, created_by, created_at, updated_at, finished_at`

type scanner interface{ Scan(dest ...any) error }

func scanRotation(sc scanner) (Rotation, error) {
	var r Rotation
	var state string
	var created, updated, finished, retryable int64
	err := sc.Scan(&r.ID, &r.Fingerprint, &r.Kind, &r.AccountSID, &r.KeySID, &state, &r.LeakedRole, &r.NewKeySID,
		&r.NewSecretHash, &r.Attempt, &r.Error, &retryable, &r.CreatedBy, &created, &updated, &finished)
	r.Retryable = retryable != 0
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	r.State = State(state)
	r.CreatedAt, r.UpdatedAt, r.FinishedAt = fromMicros(created), fromMicros(updated), fromMicros(finished)
	return r, err
}

func (s *sqlStore) CreateRotation(ctx context.Context, r Rotation) (Rotation, error) {
	if r.ID == "" || r.Fingerprint == "" || r.AccountSID == "" || (r.Kind != KindAuthToken && r.Kind != KindAPIKey) {
		return Rotation{}, errors.New("create rotation: id, fingerprint, account SID and a valid kind are required")
	}
	if r.State == "" {
		r.State = StateStarted
	}
	if r.Attempt == 0 {
		r.Attempt = 1
	}
	now := time.Now().UTC()
	r.CreatedAt, r.UpdatedAt = orNow(r.CreatedAt), now
	var out Rotation
	err := s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO rotations (`+rotationCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (fingerprint) DO NOTHING`),
			r.ID, r.Fingerprint, r.Kind, r.AccountSID, r.KeySID, string(r.State), r.LeakedRole, r.NewKeySID,
			r.NewSecretHash, r.Attempt, r.Error, boolInt(r.Retryable), r.CreatedBy, micros(r.CreatedAt), micros(r.UpdatedAt), micros(r.FinishedAt))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		out, err = scanRotation(tx.QueryRowContext(ctx, s.q(`SELECT `+rotationCols+` FROM rotations WHERE fingerprint = ?`), r.Fingerprint))
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrRotationExists
		}
		return nil
	})
	if errors.Is(err, ErrRotationExists) {
		return out, fmt.Errorf("create rotation: %w (%s, %s)", ErrRotationExists, out.ID, out.State)
	}
	if err != nil {
		return Rotation{}, fmt.Errorf("create rotation: %w", err)
	}
	return out, nil
}

func (s *sqlStore) Rotation(ctx context.Context, id string) (Rotation, error) {
	r, err := scanRotation(s.db.QueryRowContext(ctx, s.q(`SELECT `+rotationCols+` FROM rotations WHERE id = ?`), id))
	if err != nil {
		return r, fmt.Errorf("load rotation %s: %w", id, err)
	}
	return r, nil
}

func (s *sqlStore) RotationByFingerprint(ctx context.Context, fp string) (Rotation, error) {
	r, err := scanRotation(s.db.QueryRowContext(ctx, s.q(`SELECT `+rotationCols+` FROM rotations WHERE fingerprint = ?`), fp))
	if err != nil {
		return r, fmt.Errorf("load rotation by fingerprint: %w", err)
	}
	return r, nil
}

func (s *sqlStore) Rotations(ctx context.Context, f RotationFilter) ([]Rotation, error) {
	var where []string
	var args []any
	if f.AccountSID != "" {
		where = append(where, "account_sid = ?")
		args = append(args, f.AccountSID)
	}
	if f.InFlight {
		where = append(where, "state NOT IN (?, ?)")
		args = append(args, string(StateDone), string(StateFailed))
	}
	if len(f.States) > 0 {
		where = append(where, "state IN (?"+strings.Repeat(", ?", len(f.States)-1)+")")
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	query := `SELECT ` + rotationCols + ` FROM rotations`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY created_at, id"
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("list rotations: %w", err)
	}
	defer rows.Close()
	var out []Rotation
	for rows.Next() {
		r, err := scanRotation(rows)
		if err != nil {
			return nil, fmt.Errorf("list rotations: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list rotations: %w", err)
	}
	return out, nil
}

func (s *sqlStore) UpdateRotation(ctx context.Context, r Rotation, from State, steps ...Step) (Rotation, error) {
	var out Rotation
	err := s.tx(ctx, func(tx *sql.Tx) error {
		r.UpdatedAt = time.Now().UTC()
		res, err := tx.ExecContext(ctx, s.q(`UPDATE rotations SET state = ?, leaked_role = ?, new_key_sid = ?,
			new_secret_hash = ?, attempt = ?, error = ?, retryable = ?, updated_at = ?, finished_at = ?
			WHERE id = ? AND state = ?`),
			string(r.State), r.LeakedRole, r.NewKeySID, r.NewSecretHash, r.Attempt, r.Error, boolInt(r.Retryable),
			micros(r.UpdatedAt), micros(r.FinishedAt), r.ID, string(from))
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			cur, err := scanRotation(tx.QueryRowContext(ctx, s.q(`SELECT `+rotationCols+` FROM rotations WHERE id = ?`), r.ID))
			if err != nil {
				return err
			}
			return fmt.Errorf("%w: expected state %s, found %s", ErrConflict, from, cur.State)
		}
		for _, st := range steps {
			if st.RotationID == "" {
				st.RotationID = r.ID
			}
			if _, err := s.appendStep(ctx, tx, st); err != nil {
				return err
			}
		}
		out, err = scanRotation(tx.QueryRowContext(ctx, s.q(`SELECT `+rotationCols+` FROM rotations WHERE id = ?`), r.ID))
		return err
	})
	if err != nil {
		return Rotation{}, fmt.Errorf("update rotation %s: %w", r.ID, err)
	}
	return out, nil
}

func (s *sqlStore) AppendStep(ctx context.Context, st Step) (Step, error) {
	var out Step
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.appendStep(ctx, tx, st)
		return err
	})
	if err != nil {
		return Step{}, fmt.Errorf("record step %s %s: %w", st.Name, st.Phase, err)
	}
	return out, nil
}

func (s *sqlStore) appendStep(ctx context.Context, tx *sql.Tx, st Step) (Step, error) {
	switch st.Phase {
	case PhaseStarted, PhaseDone, PhaseFailed:
	default:
		return Step{}, fmt.Errorf("invalid phase %q", st.Phase)
	}
	d, err := detail(st.Detail)
	if err != nil {
		return Step{}, err
	}
	st.At = orNow(st.At)
	err = tx.QueryRowContext(ctx, s.q(`INSERT INTO steps (rotation_id, attempt, name, phase, detail, at, actor)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		st.RotationID, st.Attempt, st.Name, string(st.Phase), d, micros(st.At), st.Actor).Scan(&st.ID)
	return st, err
}

func (s *sqlStore) Steps(ctx context.Context, rotationID string) ([]Step, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, rotation_id, attempt, name, phase, detail, at, actor
		FROM steps WHERE rotation_id = ? ORDER BY id`), rotationID)
	if err != nil {
		return nil, fmt.Errorf("list steps: %w", err)
	}
	defer rows.Close()
	var out []Step
	for rows.Next() {
		var st Step
		var phase, d string
		var at int64
		if err := rows.Scan(&st.ID, &st.RotationID, &st.Attempt, &st.Name, &phase, &d, &at, &st.Actor); err != nil {
			return nil, fmt.Errorf("list steps: %w", err)
		}
		st.Phase, st.At = Phase(phase), fromMicros(at)
		if d != "" {
			st.Detail = json.RawMessage(d)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list steps: %w", err)
	}
	return out, nil
}

func (s *sqlStore) RecordVerification(ctx context.Context, v Verification) (Verification, error) {
	switch v.Status {
	case StatusLive, StatusDead, StatusUnknown, StatusTest:
	default:
		return Verification{}, fmt.Errorf("record verification: invalid status %q", v.Status)
	}
	v.At = orNow(v.At)
	err := s.db.QueryRowContext(ctx, s.q(`INSERT INTO verifications (fingerprint, kind, account_sid, key_sid, status, detail, at, actor)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		v.Fingerprint, v.Kind, v.AccountSID, v.KeySID, v.Status, v.Detail, micros(v.At), v.Actor).Scan(&v.ID)
	if err != nil {
		return Verification{}, fmt.Errorf("record verification: %w", err)
	}
	return v, nil
}

func (s *sqlStore) Verifications(ctx context.Context, fp string) ([]Verification, error) {
	query := `SELECT id, fingerprint, kind, account_sid, key_sid, status, detail, at, actor FROM verifications`
	var args []any
	if fp != "" {
		query += ` WHERE fingerprint = ?`
		args = append(args, fp)
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+` ORDER BY id`), args...)
	if err != nil {
		return nil, fmt.Errorf("list verifications: %w", err)
	}
	defer rows.Close()
	var out []Verification
	for rows.Next() {
		var v Verification
		var at int64
		if err := rows.Scan(&v.ID, &v.Fingerprint, &v.Kind, &v.AccountSID, &v.KeySID, &v.Status, &v.Detail, &at, &v.Actor); err != nil {
			return nil, fmt.Errorf("list verifications: %w", err)
		}
		v.At = fromMicros(at)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list verifications: %w", err)
	}
	return out, nil
}

func (s *sqlStore) AppendEvent(ctx context.Context, e Event) (Event, error) {
	if e.Kind == "" {
		return Event{}, errors.New("record event: kind is required")
	}
	d, err := detail(e.Detail)
	if err != nil {
		return Event{}, fmt.Errorf("record event: %w", err)
	}
	e.At = orNow(e.At)
	err = s.db.QueryRowContext(ctx, s.q(`INSERT INTO events (at, actor, fingerprint, rotation_id, kind, detail)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
		micros(e.At), e.Actor, e.Fingerprint, e.RotationID, e.Kind, d).Scan(&e.ID)
	if err != nil {
		return Event{}, fmt.Errorf("record event: %w", err)
	}
	return e, nil
}

func (s *sqlStore) Events(ctx context.Context, f EventFilter) ([]Event, error) {
	query := `SELECT id, at, actor, fingerprint, rotation_id, kind, detail FROM events`
	var where []string
	var args []any
	if f.Fingerprint != "" {
		where = append(where, "fingerprint = ?")
		args = append(args, f.Fingerprint)
	}
	if f.Kind != "" {
		where = append(where, "kind = ?")
		args = append(args, f.Kind)
	}
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.db.QueryContext(ctx, s.q(query+" ORDER BY id"), args...)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var at int64
		var d string
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Fingerprint, &e.RotationID, &e.Kind, &d); err != nil {
			return nil, fmt.Errorf("list events: %w", err)
		}
		e.At = fromMicros(at)
		if d != "" {
			e.Detail = json.RawMessage(d)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return out, nil
}
