package state

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSQLitePath(t *testing.T) {
	home, _ := os.UserHomeDir()
	abs, _ := filepath.Abs("rel.db")
	for in, want := range map[string]string{
		"/x/state.db":         "/x/state.db",
		"sqlite:/x/state.db":  "/x/state.db",
		"sqlite:///x/s.db":    "/x/s.db",
		"file:/x/s.db":        "/x/s.db",
		"rel.db":              abs,
		"~/s.db":              filepath.Join(home, "s.db"),
		"mysql://h/db":        "error",
		"/x/s.db?mode=ro":     "error",
		"postgres-ish://nope": "error",
	} {
		got, err := sqlitePath(in)
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("sqlitePath(%q) = %q, want %q", in, got, want)
		}
	}
	if got, _ := DefaultPath("/state"); got != "/state/leakstop/state.db" {
		t.Errorf("default path = %q", got)
	}
	if got, _ := DefaultPath(""); got != filepath.Join(home, ".local", "state", "leakstop", "state.db") {
		t.Errorf("default path without XDG_STATE_HOME = %q", got)
	}
	if got, _ := DefaultPath("relative"); got != filepath.Join(home, ".local", "state", "leakstop", "state.db") {
		t.Errorf("default path with a relative XDG_STATE_HOME = %q", got)
	}
	for _, dsn := range []string{"", "sqlite:", "sqlite://"} {
		if _, err := sqlitePath(dsn); err == nil {
			t.Errorf("sqlitePath(%q): no error; the caller must choose the default", dsn)
		}
	}
}

func TestRedactDSN(t *testing.T) {
	pw := "pw" + strings.Repeat("z", 5)
	for _, in := range []string{
		"postgres://u:" + pw + "@h:5432/db?sslmode=disable",
		"postgres://u@h/db?password=" + pw,
	} {
		if got := redactDSN(in); strings.Contains(got, pw) {
			t.Errorf("redactDSN(%q) = %q", in, got)
		}
	}
}

func TestSQLiteFilePrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "state.db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, p := range []string{path, filepath.Dir(path)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v; want no group/other access", p, fi.Mode().Perm())
		}
	}
	if s.Dialect() != "sqlite" || s.Location() != path {
		t.Errorf("Dialect/Location = %s %s", s.Dialect(), s.Location())
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.(*sqlStore).db.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(ctx, path, Options{}); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a newer schema: %v", err)
	}
}

func TestMigratesOlderSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	db := s.(*sqlStore).db
	// Make it a version-1 database.
	for _, q := range []string{`ALTER TABLE rotations DROP COLUMN retryable`, `DELETE FROM schema_migrations WHERE version = 2`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatalf("Open of a version-1 database: %v", err)
	}
	defer s.Close()
	r, err := s.CreateRotation(ctx, Rotation{ID: "r", Fingerprint: "f", Kind: KindAPIKey, AccountSID: "a", Retryable: true})
	if err != nil || !r.Retryable {
		t.Fatalf("after migration: %+v %v", r, err)
	}
}

func TestSchemaVersionIsLastMigration(t *testing.T) {
	if SchemaVersion != len(migrations)-1 {
		t.Fatalf("SchemaVersion = %d but the last migration is %d", SchemaVersion, len(migrations)-1)
	}
	for v := 1; v <= SchemaVersion; v++ {
		if len(migrations[v]) == 0 {
			t.Errorf("migration %d is empty", v)
		}
	}
}
