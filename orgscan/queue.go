package orgscan

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// The job queue is River (github.com/riverqueue/river): jobs are claimed
// with FOR UPDATE SKIP LOCKED on PostgreSQL and under SQLite's write lock,
// made unique per round and repository, and given back to the queue when
// the worker holding them dies. River keeps its tables (river_job, …) in
// the state database next to leakstop's: in the schema the DSN's
// search_path names on PostgreSQL, in the same file on SQLite. It gets a
// connection of its own: a pgx pool (riverpgxv5) or a database/sql handle
// on modernc.org/sqlite (riversqlite), the driver River's own SQLite tests
// use.

// Job kinds. A round's jobs live in a queue of their own (roundQueue), so
// that "is anything of this round left?" is a question about one queue.
const (
	jobKindList = "leakstop_org_list"
	jobKindRepo = "leakstop_org_repo"
)

// queueMaxAttempts bounds how often a job is run: it is run again only
// when its worker died or was stopped mid-job (and a listing also when it
// overran the lease), never because Scan failed or overran.
const queueMaxAttempts = 3

// listJobArgs is the job that lists a round's repositories: one per round.
type listJobArgs struct {
	Round string `json:"round" river:"unique"`
}

func (listJobArgs) Kind() string { return jobKindList }

// repoJobArgs is the job that scans one repository: one per round and
// repository id.
type repoJobArgs struct {
	Round  string `json:"round" river:"unique"`
	RepoID int64  `json:"repo_id" river:"unique"`
	Repo   Repo   `json:"repo"`
}

func (repoJobArgs) Kind() string { return jobKindRepo }

// roundQueue is the River queue of a round: River's queue names allow only
// a few characters, and round names are the user's.
func roundQueue(round string) string {
	sum := sha256.Sum256([]byte(round))
	return "leakstop_org_" + hex.EncodeToString(sum[:8])
}

// roundActiveStates are the states of a job that may still run.
var roundActiveStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled,
}

// jobQueue is one process's River client on a round's queue, hiding the
// driver's transaction type.
type jobQueue interface {
	// insert adds jobs; a duplicate of a unique job is skipped.
	insert(ctx context.Context, params []river.InsertManyParams) error
	// start starts working the round's queue.
	start(ctx context.Context) error
	// active reports whether any job of the round may still run.
	active(ctx context.Context) (bool, error)
	// rescue gives the round's jobs that have been running for longer
	// than after at now (by the database's clock) back to the queue (their
	// worker died), or discards those out of attempts; it returns how
	// many it rescued.
	rescue(ctx context.Context, now time.Time, after time.Duration) (int, error)
	// stop stops working, waiting for running jobs; cancel also cancels them.
	stop(ctx context.Context, cancel bool) error
	close()
}

// queueConfig is what a jobQueue is built from.
type queueConfig struct {
	queue   string
	workers int
	lease   time.Duration
	log     *slog.Logger
	add     func(*river.Workers) // registers the job workers
}

// openQueue connects River to the state database — the PostgreSQL DSN as
// given, or the SQLite file at sqlitePath, by dialect (state.Store's) —
// migrates River's tables and builds a client on the round's queue.
func openQueue(ctx context.Context, dialect, sqlitePath, dsn string, c queueConfig) (jobQueue, error) {
	switch dialect {
	case "postgres":
		cfg, err := riverPoolConfig(dsn, c.workers)
		if err != nil {
			return nil, err
		}
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("connect job queue: %w", err)
		}
		q, err := newRiverQueue(ctx, riverpgxv5.New(pool), c, func(ctx context.Context, m *rivermigrate.Migrator[pgx.Tx]) error {
			// River's migrations cannot share one transaction (one adds an
			// enum value that a later one uses), so the processes of one
			// schema take turns under a session advisory lock, which the
			// server drops if its holder dies.
			conn, err := pool.Acquire(ctx)
			if err != nil {
				return err
			}
			defer conn.Release()
			const key = `hashtextextended('leakstop river migrations ' || current_schema(), 0)`
			if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(`+key+`)`); err != nil {
				return err
			}
			defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+key+`)`) //nolint:errcheck // closing the session drops it too
			_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
			return err
		}, pool.Close)
		if err != nil {
			pool.Close()
			return nil, err
		}
		return q, nil
	case "sqlite":
		// Pragmas as on the state's own handle: BEGIN IMMEDIATE, so a
		// read-then-write (River claiming a job) holds the write lock from
		// the start and other processes wait for it (busy_timeout) rather
		// than fail; WAL, so readers do not block the writer. One
		// connection, as riversqlite's documentation advises.
		db, err := sql.Open("sqlite", sqlitePath+"?_txlock=immediate&_busy_timeout="+
			strconv.FormatInt(queueBusyTimeout.Milliseconds(), 10)+"&_journal_mode=WAL&_synchronous=NORMAL")
		if err != nil {
			return nil, fmt.Errorf("open job queue: %w", err)
		}
		db.SetMaxOpenConns(1)
		q, err := newRiverQueue(ctx, riversqlite.New(db), c, func(ctx context.Context, m *rivermigrate.Migrator[*sql.Tx]) error {
			// One transaction, BEGIN IMMEDIATE: the write lock serialises
			// the processes' migrations.
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			if _, err := m.MigrateTx(ctx, tx, rivermigrate.DirectionUp, nil); err != nil {
				tx.Rollback() //nolint:errcheck // the migration's error is the one to report
				return err
			}
			return tx.Commit()
		}, func() { db.Close() })
		if err != nil {
			db.Close()
			return nil, err
		}
		return q, nil
	default:
		return nil, fmt.Errorf("open job queue: unsupported database %q", dialect)
	}
}

// queueBusyTimeout is how long an SQLite statement of the queue waits for
// another process's write.
const queueBusyTimeout = 30 * time.Second

// statePoolParams are the state package's pool parameters: they size the
// state's database/sql pool, not River's, and PostgreSQL would reject them.
var statePoolParams = []string{"pool_max_conns", "pool_max_idle_conns", "pool_max_conn_lifetime", "pool_max_conn_idle_time"}

// riverPoolConfig returns the pgx pool configuration for River from the
// state DSN: every pgx parameter (search_path included) is honoured.
func riverPoolConfig(dsn string, workers int) (*pgxpool.Config, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, errors.New("parse DSN: invalid PostgreSQL connection URL") // the error may quote the password
	}
	q := u.Query()
	for _, p := range statePoolParams {
		q.Del(p)
	}
	u.RawQuery = q.Encode()
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		return nil, errors.New("parse DSN: invalid PostgreSQL connection string")
	}
	// River holds one connection to LISTEN and uses a few for its
	// producer, completer, elector and maintenance; jobs themselves use
	// none.
	cfg.MaxConns = int32(max(workers, 1) + 5)
	return cfg, nil
}

// riverQueue is jobQueue on one River driver.
type riverQueue[TTx any] struct {
	driver  riverdriver.Driver[TTx]
	client  *river.Client[TTx]
	queue   string
	closeDB func()
}

// newRiverQueue migrates River's tables with migrate, which serialises
// the migrations of processes starting at once, and builds the client.
func newRiverQueue[TTx any](ctx context.Context, driver riverdriver.Driver[TTx], c queueConfig,
	migrate func(context.Context, *rivermigrate.Migrator[TTx]) error, closeDB func(),
) (*riverQueue[TTx], error) {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: c.log})
	if err != nil {
		return nil, fmt.Errorf("migrate job queue: %w", err)
	}
	if err := migrate(ctx, m); err != nil {
		return nil, fmt.Errorf("migrate job queue: %w", err)
	}
	workers := river.NewWorkers()
	c.add(workers)
	client, err := river.NewClient(driver, &river.Config{
		Queues:  map[string]river.QueueConfig{c.queue: {MaxWorkers: max(c.workers, 1)}},
		Workers: workers,
		// A job that outlives its lease has its context cancelled, so that
		// a worker still alive stops before another is given the job.
		JobTimeout:           c.lease,
		RescueStuckJobsAfter: c.lease + roundLeaseGrace(c.lease),
		MaxAttempts:          queueMaxAttempts,
		// River fetches at most once per cooldown (default 100 ms), which
		// bounds a process to Workers jobs per cooldown: too few when most
		// repositories are unchanged and their scans take milliseconds.
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: roundPollInterval(c.lease),
		Logger:            c.log,
	})
	if err != nil {
		return nil, fmt.Errorf("create job queue client: %w", err)
	}
	return &riverQueue[TTx]{driver: driver, client: client, queue: c.queue, closeDB: closeDB}, nil
}

// roundLeaseGrace is how long past its lease a running job is left to its
// worker, which cancels it at the lease, before another process takes it.
func roundLeaseGrace(lease time.Duration) time.Duration {
	return max(lease/10, time.Second)
}

// roundPollInterval is how often a waiting process looks at the round.
func roundPollInterval(lease time.Duration) time.Duration {
	return min(max(lease/8, 100*time.Millisecond), time.Second)
}

func (q *riverQueue[TTx]) insert(ctx context.Context, params []river.InsertManyParams) error {
	const batch = 500
	for len(params) > 0 {
		n := min(batch, len(params))
		if _, err := q.client.InsertMany(ctx, params[:n]); err != nil {
			return fmt.Errorf("insert jobs: %w", err)
		}
		params = params[n:]
	}
	return nil
}

func (q *riverQueue[TTx]) start(ctx context.Context) error {
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("start job queue: %w", err)
	}
	return nil
}

func (q *riverQueue[TTx]) active(ctx context.Context) (bool, error) {
	res, err := q.client.JobList(ctx, river.NewJobListParams().Queues(q.queue).States(roundActiveStates...).First(1))
	if err != nil {
		return false, fmt.Errorf("list jobs: %w", err)
	}
	return len(res.Jobs) > 0, nil
}

// rescue does for the round's queue what River's rescuer does for all, at
// the pace of the lease: River's runs on the elected leader only, every
// 30 seconds (not configurable), and a new leader is elected only after
// the old one's term runs out, so a dead worker's job would wait up to a
// minute. The driver's own rescue statement is used, and only changes a
// job still running since before the horizon. The horizon is judged by
// the database's clock, so that workers with skewed clocks agree.
func (q *riverQueue[TTx]) rescue(ctx context.Context, now time.Time, after time.Duration) (int, error) {
	exec := q.driver.GetExecutor()
	now = now.UTC()
	horizon := now.Add(-after)
	p := &riverdriver.JobRescueManyParams{StuckHorizon: horizon}
	var afterID int64
	for {
		const page = 200
		stuck, err := exec.JobGetStuck(ctx, &riverdriver.JobGetStuckParams{AfterID: afterID, Max: page, StuckHorizon: horizon})
		if err != nil {
			return 0, fmt.Errorf("find stuck jobs: %w", err)
		}
		for _, j := range stuck {
			afterID = j.ID
			if j.Queue != q.queue {
				continue
			}
			e := fmt.Sprintf(`{"at":%q,"attempt":%d,"error":"worker lost: lease expired","trace":""}`, now.Format(time.RFC3339Nano), j.Attempt)
			p.ID = append(p.ID, j.ID)
			p.Error = append(p.Error, []byte(e))
			if j.Attempt >= j.MaxAttempts {
				p.State = append(p.State, string(rivertype.JobStateDiscarded))
				p.FinalizedAt = append(p.FinalizedAt, &now)
			} else {
				p.State = append(p.State, string(rivertype.JobStateAvailable))
				p.FinalizedAt = append(p.FinalizedAt, nil)
			}
			p.ScheduledAt = append(p.ScheduledAt, now)
		}
		if len(stuck) < page {
			break
		}
	}
	if len(p.ID) == 0 {
		return 0, nil
	}
	if _, err := exec.JobRescueMany(ctx, p); err != nil {
		return 0, fmt.Errorf("rescue stuck jobs: %w", err)
	}
	return len(p.ID), nil
}

func (q *riverQueue[TTx]) stop(ctx context.Context, cancel bool) error {
	var err error
	if cancel {
		err = q.client.StopAndCancel(ctx)
	} else {
		err = q.client.Stop(ctx)
	}
	if err != nil {
		return fmt.Errorf("stop job queue: %w", err)
	}
	return nil
}

func (q *riverQueue[TTx]) close() { q.closeDB() }
