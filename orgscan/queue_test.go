package orgscan

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/sourcegraph/conc"

	"github.com/leakstop/leakstop/state"
	"github.com/leakstop/leakstop/state/storetest"
)

// Processes that start at once migrate River's tables once between them.
func TestQueueMigrationsConcurrent(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			dsn := b.DSN(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			st, err := state.Open(ctx, dsn, state.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			path := ""
			if st.Dialect() == "sqlite" {
				path = st.Location()
			}
			var mu sync.Mutex
			var errs []string
			var wg conc.WaitGroup
			for range 6 {
				wg.Go(func() {
					q, err := openQueue(ctx, st.Dialect(), path, dsn, queueConfig{
						queue: roundQueue("r"), workers: 1, lease: time.Minute, log: slog.New(slog.DiscardHandler),
						add: func(w *river.Workers) { river.AddWorker(w, &repoJobWorker{}) },
					})
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						errs = append(errs, err.Error())
						return
					}
					q.close()
				})
			}
			wg.Wait()
			if len(errs) > 0 {
				t.Fatalf("%d of 6 concurrent openings failed:\n%s", len(errs), strings.Join(errs, "\n"))
			}
		})
	}
}

func TestRiverPoolConfig(t *testing.T) {
	cfg, err := riverPoolConfig("postgres://u:secret@db.example:5432/leakstop?search_path=org_scans&sslmode=disable&pool_max_conns=3&pool_max_idle_conns=1", 4)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.ConnConfig.RuntimeParams["search_path"]; got != "org_scans" {
		t.Errorf("search_path = %q, want org_scans", got)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["pool_max_idle_conns"]; ok {
		t.Error("the state's pool parameter would reach PostgreSQL")
	}
	if cfg.MaxConns != 9 {
		t.Errorf("MaxConns = %d, want workers + 5", cfg.MaxConns)
	}
	if _, err := riverPoolConfig("postgres://u:secret@db.example:notaport/x", 1); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("bad DSN: error %v, want one without the password", err)
	}
}

func TestRoundQueueName(t *testing.T) {
	a, b := roundQueue("run 1/ä"), roundQueue("run 2")
	if a == b || len(a) > 64 || strings.Trim(a, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		t.Errorf("queue names %q, %q", a, b)
	}
}
