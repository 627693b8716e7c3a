package state

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sourcegraph/conc/pool"

	"github.com/leakstop/leakstop/state/storetest"
)

func withParams(t *testing.T, dsn string, kv ...string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for i := 0; i < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func TestPostgresPoolSettings(t *testing.T) {
	base := "postgres://u@h/db?sslmode=disable"
	for _, tc := range []struct {
		name string
		opts Options
		dsn  string
		want Options
	}{
		{"defaults", Options{}, base,
			Options{MaxOpenConns: 8, MaxIdleConns: 2, ConnMaxLifetime: time.Hour, ConnMaxIdleTime: 30 * time.Minute}},
		{"options", Options{MaxOpenConns: 40, MaxIdleConns: 5, ConnMaxLifetime: time.Minute, ConnMaxIdleTime: -1}, base,
			Options{MaxOpenConns: 40, MaxIdleConns: 5, ConnMaxLifetime: time.Minute, ConnMaxIdleTime: -1}},
		{"DSN wins", Options{MaxOpenConns: 40, ConnMaxLifetime: time.Minute},
			base + "&pool_max_conns=3&pool_max_idle_conns=0&pool_max_conn_lifetime=5m&pool_max_conn_idle_time=90s",
			Options{MaxOpenConns: 3, MaxIdleConns: -1, ConnMaxLifetime: 5 * time.Minute, ConnMaxIdleTime: 90 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, dsn, err := tc.opts.postgresPool(tc.dsn)
			if err != nil {
				t.Fatal(err)
			}
			if got.MaxOpenConns != tc.want.MaxOpenConns || got.MaxIdleConns != tc.want.MaxIdleConns ||
				got.ConnMaxLifetime != tc.want.ConnMaxLifetime || got.ConnMaxIdleTime != tc.want.ConnMaxIdleTime {
				t.Errorf("pool = %+v, want %+v", got, tc.want)
			}
			if strings.Contains(dsn, "pool_") || !strings.Contains(dsn, "sslmode=disable") {
				t.Errorf("DSN passed to pgx = %q: want the pool parameters out and the others kept", dsn)
			}
		})
	}
}

func TestPostgresPoolSettingsRejected(t *testing.T) {
	pw := "pw" + strings.Repeat("q", 6)
	for _, p := range []string{"pool_max_conns=0", "pool_max_conns=x", "pool_max_idle_conns=-1", "pool_max_conn_lifetime=5", "pool_max_conn_idle_time=-1m"} {
		dsn := "postgres://u:" + pw + "@127.0.0.1:1/db?" + p
		_, err := Open(context.Background(), dsn, Options{})
		if err == nil {
			t.Errorf("Open with %s: no error", p)
			continue
		}
		if strings.Contains(err.Error(), pw) || !strings.Contains(err.Error(), strings.SplitN(p, "=", 2)[0]) {
			t.Errorf("Open with %s: %v: want the parameter named and no password", p, err)
		}
	}
}

func TestSchemasRejected(t *testing.T) {
	ok := [][]string{1: {`CREATE TABLE x_t (a TEXT)`}}
	for _, bad := range [][]Schema{
		{{Name: "core", Migrations: ok}},
		{{Name: "Org-Scan", Migrations: ok}},
		{{Name: "x", Migrations: ok}, {Name: "x", Migrations: ok}},
		{{Name: "x", Migrations: [][]string{{`CREATE TABLE x_t (a TEXT)`}}}},
		{{Name: "x", Migrations: [][]string{1: nil}}},
	} {
		path := storetest.SQLite(t)
		if s, err := Open(context.Background(), path, Options{Schemas: bad}); err == nil {
			s.Close()
			t.Errorf("Open with schemas %+v: no error", bad)
		}
	}
}

// TestPoolHonoured shows on each backend that MaxOpenConns bounds the
// connections: with two transactions open, a third waits.
func TestPoolHonoured(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			s, err := Open(ctx, b.DSN(t), Options{MaxOpenConns: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := s.(*sqlStore).db.Stats().MaxOpenConnections; got != 2 {
				t.Fatalf("MaxOpenConnections = %d, want 2", got)
			}
			if b.Name == "sqlite" {
				// SQLite's transactions hold the write lock: a third could
				// not start anyway, so only the setting is checked.
				return
			}
			holding, release := make(chan struct{}, 2), make(chan struct{})
			p := pool.New().WithErrors()
			for range 2 {
				p.Go(func() error {
					return s.Tx(ctx, func(tx Tx) error {
						if _, err := tx.Exec(ctx, `SELECT 1`); err != nil {
							return err
						}
						holding <- struct{}{}
						<-release
						return nil
					})
				})
			}
			<-holding
			<-holding
			short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			err = s.Tx(short, func(Tx) error { return nil })
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("third transaction with two connections busy: %v, want it to wait until the deadline", err)
			}
			close(release)
			if err := p.Wait(); err != nil {
				t.Fatal(err)
			}
			if err := s.Tx(ctx, func(Tx) error { return nil }); err != nil {
				t.Errorf("transaction after the others ended: %v", err)
			}
			if st := s.(*sqlStore).db.Stats(); st.OpenConnections > 2 || st.WaitCount < 1 {
				t.Errorf("pool stats %+v: want at most 2 open and a wait", st)
			}
		})
	}
}

// TestPostgresDSNParameters shows that the DSN's pool parameters reach
// the pool and pgx's own parameters reach the server.
func TestPostgresDSNParameters(t *testing.T) {
	ctx := context.Background()
	dsn := withParams(t, storetest.Postgres(t),
		"pool_max_conns", "1", "pool_max_conn_lifetime", "100ms", "application_name", "leakstop-pool-test")
	s, err := Open(ctx, dsn, Options{MaxOpenConns: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.(*sqlStore).db.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("MaxOpenConnections = %d, want the DSN's 1", got)
	}
	var app string
	var pid1, pid2 int64
	err = s.Tx(ctx, func(tx Tx) error {
		return tx.QueryRow(ctx, `SELECT current_setting('application_name'), pg_backend_pid()`).Scan(&app, &pid1)
	})
	if err != nil || app != "leakstop-pool-test" {
		t.Fatalf("application_name = %q, %v", app, err)
	}
	time.Sleep(250 * time.Millisecond) // past the connection's lifetime
	err = s.Tx(ctx, func(tx Tx) error { return tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid2) })
	if err != nil {
		t.Fatal(err)
	}
	if pid1 == pid2 {
		t.Errorf("same backend %d after pool_max_conn_lifetime passed: want a new connection", pid1)
	}
}
