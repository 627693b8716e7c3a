package state

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"time"
)

// dialect holds what differs between SQLite and PostgreSQL. Everything
// else — schema, queries, lease logic — is shared.
type dialect interface {
	name() string
	// rebind turns the shared '?' placeholders into the dialect's.
	rebind(q string) string
	// types maps the schema's type tokens.
	serial() string
	// forUpdate is appended to a SELECT that must lock the rows it reads.
	forUpdate() string
	// now is the clock leases are judged by, in microseconds since the epoch.
	now(ctx context.Context, tx *sql.Tx) (int64, error)
	// lockMigrations serialises schema migrations across processes; it runs
	// first in the migration transaction.
	lockMigrations(ctx context.Context, tx *sql.Tx) error
}

type sqliteDialect struct{}

func (sqliteDialect) name() string           { return "sqlite" }
func (sqliteDialect) rebind(q string) string { return q }
func (sqliteDialect) serial() string         { return "INTEGER PRIMARY KEY AUTOINCREMENT" }

// forUpdate is empty: every SQLite transaction here is BEGIN IMMEDIATE and
// so already holds the database's write lock.
func (sqliteDialect) forUpdate() string { return "" }

// now is the local clock: an SQLite file is shared only by processes on one
// machine.
func (sqliteDialect) now(context.Context, *sql.Tx) (int64, error) {
	return time.Now().UnixMicro(), nil
}

// lockMigrations needs nothing: BEGIN IMMEDIATE already excludes other writers.
func (sqliteDialect) lockMigrations(context.Context, *sql.Tx) error { return nil }

type postgresDialect struct{}

func (postgresDialect) name() string { return "postgres" }

func (postgresDialect) rebind(q string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func (postgresDialect) serial() string    { return "BIGSERIAL PRIMARY KEY" }
func (postgresDialect) forUpdate() string { return " FOR UPDATE" }

// now is the database server's clock, so that machines with skewed clocks
// agree on when a lease expires.
func (postgresDialect) now(ctx context.Context, tx *sql.Tx) (int64, error) {
	var us int64
	err := tx.QueryRowContext(ctx, "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)").Scan(&us)
	return us, err
}

// migrationLockKey is an arbitrary constant identifying leakstop's schema
// migrations among advisory locks.
const migrationLockKey = 0x6c65616b73746f70 & 0x7fffffffffffffff // "leakstop"

func (postgresDialect) lockMigrations(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock("+strconv.FormatInt(migrationLockKey, 10)+")")
	return err
}
