package orgscan

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/riverqueue/river"
	"github.com/sourcegraph/conc/panics"

	"github.com/leakstop/leakstop/state"
)

// A round is one scan of every repository of the organisations, shared by
// the worker processes that run it. The first process to arrive creates
// it; one process lists the repositories (a job of its own, so that if the
// lister dies another lists); every repository is then one job, scanned
// by exactly one process; each process works until no job of the round is
// left, and returns. A process that dies loses nothing: after its lease
// its job is run by another.

// DefaultRoundLease is how long a repository's job may run (see
// RoundOptions.Lease).
const DefaultRoundLease = 30 * time.Minute

// DefaultRoundWorkers is how many repositories a process scans at once
// unless told otherwise.
const DefaultRoundWorkers = 2

// RoundOptions configure RunRound.
type RoundOptions struct {
	// DSN names the state database (the --state DSN): an SQLite path or a
	// postgres:// URL, as state.Open takes it. The round's tables and
	// River's job queue live there, in the DSN's schema. River has a pgx
	// pool of its own (Workers+5 connections; the DSN's pool_* parameters
	// size the state's pool only).
	DSN string
	// Round is empty to join the open round or start a new one (an open
	// round left by workers that all died is resumed: its remaining
	// repositories are scanned, and the next run starts a new round), or
	// a name shared by all workers of one run (a CI run id, say): they
	// join the round of that name, and one that arrives after it completed
	// gets its result without scanning again.
	Round string
	// Workers is how many repositories this process scans at once:
	// DefaultRoundWorkers if 0.
	Workers int
	// Lease is how long a job may run: DefaultRoundLease if 0. A scan still
	// running at its lease has its context cancelled and is recorded as
	// failed; a job whose process died is given to another worker once
	// its lease and a grace of a tenth of it (at least a second) are
	// over, by the database's clock. It must exceed the longest scan of
	// one repository.
	Lease time.Duration
	// List returns the repositories of the round. It is called by one
	// process per round (by another only if that one died while listing).
	// An error fails the round: every process's RunRound returns a
	// *RoundListError.
	List func(ctx context.Context) ([]Repo, error)
	// Scan scans one repository. It is called once per repository per
	// round, again only if its process died or stopped mid-scan (up to 3
	// attempts in all). An error, a panic, or overrunning the lease (which
	// cancels ctx) is recorded as the repository's failure, with its
	// reason, and the round goes on; the next round tries it again.
	// round is the round's id and start time, the same in every process.
	Scan func(ctx context.Context, round RoundInfo, r Repo) error
	// OnEvent, if set, is told of the round's progress. Calls are
	// serialised; it must not block for long or panic.
	OnEvent func(Event)
	// Log receives the queue's warnings and errors; none if nil.
	Log *slog.Logger
}

// RoundResult is a finished round, read from the database, so every
// process of the round reports the same.
type RoundResult struct {
	ID       string
	Started  time.Time
	Finished time.Time
	// Repos are all the repositories listed, by id.
	Repos []Repo
	// Failed maps the id of each repository that could not be scanned to
	// the reason.
	Failed map[int64]string
	// Scanned is how many repositories this process scanned, successfully
	// or not.
	Scanned int
}

// EventKind says what an Event reports.
type EventKind string

// Event kinds.
const (
	EventJoined      EventKind = "joined"       // the process joined (or created) the round
	EventListed      EventKind = "listed"       // the round has Total repositories (once per process, when it sees the listing)
	EventRepoStarted EventKind = "repo-started" // this process started scanning Repo
	EventRepoDone    EventKind = "repo-done"    // this process scanned Repo
	EventRepoFailed  EventKind = "repo-failed"  // Repo could not be scanned: Reason
	EventRoundDone   EventKind = "round-done"   // no job of the round is left
)

// Event is a step of a round, as this process saw it.
type Event struct {
	Kind  EventKind
	Round string
	// Created is set on EventJoined when this process created the round.
	Created bool
	// Total is the number of repositories listed (EventListed).
	Total int
	// Repo is set on repository events.
	Repo   Repo
	Reason string
}

// RoundListError is a round's failure to list its repositories.
type RoundListError struct {
	Round  string
	Reason string
}

func (e *RoundListError) Error() string {
	return fmt.Sprintf("round %s: list repositories: %s", e.Round, e.Reason)
}

// RunRound joins or starts a round (see RoundOptions.Round), works its
// jobs with o.Workers at once until none is left, and returns the round's
// result. Cancelling ctx stops this process (its running jobs go back to
// the queue) and RunRound returns ctx's error; the round goes on with the
// other processes.
func RunRound(ctx context.Context, o RoundOptions) (RoundResult, error) {
	if err := o.check(); err != nil {
		return RoundResult{}, err
	}
	if o.Workers == 0 {
		o.Workers = DefaultRoundWorkers
	}
	if o.Lease == 0 {
		o.Lease = DefaultRoundLease
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	st, err := state.Open(ctx, o.DSN, state.Options{Schemas: []state.Schema{queueSchema}})
	if err != nil {
		return RoundResult{}, fmt.Errorf("run round: %w", err)
	}
	defer st.Close()
	r := &roundRun{o: o, st: st, worker: roundWorkerName()}
	return r.run(ctx)
}

func (o RoundOptions) check() error {
	switch {
	case o.DSN == "":
		return errors.New("run round: no state DSN")
	case o.List == nil || o.Scan == nil:
		return errors.New("run round: List and Scan are required")
	case o.Workers < 0 || o.Lease < 0:
		return errors.New("run round: Workers and Lease must not be negative")
	case len(o.Round) > 200 || strings.IndexFunc(o.Round, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return fmt.Errorf("run round: round name %q: want at most 200 printable characters", o.Round)
	}
	return nil
}

// roundWorkerName identifies this process in the round's records.
func roundWorkerName() string {
	h, err := os.Hostname()
	if err != nil {
		h = "unknown"
	}
	return fmt.Sprintf("%s:%d", h, os.Getpid())
}

// roundRun is one process's part in a round.
type roundRun struct {
	o       RoundOptions
	st      state.Store
	q       jobQueue
	worker  string
	id      string
	started time.Time

	scanned    atomic.Int64
	sawListing atomic.Bool
	eventMu    sync.Mutex
}

func (r *roundRun) event(e Event) {
	if r.o.OnEvent == nil {
		return
	}
	e.Round = r.id
	r.eventMu.Lock()
	defer r.eventMu.Unlock()
	r.o.OnEvent(e)
}

// listed reports the round's listing, once.
func (r *roundRun) listed(n int) {
	if r.sawListing.CompareAndSwap(false, true) {
		r.event(Event{Kind: EventListed, Total: n})
	}
}

func (r *roundRun) run(ctx context.Context) (RoundResult, error) {
	rd, created, err := joinRound(ctx, r.st, r.o.Round)
	if err != nil {
		return RoundResult{}, err
	}
	r.id, r.started = rd.id, roundTime(rd.startedAt)
	r.event(Event{Kind: EventJoined, Created: created})
	if rd.state != roundOpen {
		return r.result(ctx, rd)
	}
	sqlitePath := ""
	if r.st.Dialect() == "sqlite" {
		sqlitePath = r.st.Location()
	}
	r.q, err = openQueue(ctx, r.st.Dialect(), sqlitePath, r.o.DSN, queueConfig{
		queue:   roundQueue(r.id),
		workers: r.o.Workers,
		lease:   r.o.Lease,
		log:     riverLogger(r.o.Log),
		add: func(w *river.Workers) {
			river.AddWorker(w, &listJobWorker{r: r})
			river.AddWorker(w, &repoJobWorker{r: r})
		},
	})
	if err != nil {
		return RoundResult{}, fmt.Errorf("run round %s: %w", r.id, err)
	}
	defer r.q.close()
	if rd.listedAt == 0 {
		if err := r.q.insert(ctx, []river.InsertManyParams{{Args: listJobArgs{Round: r.id}, InsertOpts: r.insertOpts()}}); err != nil {
			return RoundResult{}, fmt.Errorf("run round %s: queue listing: %w", r.id, err)
		}
	}
	workCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	if err := r.q.start(workCtx); err != nil {
		return RoundResult{}, fmt.Errorf("run round %s: %w", r.id, err)
	}
	rd, err = r.wait(ctx)
	if err != nil {
		stopCtx, stopCancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer stopCancel()
		r.q.stop(stopCtx, true) //nolint:errcheck // the wait's error is the one to report
		return RoundResult{}, err
	}
	if err := r.q.stop(ctx, false); err != nil {
		return RoundResult{}, fmt.Errorf("run round %s: %w", r.id, err)
	}
	r.event(Event{Kind: EventRoundDone})
	return r.result(ctx, rd)
}

// insertOpts puts a job in the round's queue, unique by its args'
// river:"unique" fields.
func (r *roundRun) insertOpts() *river.InsertOpts {
	return &river.InsertOpts{Queue: roundQueue(r.id), MaxAttempts: queueMaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// waitErrorLimit is how long wait bears with a database that keeps
// failing (a PostgreSQL restart, say) before it gives up.
const waitErrorLimit = 2 * time.Minute

// wait polls the round until it is no longer open, completing it when no
// job of it is left, and rescuing the jobs of dead workers meanwhile.
func (r *roundRun) wait(ctx context.Context) (roundRow, error) {
	tick := time.NewTicker(roundPollInterval(r.o.Lease))
	defer tick.Stop()
	var failingSince time.Time
	for {
		rd, err := r.poll(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			if failingSince.IsZero() {
				failingSince = time.Now()
			}
			if time.Since(failingSince) > waitErrorLimit {
				return roundRow{}, fmt.Errorf("run round %s: %w", r.id, err)
			}
			r.o.Log.WarnContext(ctx, "poll round", "round", r.id, "error", err.Error())
		case err == nil && rd.state != roundOpen:
			return rd, nil
		case err == nil:
			failingSince = time.Time{}
		}
		select {
		case <-ctx.Done():
			return roundRow{}, fmt.Errorf("run round %s: %w", r.id, ctx.Err())
		case <-tick.C:
		}
	}
}

// poll looks at the round once: it gives the jobs of dead workers back to
// the queue, and completes the round if no job of it is left.
func (r *roundRun) poll(ctx context.Context) (roundRow, error) {
	rd, now, err := readRound(ctx, r.st, r.id)
	if err != nil || rd.state != roundOpen {
		return rd, err
	}
	if rd.listedAt != 0 {
		r.listed(rd.repos)
	}
	n, err := r.q.rescue(ctx, now, r.o.Lease+roundLeaseGrace(r.o.Lease))
	if err != nil {
		return rd, err
	}
	if n > 0 {
		r.o.Log.InfoContext(ctx, "gave jobs of dead workers back to the queue", "round", r.id, "jobs", n)
	}
	active, err := r.q.active(ctx)
	if err != nil || active {
		return rd, err
	}
	return finishRound(ctx, r.st, r.id)
}

// result reads a finished round.
func (r *roundRun) result(ctx context.Context, rd roundRow) (RoundResult, error) {
	res := RoundResult{ID: rd.id, Started: roundTime(rd.startedAt), Finished: roundTime(rd.finishedAt),
		Failed: map[int64]string{}, Scanned: int(r.scanned.Load())}
	if rd.state == roundFailed {
		return res, &RoundListError{Round: rd.id, Reason: rd.err}
	}
	repos, err := roundRepos(ctx, r.st, rd.id)
	if err != nil {
		return res, err
	}
	for _, rr := range repos {
		res.Repos = append(res.Repos, rr.repo)
		if rr.state == roundRepoFailed {
			res.Failed[rr.repo.ID] = rr.reason
		}
	}
	return res, nil
}

// listJobWorker runs a round's listing job.
type listJobWorker struct {
	river.WorkerDefaults[listJobArgs]
	r *roundRun
}

func (w *listJobWorker) Work(ctx context.Context, job *river.Job[listJobArgs]) error {
	r := w.r
	rd, _, err := readRound(ctx, r.st, r.id)
	if err != nil {
		return err
	}
	if rd.state != roundOpen || rd.listedAt != 0 {
		return nil
	}
	var repos []Repo
	var pc panics.Catcher
	pc.Try(func() { repos, err = r.o.List(ctx) })
	if rec := pc.Recovered(); rec != nil {
		err = fmt.Errorf("panic: %v", rec.Value)
	}
	if err != nil {
		if ctx.Err() != nil && job.Attempt < job.MaxAttempts {
			return fmt.Errorf("list repositories: %w", err) // lease over or stopping: another process lists
		}
		return failRound(context.WithoutCancel(ctx), r.st, r.id, err.Error())
	}
	seen := map[int64]bool{}
	uniq := repos[:0:0]
	for _, rp := range repos {
		if !seen[rp.ID] {
			seen[rp.ID] = true
			uniq = append(uniq, rp)
		}
	}
	// The repositories are recorded before their jobs exist, and the round
	// marked listed only after: a lister that dies in between leaves a
	// listing job that the next lister redoes, its duplicates skipped.
	if err := addRoundRepos(ctx, r.st, r.id, uniq); err != nil {
		return err
	}
	params := make([]river.InsertManyParams, 0, len(uniq))
	for _, rp := range uniq {
		opts := r.insertOpts()
		if rp.Fork {
			// Forks after the rest: a fork whose parent is scanned first
			// finds its inherited blobs known clean and reads almost
			// nothing.
			opts.Priority = 2
		}
		params = append(params, river.InsertManyParams{Args: repoJobArgs{Round: r.id, RepoID: rp.ID, Repo: rp}, InsertOpts: opts})
	}
	if err := r.q.insert(ctx, params); err != nil {
		return fmt.Errorf("queue repositories: %w", err)
	}
	if err := markRoundListed(ctx, r.st, r.id, len(uniq)); err != nil {
		return err
	}
	r.listed(len(uniq))
	return nil
}

// repoJobWorker runs a repository's job.
type repoJobWorker struct {
	river.WorkerDefaults[repoJobArgs]
	r *roundRun
}

func (w *repoJobWorker) Work(ctx context.Context, job *river.Job[repoJobArgs]) error {
	r, rp := w.r, job.Args.Repo
	r.event(Event{Kind: EventRepoStarted, Repo: rp})
	var err error
	var pc panics.Catcher
	pc.Try(func() { err = r.o.Scan(ctx, RoundInfo{ID: r.id, At: r.started}, rp) })
	if rec := pc.Recovered(); rec != nil {
		err = fmt.Errorf("panic: %v", rec.Value)
	}
	switch {
	case err == nil:
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		// River cancelled the scan at its lease: it would overrun again.
		err = fmt.Errorf("scan did not finish within the lease (%v): %w", r.o.Lease, err)
	case ctx.Err() != nil && job.Attempt < job.MaxAttempts:
		// This process is stopping: the job goes back to the queue.
		return fmt.Errorf("scan %s: %w", rp.FullName, err)
	}
	r.scanned.Add(1)
	reason := ""
	if err != nil {
		reason = err.Error()
	}
	// Recorded even if the job's context has just ended: the scan is done.
	recCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := finishRoundRepo(recCtx, r.st, r.id, rp.ID, r.worker, reason); err != nil {
		return err
	}
	if reason != "" {
		r.event(Event{Kind: EventRepoFailed, Repo: rp, Reason: reason})
	} else {
		r.event(Event{Kind: EventRepoDone, Repo: rp})
	}
	return nil
}

// riverLogger passes on a logger's records of level Warn and above: River
// logs every job at Info.
func riverLogger(l *slog.Logger) *slog.Logger {
	return slog.New(minLevelHandler{l.Handler(), slog.LevelWarn})
}

type minLevelHandler struct {
	slog.Handler
	min slog.Level
}

func (h minLevelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevelHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevelHandler{h.Handler.WithAttrs(a), h.min}
}
func (h minLevelHandler) WithGroup(n string) slog.Handler {
	return minLevelHandler{h.Handler.WithGroup(n), h.min}
}

// newRoundID names a round that was not given a name.
func newRoundID(now time.Time) (string, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("name round: %w", err)
	}
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b), nil
}
