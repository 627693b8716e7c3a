// Package storetest gives tests a fresh, isolated state store DSN for each
// backend: a temporary SQLite file, or a private schema in the PostgreSQL
// database named by LEAKSTOP_TEST_POSTGRES_DSN (start one with
// .ci/postgres.sh). Without that variable PostgreSQL tests skip — unless
// CI=true, where they fail, so that CI cannot pass by skipping them.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvPostgresDSN names the variable holding the test PostgreSQL DSN.
const EnvPostgresDSN = "LEAKSTOP_TEST_POSTGRES_DSN"

// Backend is one way to get a fresh store DSN.
type Backend struct {
	Name string
	// DSN returns a DSN for a new, empty store that is removed when t ends.
	DSN func(t testing.TB) string
}

// Backends lists SQLite and PostgreSQL.
func Backends() []Backend {
	return []Backend{{"sqlite", SQLite}, {"postgres", Postgres}}
}

// SQLite returns the path of a new SQLite file in t's temporary directory.
func SQLite(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "state.db")
}

// Postgres returns a DSN whose search_path is a new schema, dropped when t
// ends. It skips t when no test database is configured, and fails it if
// CI=true.
func Postgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgresDSN)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set but CI=true: PostgreSQL tests must run in CI (eval \"$(.ci/postgres.sh)\")", EnvPostgresDSN)
		}
		t.Skipf("%s not set; run eval \"$(.ci/postgres.sh)\" to test PostgreSQL", EnvPostgresDSN)
	}
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	schema := "leakstop_test_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to test PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("connect to test PostgreSQL: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s is not a URL: %v", EnvPostgresDSN, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Dump returns everything the store at dsn holds, for tests that look for
// what must not be there: the raw bytes of an SQLite file and its WAL, or
// every row of every table of a PostgreSQL schema as text.
func Dump(t testing.TB, dsn string) []byte {
	t.Helper()
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		var out []byte
		for _, suffix := range []string{"", "-wal", "-journal"} {
			b, err := os.ReadFile(dsn + suffix)
			if err != nil && !os.IsNotExist(err) {
				t.Fatalf("read %s: %v", dsn+suffix, err)
			}
			out = append(out, b...)
		}
		if len(out) == 0 {
			t.Fatalf("store file %s is empty or missing", dsn)
		}
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1`)
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("list tables: %v", err)
	}
	if len(tables) == 0 {
		t.Fatal("no tables in the test schema")
	}
	var out []byte
	for _, tb := range tables {
		rows, err := conn.Query(ctx, `SELECT t::text FROM `+pgx.Identifier{tb}.Sanitize()+` t`)
		if err != nil {
			t.Fatalf("dump %s: %v", tb, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("dump %s: %v", tb, err)
		}
		out = append(out, tb+"\n"+strings.Join(lines, "\n")+"\n"...)
	}
	return out
}
