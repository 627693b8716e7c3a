package orgscan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/leakstop/leakstop/scanner"
	"github.com/leakstop/leakstop/state"
)

// Config is one org scan round as a worker process runs it.
type Config struct {
	Orgs   []string
	Filter Filter
	// Client lists the repositories (NewClient); Mirror fetches them.
	Client *github.Client
	Mirror *Mirror
	// Store holds the org scan's state; DSN names the same database for
	// the job queue.
	Store state.Store
	DSN   string
	// Detector and RulesHash are the rules in force: a repository scanned
	// under another hash is scanned again in full.
	Detector    *scanner.Detector
	RulesHash   string
	ScanOptions scanner.Options
	// Round, Workers and Lease: see RoundOptions.
	Round   string
	Workers int
	Lease   time.Duration
	// BudgetKB bounds the total GitHub size of the repositories this
	// process fetches and scans at once (0: 128 MiB), so that a worker's
	// memory stays bounded whatever the organisation holds; a bigger
	// repository runs alone.
	BudgetKB int
	Progress Progress
	Log      *slog.Logger
}

// Outcome is what a round found: the organisation-wide report, and the
// credentials this process read in full (secrets in memory only), for
// the revoker.
type Outcome struct {
	Report *OrgReport
	Round  RoundResult
	// Fresh are the findings of the repositories this process scanned,
	// merged per credential.
	Fresh []scanner.Finding
}

// nopProgress shows nothing.
type nopProgress struct{}

func (nopProgress) Round(int)                   {}
func (nopProgress) RepoStarted(Repo)            {}
func (nopProgress) RepoDone(Repo, int64, error) {}
func (nopProgress) Finish()                     {}

// ErrRepos is wrapped by Run's error when repositories could not be
// scanned; the report is still complete for the others.
var ErrRepos = errors.New("some repositories could not be scanned")

// Run runs (or joins) a round: list, fetch and scan, then report from the
// state. A repository that fails is recorded, named in the report and
// retried on the next round; the others are still scanned.
func Run(ctx context.Context, c Config) (*Outcome, error) {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	rs := &RepoScanner{Store: c.Store, Detector: c.Detector, RulesHash: c.RulesHash, Options: c.ScanOptions}
	if c.Progress == nil {
		c.Progress = nopProgress{}
	}
	gate, forks := newSizeGate(c.BudgetKB), newForkGate()
	var mu sync.Mutex
	fresh := scanner.NewCollector()
	list := func(ctx context.Context) ([]Repo, error) {
		var all []Repo
		for _, org := range c.Orgs {
			repos, err := ListRepos(ctx, c.Client, org, c.Filter)
			if err != nil {
				return nil, fmt.Errorf("list repositories of %s: %w", org, err)
			}
			all = append(all, repos...)
		}
		return all, nil
	}
	scan := func(ctx context.Context, round RoundInfo, r Repo) (err error) {
		var received int64
		need, why, err := rs.NeedsScan(ctx, r)
		if err != nil {
			return err
		}
		if !need {
			// No git traffic at all: its findings are in the state.
			c.Progress.RepoDone(r, 0, nil)
			c.Log.Debug("repository unchanged", "repo", r.FullName, "reason", why)
			return nil
		}
		if r.Fork {
			if err := forks.waitIdle(ctx); err != nil {
				return err
			}
		} else {
			defer forks.enter()()
		}
		release, err := gate.acquire(ctx, r.SizeKB)
		if err != nil {
			return err
		}
		defer release()
		c.Log.Info("repository started", "repo", r.FullName, "id", r.ID, "reason", why)
		c.Progress.RepoStarted(r)
		defer func() { c.Progress.RepoDone(r, received, err) }()
		synced, err := c.Mirror.Sync(ctx, r)
		if err != nil {
			if ctx.Err() != nil {
				// The process is stopping (the repository goes back to the
				// queue) or the lease ran out (the queue records it).
				return err
			}
			if rerr := rs.RecordFailure(ctx, r, round, err.Error()); rerr != nil {
				return errors.Join(err, rerr)
			}
			return err
		}
		received = synced.Received
		res, err := rs.ScanRepo(ctx, r, synced.Path, round)
		if err != nil {
			return err // recorded by ScanRepo
		}
		c.Log.Debug("repository scan", "repo", r.FullName, "mode", res.Mode, "reason", res.Reason,
			"received_bytes", received, "blobs", res.Stats.Blobs, "known_clean", res.Stats.KnownClean,
			"findings", len(res.Findings))
		mu.Lock()
		fresh.Add(res.Findings...)
		mu.Unlock()
		return nil
	}
	rr, err := RunRound(ctx, RoundOptions{
		DSN: c.DSN, Round: c.Round, Workers: c.Workers, Lease: c.Lease,
		List: list, Scan: scan, Log: c.Log,
		OnEvent: func(e Event) {
			if e.Kind == EventListed {
				c.Progress.Round(e.Total)
			}
		},
	})
	c.Progress.Finish()
	if err != nil {
		return nil, err
	}
	rep, err := Report(ctx, c.Store, rr.Repos, RoundInfo{ID: rr.ID, At: rr.Started})
	if err != nil {
		return nil, err
	}
	mergeQueueFailures(rep, rr)
	out := &Outcome{Report: rep, Round: rr, Fresh: fresh.Findings()}
	if n := len(rep.Failed); n > 0 {
		return out, fmt.Errorf("%d of %d: %w", n, len(rr.Repos), ErrRepos)
	}
	return out, nil
}

// mergeQueueFailures adds to the report the repositories the round's
// queue recorded as failed that the scan state could not (a scan that
// overran its lease, a worker that died three times on it): the report
// names every repository that was not scanned this round, with the best
// reason known.
func mergeQueueFailures(rep *OrgReport, rr RoundResult) {
	if len(rr.Failed) == 0 {
		return
	}
	names := map[int64]string{}
	for _, r := range rr.Repos {
		names[r.ID] = r.FullName
	}
	known := map[int64]int{}
	for i, f := range rep.Failed {
		known[f.ID] = i
	}
	ids := make([]int64, 0, len(rr.Failed))
	for id := range rr.Failed {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		reason := rr.Failed[id]
		if i, ok := known[id]; ok {
			if rep.Failed[i].Reason == "not scanned" {
				rep.Failed[i].Reason = reason
			}
			continue
		}
		rep.Failed = append(rep.Failed, RepoFail{ID: id, FullName: names[id], Reason: reason, Round: rr.ID, At: rr.Finished})
		for i := range rep.Repos {
			if rep.Repos[i].ID == id {
				rep.Repos[i].Status, rep.Repos[i].Error = "failed", reason
			}
		}
	}
	rep.Summary.Failed = len(rep.Failed)
}
