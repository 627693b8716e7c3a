package state

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// migrations are applied in order, each once, each in its own transaction.
// Never edit a released migration: append a new one. "{{serial}}" becomes the
// dialect's auto-increment primary key. Times are microseconds since the
// epoch (BIGINT), the same in both dialects.
var migrations = [][]string{
	1: {
		`CREATE TABLE meta (
			key   TEXT PRIMARY KEY,
			value TEXT NOT NULL
		)`,
		`CREATE TABLE rotations (
			id              TEXT PRIMARY KEY,
			fingerprint     TEXT NOT NULL UNIQUE,
			kind            TEXT NOT NULL CHECK (kind IN ('auth-token', 'api-key')),
			account_sid     TEXT NOT NULL,
			key_sid         TEXT NOT NULL DEFAULT '',
			state           TEXT NOT NULL,
			leaked_role     TEXT NOT NULL DEFAULT '' CHECK (leaked_role IN ('', 'primary', 'secondary')),
			new_key_sid     TEXT NOT NULL DEFAULT '',
			new_secret_hash TEXT NOT NULL DEFAULT '',
			attempt         INTEGER NOT NULL DEFAULT 1,
			error           TEXT NOT NULL DEFAULT '',
			created_by      TEXT NOT NULL DEFAULT '',
			created_at      BIGINT NOT NULL,
			updated_at      BIGINT NOT NULL,
			finished_at     BIGINT NOT NULL DEFAULT 0
		)`,
		`CREATE INDEX rotations_account ON rotations (account_sid)`,
		`CREATE INDEX rotations_state ON rotations (state)`,
		`CREATE TABLE steps (
			id          {{serial}},
			rotation_id TEXT NOT NULL REFERENCES rotations (id),
			attempt     INTEGER NOT NULL,
			name        TEXT NOT NULL,
			phase       TEXT NOT NULL CHECK (phase IN ('started', 'done', 'failed')),
			detail      TEXT NOT NULL DEFAULT '',
			at          BIGINT NOT NULL,
			actor       TEXT NOT NULL
		)`,
		`CREATE INDEX steps_rotation ON steps (rotation_id, id)`,
		`CREATE TABLE verifications (
			id          {{serial}},
			fingerprint TEXT NOT NULL,
			kind        TEXT NOT NULL,
			account_sid TEXT NOT NULL DEFAULT '',
			key_sid     TEXT NOT NULL DEFAULT '',
			status      TEXT NOT NULL CHECK (status IN ('live', 'dead', 'unknown', 'test')),
			detail      TEXT NOT NULL DEFAULT '',
			at          BIGINT NOT NULL,
			actor       TEXT NOT NULL
		)`,
		`CREATE INDEX verifications_fingerprint ON verifications (fingerprint, id)`,
		`CREATE TABLE events (
			id          {{serial}},
			at          BIGINT NOT NULL,
			actor       TEXT NOT NULL,
			fingerprint TEXT NOT NULL DEFAULT '',
			rotation_id TEXT NOT NULL DEFAULT '',
			kind        TEXT NOT NULL,
			detail      TEXT NOT NULL DEFAULT ''
		)`,
		`CREATE INDEX events_fingerprint ON events (fingerprint, kind)`,
		`CREATE TABLE locks (
			name        TEXT PRIMARY KEY,
			owner       TEXT NOT NULL DEFAULT '',
			token       TEXT NOT NULL DEFAULT '',
			acquired_at BIGINT NOT NULL DEFAULT 0,
			expires_at  BIGINT NOT NULL DEFAULT 0
		)`,
	},
	// 2: a failed rotation says whether a later run may start a new attempt.
	2: {
		`ALTER TABLE rotations ADD COLUMN retryable INTEGER NOT NULL DEFAULT 0`,
	},
}

// SchemaVersion is the schema this code writes: the last migration.
const SchemaVersion = 2

// init migrates the core schema, then each extension schema, and loads (or
// creates) the hash key.
func (s *sqlStore) init(ctx context.Context, schemas []Schema) error {
	if err := s.migrate(ctx, core); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	for _, sc := range schemas {
		if err := s.migrate(ctx, sc); err != nil {
			return fmt.Errorf("migrate schema %s: %w", sc.Name, err)
		}
	}
	key, err := s.loadKey(ctx)
	if err != nil {
		return fmt.Errorf("load hash key: %w", err)
	}
	s.key = key
	return nil
}

// core is this package's own schema. Its versions are recorded in
// schema_migrations, those of extension schemas in schema_extensions.
var core = Schema{Name: coreSchema, Migrations: migrations}

const coreSchema = "core"

// migrate brings one schema up to its last migration in one transaction,
// holding the migration lock so that processes opening the database at
// once apply each migration once.
func (s *sqlStore) migrate(ctx context.Context, sc Schema) error {
	want := len(sc.Migrations) - 1
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.d.lockMigrations(ctx, tx); err != nil {
			return fmt.Errorf("lock migrations: %w", err)
		}
		for _, ddl := range []string{
			`CREATE TABLE IF NOT EXISTS schema_migrations (
				version    INTEGER PRIMARY KEY,
				applied_at BIGINT NOT NULL
			)`,
			`CREATE TABLE IF NOT EXISTS schema_extensions (
				name       TEXT NOT NULL,
				version    INTEGER NOT NULL,
				applied_at BIGINT NOT NULL,
				PRIMARY KEY (name, version)
			)`,
		} {
			if _, err := tx.ExecContext(ctx, ddl); err != nil {
				return fmt.Errorf("create migration table: %w", err)
			}
		}
		readVersion := s.q(`SELECT COALESCE(MAX(version), 0) FROM schema_extensions WHERE name = ?`)
		record := s.q(`INSERT INTO schema_extensions (name, version, applied_at) VALUES (?, ?, ?)`)
		args := []any{sc.Name}
		if sc.Name == coreSchema {
			readVersion = `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`
			record = s.q(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`)
			args = nil
		}
		var have int
		if err := tx.QueryRowContext(ctx, readVersion, args...).Scan(&have); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if have > want {
			return fmt.Errorf("database schema version %d is newer than this leakstop understands (%d): upgrade leakstop", have, want)
		}
		for v := have + 1; v <= want; v++ {
			for _, stmt := range sc.Migrations[v] {
				stmt = strings.ReplaceAll(stmt, "{{serial}}", s.d.serial())
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("apply migration %d: %w", v, err)
				}
			}
			if _, err := tx.ExecContext(ctx, record, append(args, v, time.Now().UnixMicro())...); err != nil {
				return fmt.Errorf("record migration %d: %w", v, err)
			}
		}
		return nil
	})
}

// loadKey returns the store's HMAC key, creating it on first use. Two
// processes opening a new database at once agree on one key: the insert is
// a no-op for the second.
func (s *sqlStore) loadKey(ctx context.Context) ([]byte, error) {
	var hexKey string
	err := s.tx(ctx, func(tx *sql.Tx) error {
		fresh := make([]byte, 32)
		if _, err := rand.Read(fresh); err != nil {
			return fmt.Errorf("generate key: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO meta (key, value) VALUES ('hmac_key', ?) ON CONFLICT (key) DO NOTHING`),
			hex.EncodeToString(fresh)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'hmac_key'`).Scan(&hexKey)
	})
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(hexKey)
	if err != nil || len(key) < 32 {
		return nil, errors.New("stored hash key is malformed")
	}
	return key, nil
}
