package state

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Leases are rows in the locks table, read and written inside one
// transaction: on PostgreSQL the row is read with SELECT … FOR UPDATE, on
// SQLite the transaction is BEGIN IMMEDIATE. A lease names its holder and
// an expiry judged by the database's clock (PostgreSQL) or the machine's
// (SQLite); a holder that dies keeps it only until it expires. Each
// acquisition gets a random token, so a holder that lost its lease cannot
// renew or release its successor's.

func (s *sqlStore) AcquireLock(ctx context.Context, name, owner string, ttl time.Duration) (Lease, error) {
	if name == "" || owner == "" || ttl <= 0 {
		return Lease{}, errors.New("acquire lock: name, owner and a positive ttl are required")
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return Lease{}, fmt.Errorf("acquire lock %s: %w", name, err)
	}
	l := Lease{Name: name, Owner: owner, Token: hex.EncodeToString(tok)}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// DO UPDATE, not DO NOTHING: the no-op update locks the row for
		// this transaction, so a release that deletes it cannot slip in
		// between this statement and the read below.
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO locks (name) VALUES (?) ON CONFLICT (name) DO UPDATE SET name = excluded.name`), name); err != nil {
			return err
		}
		var curOwner, curToken string
		var expires int64
		if err := tx.QueryRowContext(ctx, s.q(`SELECT owner, token, expires_at FROM locks WHERE name = ?`+s.d.forUpdate()), name).
			Scan(&curOwner, &curToken, &expires); err != nil {
			return err
		}
		now, err := s.d.now(ctx, tx)
		if err != nil {
			return err
		}
		if curToken != "" && expires > now {
			return &LockedError{Name: name, Owner: curOwner, ExpiresAt: fromMicros(expires)}
		}
		l.AcquiredAt, l.ExpiresAt = fromMicros(now), fromMicros(now+ttl.Microseconds())
		_, err = tx.ExecContext(ctx, s.q(`UPDATE locks SET owner = ?, token = ?, acquired_at = ?, expires_at = ? WHERE name = ?`),
			owner, l.Token, now, now+ttl.Microseconds(), name)
		return err
	})
	if err != nil {
		return Lease{}, fmt.Errorf("acquire lock %s: %w", name, err)
	}
	return l, nil
}

func (s *sqlStore) RenewLock(ctx context.Context, l Lease, ttl time.Duration) (Lease, error) {
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now, err := s.d.now(ctx, tx)
		if err != nil {
			return err
		}
		// A lease that expired but was not taken over is still ours: nobody
		// else can have acted under it.
		res, err := tx.ExecContext(ctx, s.q(`UPDATE locks SET expires_at = ? WHERE name = ? AND token = ?`),
			now+ttl.Microseconds(), l.Name, l.Token)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			return ErrLockLost
		}
		l.ExpiresAt = fromMicros(now + ttl.Microseconds())
		return nil
	})
	if err != nil {
		return Lease{}, fmt.Errorf("renew lock %s: %w", l.Name, err)
	}
	return l, nil
}

func (s *sqlStore) ReleaseLock(ctx context.Context, l Lease) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM locks WHERE name = ? AND token = ?`), l.Name, l.Token); err != nil {
		return fmt.Errorf("release lock %s: %w", l.Name, err)
	}
	return nil
}

func (s *sqlStore) Locks(ctx context.Context) ([]Lease, error) {
	var out []Lease
	err := s.tx(ctx, func(tx *sql.Tx) error {
		now, err := s.d.now(ctx, tx)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT name, owner, acquired_at, expires_at FROM locks
			WHERE token <> '' AND expires_at > ? ORDER BY name`), now)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var l Lease
			var acq, exp int64
			if err := rows.Scan(&l.Name, &l.Owner, &acq, &exp); err != nil {
				return err
			}
			l.AcquiredAt, l.ExpiresAt = fromMicros(acq), fromMicros(exp)
			out = append(out, l)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list locks: %w", err)
	}
	return out, nil
}
