package state

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Schema is a set of tables that a component outside this package keeps in
// the state database, given to Open in Options.Schemas.
//
// Name identifies the schema (lower-case letters, digits and '_'; not
// "core") and should prefix its tables ("orgscan_cursors"), so that
// components cannot collide. Migrations work as the core schema's do:
// index 0 is unused, Migrations[v] holds the statements of version v,
// applied once, in order, in one transaction with the other statements of
// that version; a released migration is never edited, a new one is
// appended. "{{serial}}" stands for the dialect's auto-increment primary
// key; times are best kept as microseconds since the epoch (BIGINT), as
// the core tables do. Statements must be valid in both SQLite and
// PostgreSQL.
type Schema struct {
	Name       string
	Migrations [][]string
}

var schemaName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func checkSchemas(schemas []Schema) error {
	seen := map[string]bool{}
	for _, sc := range schemas {
		switch {
		case !schemaName.MatchString(sc.Name) || sc.Name == coreSchema:
			return fmt.Errorf("schema name %q: want lower-case letters, digits and '_', not %q", sc.Name, coreSchema)
		case seen[sc.Name]:
			return fmt.Errorf("schema %s given twice", sc.Name)
		case len(sc.Migrations) < 2:
			return fmt.Errorf("schema %s has no migration (Migrations[0] is unused)", sc.Name)
		}
		seen[sc.Name] = true
		for v := 1; v < len(sc.Migrations); v++ {
			if len(sc.Migrations[v]) == 0 {
				return fmt.Errorf("schema %s: migration %d is empty", sc.Name, v)
			}
		}
	}
	return nil
}

// Tx is a transaction on the state database, for the tables of a Schema.
// Queries use '?' placeholders in both dialects.
type Tx struct {
	tx *sql.Tx
	d  dialect
}

// Exec runs a statement.
func (t Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.d.rebind(query), args...)
}

// Query runs a query returning rows.
func (t Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.d.rebind(query), args...)
}

// QueryRow runs a query returning at most one row.
func (t Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.d.rebind(query), args...)
}

// ForUpdate is the clause to append to a SELECT whose rows the transaction
// will change: " FOR UPDATE" on PostgreSQL, nothing on SQLite, where every
// transaction already holds the write lock.
func (t Tx) ForUpdate() string { return t.d.forUpdate() }

// Now is the clock leases are judged by: the database server's on
// PostgreSQL, so that machines with skewed clocks agree.
func (t Tx) Now(ctx context.Context) (time.Time, error) {
	us, err := t.d.now(ctx, t.tx)
	if err != nil {
		return time.Time{}, fmt.Errorf("read database clock: %w", err)
	}
	return time.UnixMicro(us).UTC(), nil
}

// Tx runs fn in one transaction, committing if it returns nil and rolling
// back otherwise. On SQLite the transaction holds the write lock from the
// start.
func (s *sqlStore) Tx(ctx context.Context, fn func(Tx) error) error {
	if fn == nil {
		return errors.New("run transaction: no function")
	}
	return s.tx(ctx, func(tx *sql.Tx) error { return fn(Tx{tx: tx, d: s.d}) })
}
