package orgscan

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/leakstop/leakstop/state"
	"github.com/leakstop/leakstop/state/storetest"
)

// queueTestRepos returns n repositories of organisation acme, ids 1001….
func queueTestRepos(n int) []Repo {
	repos := make([]Repo, n)
	for i := range repos {
		name := fmt.Sprintf("repo-%02d", i+1)
		repos[i] = Repo{
			ID: int64(1001 + i), Owner: "acme", Name: name, FullName: "acme/" + name,
			CloneURL: "https://github.example/acme/" + name + ".git", DefaultBranch: "main",
			PushedAt: time.Date(2026, 11, 1, 0, 0, i, 0, time.UTC), SizeKB: 10 + i,
		}
	}
	return repos
}

// queueScanLog counts Scan calls per repository.
type queueScanLog struct {
	mu    sync.Mutex
	calls map[int64]int
}

func (l *queueScanLog) scan(fail func(Repo) error) func(context.Context, RoundInfo, Repo) error {
	return func(_ context.Context, _ RoundInfo, r Repo) error {
		l.mu.Lock()
		if l.calls == nil {
			l.calls = map[int64]int{}
		}
		l.calls[r.ID]++
		l.mu.Unlock()
		if fail != nil {
			return fail(r)
		}
		return nil
	}
}

func queueLister(repos []Repo, calls *int) func(context.Context) ([]Repo, error) {
	var mu sync.Mutex
	return func(context.Context) ([]Repo, error) {
		mu.Lock()
		*calls++
		mu.Unlock()
		return repos, nil
	}
}

func TestRoundOneProcess(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			dsn := b.DSN(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			repos := queueTestRepos(25)
			var log queueScanLog
			lists := 0
			var events []Event
			start := time.Now()
			res, err := RunRound(ctx, RoundOptions{
				DSN: dsn, Workers: 4, Lease: 3 * time.Second,
				List: queueLister(repos, &lists),
				Scan: log.scan(func(r Repo) error {
					switch r.ID % 10 {
					case 3:
						return fmt.Errorf("fetch %s: remote hung up", r.FullName)
					case 7:
						panic("scanner bug in " + r.Name)
					}
					return nil
				}),
				OnEvent: func(e Event) { events = append(events, e) },
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: one process, 25 repositories: %v", b.Name, time.Since(start).Round(time.Millisecond))
			if lists != 1 {
				t.Errorf("List called %d times, want 1", lists)
			}
			for _, r := range repos {
				if n := log.calls[r.ID]; n != 1 {
					t.Errorf("%s scanned %d times, want 1", r.FullName, n)
				}
			}
			if len(log.calls) != len(repos) || res.Scanned != len(repos) {
				t.Errorf("scanned %d distinct repositories, result says %d, want %d", len(log.calls), res.Scanned, len(repos))
			}
			if len(res.Repos) != len(repos) {
				t.Fatalf("result lists %d repositories, want %d", len(res.Repos), len(repos))
			}
			for i, r := range res.Repos {
				if r != repos[i] {
					t.Errorf("result repository %d = %+v, want %+v", i, r, repos[i])
				}
			}
			wantFailed := map[int64]string{}
			for _, r := range repos {
				switch r.ID % 10 {
				case 3:
					wantFailed[r.ID] = "fetch " + r.FullName + ": remote hung up"
				case 7:
					wantFailed[r.ID] = "panic: scanner bug in " + r.Name
				}
			}
			if fmt.Sprint(res.Failed) != fmt.Sprint(wantFailed) {
				t.Errorf("failed = %v\nwant %v", res.Failed, wantFailed)
			}
			if res.ID == "" || res.Started.IsZero() || res.Finished.Before(res.Started) {
				t.Errorf("round id %q, started %v, finished %v", res.ID, res.Started, res.Finished)
			}
			rd := queueReadRound(t, dsn, res.ID)
			if rd.state != roundComplete {
				t.Errorf("round state %q, want complete", rd.state)
			}
			kinds := map[EventKind]int{}
			for _, e := range events {
				kinds[e.Kind]++
				if e.Round != res.ID {
					t.Errorf("event %+v has round %q, want %q", e, e.Round, res.ID)
				}
			}
			if kinds[EventJoined] != 1 || kinds[EventListed] != 1 || kinds[EventRepoStarted] != 25 ||
				kinds[EventRepoDone] != 25-len(wantFailed) || kinds[EventRepoFailed] != len(wantFailed) || kinds[EventRoundDone] != 1 {
				t.Errorf("events by kind: %v", kinds)
			}
			if b.Name == "postgres" {
				queueAssertRiverInSchema(t, dsn)
			}

			// A round finished more than roundRetention ago is forgotten
			// when the next one finishes.
			ancient := time.Now().Add(-roundRetention - time.Hour).UnixMicro()
			queueExecSQL(t, dsn, `INSERT INTO orgqueue_rounds (id, named, state, started_at, finished_at) VALUES ('ancient', 1, 'complete', ?, ?)`, ancient, ancient)
			queueExecSQL(t, dsn, `INSERT INTO orgqueue_repos (round_id, repo_id, full_name, repo, state) VALUES ('ancient', 1, 'acme/old', '{}', 'done')`)

			// A second round after completion scans everything again.
			var log2 queueScanLog
			res2, err := RunRound(ctx, RoundOptions{DSN: dsn, Lease: 3 * time.Second, List: queueLister(repos, &lists), Scan: log2.scan(nil)})
			if err != nil {
				t.Fatal(err)
			}
			if res2.ID == res.ID || lists != 2 || len(log2.calls) != 25 || len(res2.Failed) != 0 || res2.Scanned != 25 {
				t.Errorf("second round %q (first %q): %d listings, %d repositories scanned, %d failed", res2.ID, res.ID, lists, len(log2.calls), len(res2.Failed))
			}
			for id, n := range log2.calls {
				if n != 1 {
					t.Errorf("second round scanned %d %d times", id, n)
				}
			}
			if n := queueCountRows(t, dsn, `SELECT count(*) FROM orgqueue_rounds WHERE id IN ('ancient', ?, ?)`, res.ID, res2.ID); n != 2 {
				t.Errorf("%d of the ancient, first and second rounds kept, want the last two", n)
			}
			if n := queueCountRows(t, dsn, `SELECT count(*) FROM orgqueue_repos WHERE round_id = 'ancient'`); n != 0 {
				t.Errorf("%d repositories of the ancient round kept", n)
			}
		})
	}
}

func TestRoundListError(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			dsn := b.DSN(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			scans := 0
			_, err := RunRound(ctx, RoundOptions{
				DSN: dsn, Round: "ci-run-17", Lease: 3 * time.Second,
				List: func(context.Context) ([]Repo, error) { return nil, errors.New("GET /orgs/acme/repos: 404 Not Found") },
				Scan: func(context.Context, RoundInfo, Repo) error { scans++; return nil },
			})
			var le *RoundListError
			if !errors.As(err, &le) || le.Round != "ci-run-17" || !strings.Contains(le.Reason, "404 Not Found") {
				t.Fatalf("RunRound error = %v, want a RoundListError naming the round and the reason", err)
			}
			if scans != 0 {
				t.Errorf("%d scans after a failed listing", scans)
			}
			// A worker of the same run arriving late gets the same error
			// without listing again.
			_, err = RunRound(ctx, RoundOptions{
				DSN: dsn, Round: "ci-run-17",
				List: func(context.Context) ([]Repo, error) { t.Error("listed again"); return nil, nil },
				Scan: func(context.Context, RoundInfo, Repo) error { return nil },
			})
			if !errors.As(err, &le) {
				t.Errorf("late worker: error %v, want a RoundListError", err)
			}
		})
	}
}

func TestRoundNamedJoinsCompleted(t *testing.T) {
	dsn := storetest.SQLite(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	repos := queueTestRepos(3)
	lists := 0
	var log queueScanLog
	o := RoundOptions{DSN: dsn, Round: "nightly-42", Lease: 3 * time.Second, List: queueLister(repos, &lists),
		Scan: log.scan(func(r Repo) error {
			if r.ID == 1002 {
				return errors.New("broken")
			}
			return nil
		})}
	first, err := RunRound(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	second, err := RunRound(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if lists != 1 || len(log.calls) != 3 || second.ID != "nightly-42" || second.Scanned != 0 ||
		len(second.Repos) != 3 || second.Failed[1002] != "broken" || fmt.Sprint(first.Failed) != fmt.Sprint(second.Failed) {
		t.Errorf("late worker of a completed named round: %d listings, %d scans, result %+v", lists, len(log.calls), second)
	}
}

func TestRoundOptionsChecked(t *testing.T) {
	ok := func(context.Context) ([]Repo, error) { return nil, nil }
	scan := func(context.Context, RoundInfo, Repo) error { return nil }
	for name, o := range map[string]RoundOptions{
		"no DSN":         {List: ok, Scan: scan},
		"no List":        {DSN: "x.db", Scan: scan},
		"negative lease": {DSN: "x.db", List: ok, Scan: scan, Lease: -1},
		"bad round name": {DSN: "x.db", List: ok, Scan: scan, Round: "a\nb"},
	} {
		if _, err := RunRound(context.Background(), o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// queueReadRound reads a round's row.
func queueReadRound(t *testing.T, dsn, id string) roundRow {
	t.Helper()
	ctx := context.Background()
	st, err := state.Open(ctx, dsn, state.Options{Schemas: []state.Schema{queueSchema}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rd, _, err := readRound(ctx, st, id)
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

// queueAssertRiverInSchema checks that River's tables are in the DSN's schema.
func queueAssertRiverInSchema(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var schema string
	var n int
	if err := conn.QueryRow(ctx, `SELECT current_schema(), (SELECT count(*) FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_name IN ('river_job', 'river_migration', 'orgqueue_rounds'))`).Scan(&schema, &n); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(schema, "leakstop_test_") || n != 3 {
		t.Errorf("schema %s holds %d of river_job, river_migration, orgqueue_rounds", schema, n)
	}
}

func TestRoundCancelledProcessLosesNothing(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			dsn := b.DSN(t)
			repos := queueTestRepos(8)
			lists := 0
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			runCtx, stop := context.WithCancel(ctx)
			defer stop()
			var first queueScanLog
			var round string
			_, err := RunRound(runCtx, RoundOptions{
				DSN: dsn, Workers: 1, Lease: 3 * time.Second, List: queueLister(repos, &lists),
				OnEvent: func(e Event) { round = e.Round },
				Scan: func(jobCtx context.Context, _ RoundInfo, r Repo) error {
					first.scan(nil)(jobCtx, RoundInfo{}, r) //nolint:errcheck // counts the call
					if r.ID == 1004 {
						stop() // the process is told to stop while it scans 1004
						select {
						case <-jobCtx.Done():
						case <-time.After(10 * time.Second):
							t.Error("stopping RunRound did not cancel the running scan")
						}
						return errors.New("interrupted")
					}
					return nil
				},
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled RunRound: error %v, want context.Canceled", err)
			}
			if first.calls[1004] != 1 {
				t.Fatalf("first process scans: %v", first.calls)
			}
			start := time.Now()
			var second queueScanLog
			res, err := RunRound(ctx, RoundOptions{DSN: dsn, Lease: 3 * time.Second, List: queueLister(repos, &lists), Scan: second.scan(nil)})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: the next process finished the round in %v", b.Name, time.Since(start).Round(time.Millisecond))
			if res.ID != round || lists != 1 || len(res.Failed) != 0 {
				t.Errorf("second process: round %s (first %s), %d listings, failed %v", res.ID, round, lists, res.Failed)
			}
			if second.calls[1004] != 1 {
				t.Errorf("the interrupted repository was not scanned again: %v", second.calls)
			}
			for _, r := range repos {
				if n := first.calls[r.ID] + second.calls[r.ID]; n != 1 && r.ID != 1004 {
					t.Errorf("%s scanned %d times", r.FullName, n)
				}
			}
		})
	}
}

func TestRoundLeaseOverrun(t *testing.T) {
	dsn := storetest.SQLite(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	repos := queueTestRepos(4)
	lists := 0
	var log queueScanLog
	var listed []int
	res, err := RunRound(ctx, RoundOptions{
		DSN: dsn, Lease: time.Second, List: queueLister(repos, &lists),
		OnEvent: func(e Event) {
			if e.Kind == EventListed {
				listed = append(listed, e.Total)
			}
		},
		Scan: func(jobCtx context.Context, _ RoundInfo, r Repo) error {
			log.scan(nil)(jobCtx, RoundInfo{}, r) //nolint:errcheck // counts the call
			if r.ID == 1002 {
				select {
				case <-jobCtx.Done():
					return jobCtx.Err()
				case <-time.After(20 * time.Second):
					return errors.New("the lease did not cancel the scan")
				}
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Failed[1002]; len(res.Failed) != 1 || !strings.HasPrefix(got, "scan did not finish within the lease (1s)") {
		t.Errorf("failed = %v, want 1002 for overrunning its lease", res.Failed)
	}
	if log.calls[1002] != 1 || len(log.calls) != 4 {
		t.Errorf("scans: %v; an overrun is not retried in the round", log.calls)
	}
	if fmt.Sprint(listed) != "[4]" {
		t.Errorf("listed events %v, want one of 4", listed)
	}
}

func queueExecSQL(t *testing.T, dsn, q string, args ...any) {
	t.Helper()
	ctx := context.Background()
	st, err := state.Open(ctx, dsn, state.Options{Schemas: []state.Schema{queueSchema}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Tx(ctx, func(tx state.Tx) error { _, err := tx.Exec(ctx, q, args...); return err }); err != nil {
		t.Fatal(err)
	}
}

func queueCountRows(t *testing.T, dsn, q string, args ...any) int {
	t.Helper()
	ctx := context.Background()
	st, err := state.Open(ctx, dsn, state.Options{Schemas: []state.Schema{queueSchema}})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var n int
	if err := st.Tx(ctx, func(tx state.Tx) error { return tx.QueryRow(ctx, q, args...).Scan(&n) }); err != nil {
		t.Fatal(err)
	}
	return n
}
