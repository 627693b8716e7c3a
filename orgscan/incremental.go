package orgscan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/leakstop/leakstop/gitdb"
	"github.com/leakstop/leakstop/scanner"
	"github.com/leakstop/leakstop/state"
)

// RoundInfo names one round of an org scan: every repository listed,
// scanned where needed, and reported.
type RoundInfo struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
}

// The modes of a repository's scan (RepoResult.Mode, the JSON report).
const (
	// ModeFull read the whole history (first scan, new rules, a tip
	// that is gone or rewound).
	ModeFull = "full"
	// ModeIncremental read the commits the new tips add to the old.
	ModeIncremental = "incremental"
	// ModeUnchanged read nothing: the mirror's tips are those scanned.
	ModeUnchanged = "unchanged"
	// ModeEmpty: the repository has no commit.
	ModeEmpty = "empty"
)

// RepoScanner scans the mirrors of an organisation's repositories
// incrementally, recording what it finds in Store (whose state.Open was
// given StateSchema). Its methods are safe for concurrent use, also by
// several processes sharing the store.
type RepoScanner struct {
	Store    state.Store
	Detector *scanner.Detector
	// RulesHash identifies the rules and every detector option that
	// changes what a blob's hits are (rules file, allowlists, decoding):
	// when it changes, every repository is scanned again in full, and
	// blobs known clean under other rules are read again.
	RulesHash string
	// Options are the scan options (workers, max file size, warnings).
	Options scanner.Options
	// MaxPointReads bounds the blobs not known clean that a scan reads
	// one by one (point reads, each resolving its delta chain); beyond
	// it the repository is read in one pass over its packs, as a history
	// scan does, which is many times faster per blob. 0: 5000.
	MaxPointReads int
	// Filter, when set, keeps the findings to record and report (an
	// ignore file, say); it runs after Twilio's published example
	// credentials are left out. Whatever decides it belongs in RulesHash,
	// so that a change rescans what it filtered.
	Filter func([]scanner.Finding) []scanner.Finding
}

// ScanStats is what one scan of a repository read.
type ScanStats struct {
	Commits int64 `json:"commits"`
	// Blobs were read and scanned; Bytes is their size.
	Blobs int64 `json:"blobs"`
	Bytes int64 `json:"bytes"`
	// KnownClean blobs were skipped: the organisation had scanned them
	// with no hit under the same rules.
	KnownClean int64 `json:"known_clean"`
	// NewClean blobs were read, had no hit, and joined the known-clean set.
	NewClean     int64 `json:"new_clean"`
	SkippedLarge int64 `json:"skipped_large,omitempty"`
	// DroppedLocations were recorded before and are no longer reachable
	// (a full rescan after a force push or a deleted branch).
	DroppedLocations int64 `json:"dropped_locations,omitempty"`
	DurationMS       int64 `json:"duration_ms"`
}

// RepoResult is the outcome of ScanRepo.
type RepoResult struct {
	Repo Repo
	// Findings are what this scan found, merged per credential, secrets
	// in memory only (for --revoke): all of the repository's after a full
	// scan, the new commits' after an incremental one. Never store them.
	Findings []scanner.Finding
	Stats    ScanStats
	// Full is true when the whole history was read (Mode ModeFull).
	Full   bool
	Mode   string
	Reason string
	Notes  []string
	// PublishedExamples counts the findings left out as Twilio's
	// published example credentials.
	PublishedExamples int
}

// RepoError is a repository that could not be scanned; ScanRepo records
// it before returning it.
type RepoError struct {
	Repo string
	Err  error
}

func (e *RepoError) Error() string { return "scan repository " + e.Repo + ": " + e.Err.Error() }
func (e *RepoError) Unwrap() error { return e.Err }

func (s *RepoScanner) check() error {
	switch {
	case s.Store == nil:
		return errors.New("scan repository: no state store")
	case s.Detector == nil:
		return errors.New("scan repository: no detector")
	case s.RulesHash == "":
		return errors.New("scan repository: no rules hash")
	}
	return nil
}

// NeedsScan reports whether a repository must be fetched and scanned
// this round, and why. It is false, and the repository costs no git
// traffic at all, when its pushed_at is the one last scanned, under the
// same rules, and that scan succeeded.
func (s *RepoScanner) NeedsScan(ctx context.Context, r Repo) (bool, string, error) {
	if err := s.check(); err != nil {
		return false, "", err
	}
	var row repoRow
	err := s.Store.Tx(ctx, func(tx state.Tx) error {
		var err error
		row, err = loadRepo(ctx, tx, r.ID)
		return err
	})
	if err != nil {
		return false, "", err
	}
	switch {
	case !row.scannedSuccessfully && row.Error != "":
		return true, "never scanned successfully (last error: " + row.Error + ")", nil
	case !row.scannedSuccessfully:
		return true, "never scanned", nil
	case row.Error != "":
		return true, "last scan failed: " + row.Error, nil
	case row.RulesHash != s.RulesHash:
		return true, reasonRules, nil
	case !row.PushedAt.Equal(r.PushedAt.UTC().Truncate(time.Microsecond)):
		return true, "pushed since the last scan", nil
	}
	return false, "unchanged since " + row.ScannedAt.Format(time.RFC3339), nil
}

// ScanRepo scans the mirror at mirrorPath of repository r and records
// the result. It reads the mirror's ref tips and compares them with the
// tips of the last successful scan: unchanged tips read nothing; new
// commits are scanned incrementally (new tips minus old, pairing within
// whole trees, so a secret added beside an older identifier pairs with
// it); a first scan, new rules, or an old tip that is missing or no
// longer reachable from the new tips (a force push, a deleted branch)
// scan the whole history and replace the repository's locations. Blobs
// the organisation already scanned with no hit are skipped; blobs read
// clean join that set. Tips, pushed_at and the rules hash are recorded
// only after a successful scan; a failure is recorded (RecordFailure)
// and returned as a *RepoError, and the repository is scanned again next
// round.
func (s *RepoScanner) ScanRepo(ctx context.Context, r Repo, mirrorPath string, round RoundInfo) (RepoResult, error) {
	if err := s.check(); err != nil {
		return RepoResult{}, err
	}
	res, err := s.scanRepo(ctx, r, mirrorPath, round)
	if err != nil {
		if ctx.Err() == nil {
			if rerr := s.RecordFailure(ctx, r, round, err.Error()); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		return RepoResult{Repo: r}, &RepoError{Repo: r.FullName, Err: err}
	}
	return res, nil
}

func (s *RepoScanner) scanRepo(ctx context.Context, r Repo, mirrorPath string, round RoundInfo) (RepoResult, error) {
	start := time.Now()
	res := RepoResult{Repo: r}
	db, err := gitdb.Open(mirrorPath)
	if err != nil {
		return res, fmt.Errorf("open mirror: %w", err)
	}
	defer db.Close()
	tips, err := db.Tips()
	if err != nil {
		return res, err
	}
	newTips := map[string]string{}
	var include []string
	// branchOf maps the range's revisions to the branch they name, for
	// AtTips: a range scan counts every included revision as a tip, a
	// history scan only branches.
	branchOf := map[string]string{}
	for _, t := range tips {
		newTips[t.Name] = t.Commit.String()
		if t.Name == "HEAD" && !t.Branch {
			continue // a symbolic HEAD is its branch's tip
		}
		rev := revisionOf(db, t)
		include = append(include, rev)
		if t.Branch {
			branchOf[rev] = t.Name
		}
	}
	slices.Sort(include)
	if len(include) == 0 {
		include = uniqueCommits(newTips)
	}
	var row repoRow
	if err := s.Store.Tx(ctx, func(tx state.Tx) error {
		var err error
		row, err = loadRepo(ctx, tx, r.ID)
		return err
	}); err != nil {
		return res, err
	}
	mode, reason, err := s.plan(ctx, db, row, newTips)
	if err != nil {
		return res, err
	}
	res.Mode, res.Reason, res.Full = mode, reason, mode == ModeFull || mode == ModeEmpty
	var rng gitdb.Range
	if mode == ModeFull || mode == ModeIncremental {
		rng.Include = include
		if mode == ModeIncremental {
			rng.Exclude = uniqueCommits(row.Tips)
		}
	}
	var atTips map[string][]string
	if len(rng.Include) > 0 {
		// Forks, pushes and rescans after a force push find most blobs
		// known clean and read the rest by point reads; a repository
		// whose blobs are likely new (first scan or new rules, not a
		// fork) is read in one pass over its packs, which is many times
		// faster than point reads of every blob.
		bulk := mode == ModeFull && !r.Fork && (reason == reasonRules || !row.scannedSuccessfully)
		if !bulk {
			atTips, err = s.read(ctx, mirrorPath, rng, &res)
			if err == nil {
				atTips = branchTips(atTips, branchOf, res.Findings)
			}
			if errors.Is(err, errManyUnknown) {
				bulk, atTips = true, nil
				mode, res.Mode, res.Full = ModeFull, ModeFull, true
				reason += fmt.Sprintf("; over %d blobs not known clean: read in one pass", s.maxPointReads())
				res.Reason = reason
			} else if err != nil {
				return res, err
			}
		}
		if bulk {
			if err := s.readAll(ctx, mirrorPath, &res); err != nil {
				return res, err
			}
		}
	}
	res.Findings = s.filter(res.Findings, &res)
	res.Stats.DurationMS = time.Since(start).Milliseconds()
	err = s.Store.Tx(ctx, func(tx state.Tx) error {
		if err := touchRepo(ctx, tx, r, round.At); err != nil {
			return err
		}
		// Re-read inside the transaction: another worker may have
		// scanned the repository meanwhile; generations only grow.
		cur, err := loadRepo(ctx, tx, r.ID)
		if err != nil {
			return err
		}
		gen := cur.Gen + 1
		if err := recordFindings(ctx, tx, s.Store, r.ID, gen, res.Findings, round); err != nil {
			return err
		}
		if res.Full {
			if res.Stats.DroppedLocations, err = dropStaleLocations(ctx, tx, r.ID, gen); err != nil {
				return err
			}
		}
		if atTips != nil {
			if err := s.updateAtTips(ctx, tx, r.ID, atTips); err != nil {
				return err
			}
		}
		cur.PushedAt, cur.Tips, cur.RulesHash = r.PushedAt.UTC(), newTips, s.RulesHash
		cur.ScannedAt, cur.ScannedRound, cur.Gen = round.At, round.ID, gen
		cur.Mode, cur.Reason, cur.Stats = mode, reason, res.Stats
		return saveScan(ctx, tx, cur, round.At)
	})
	if err != nil {
		return res, err
	}
	return res, nil
}

// reasonRules is the reason of a rescan under new rules.
const reasonRules = "rules changed"

// defaultMaxPointReads is RepoScanner.MaxPointReads's default.
const defaultMaxPointReads = 5000

func (s *RepoScanner) maxPointReads() int64 {
	if s.MaxPointReads > 0 {
		return int64(s.MaxPointReads)
	}
	return defaultMaxPointReads
}

// errManyUnknown stops a range scan that would read too many blobs by
// point reads.
var errManyUnknown = errors.New("too many blobs not known clean")

// read scans rng with a range scan pairing within whole trees, skipping
// the blobs known clean, and returns the branch tips holding each
// credential. It gives up with errManyUnknown when more than
// MaxPointReads blobs are not known clean.
func (s *RepoScanner) read(ctx context.Context, mirrorPath string, rng gitdb.Range, res *RepoResult) (map[string][]string, error) {
	rid, err := rulesID(ctx, s.Store, s.RulesHash)
	if err != nil {
		return nil, err
	}
	var known, unknown, fresh atomic.Int64
	var atTips map[string][]string
	src := scanner.RangeSource{
		Repo: mirrorPath, Range: rng, WholeTrees: true, Options: s.Options,
		KnownClean: func(ctx context.Context, hs []gitdb.Hash) (map[gitdb.Hash]bool, error) {
			m, err := knownClean(ctx, s.Store, rid, hs)
			known.Add(int64(len(m)))
			if unknown.Add(int64(len(hs)-len(m))) > s.maxPointReads() {
				return nil, errManyUnknown
			}
			return m, err
		},
		Clean: func(ctx context.Context, hs []gitdb.Hash) error {
			fresh.Add(int64(len(hs)))
			return addClean(ctx, s.Store, rid, hs)
		},
		AtTips: func(m map[string][]string) { atTips = m },
	}
	out, err := scanner.Collect(ctx, s.Detector, src)
	if err != nil {
		return nil, err
	}
	res.Findings, res.Notes = out.Findings, append(res.Notes, out.Notes...)
	res.Stats = ScanStats{
		Commits: out.Stats.Commits, Blobs: out.Stats.Blobs, Bytes: out.Stats.Bytes,
		KnownClean: known.Load(), NewClean: fresh.Load(), SkippedLarge: out.Stats.SkippedLarge,
	}
	if atTips == nil {
		atTips = map[string][]string{}
	}
	return atTips, nil
}

// readAll scans the mirror's whole history in one pass over its object
// database, recording the blobs it reads clean.
func (s *RepoScanner) readAll(ctx context.Context, mirrorPath string, res *RepoResult) error {
	rid, err := rulesID(ctx, s.Store, s.RulesHash)
	if err != nil {
		return err
	}
	var fresh atomic.Int64
	src := scanner.HistorySource{
		Repo: mirrorPath, Options: s.Options,
		Clean: func(ctx context.Context, hs []gitdb.Hash) error {
			fresh.Add(int64(len(hs)))
			return addClean(ctx, s.Store, rid, hs)
		},
	}
	out, err := scanner.Collect(ctx, s.Detector, src)
	if err != nil {
		return err
	}
	res.Findings, res.Notes = out.Findings, append(res.Notes, out.Notes...)
	res.Stats = ScanStats{
		Commits: out.Stats.Commits, Blobs: out.Stats.Blobs, Bytes: out.Stats.Bytes,
		NewClean: fresh.Load(), SkippedLarge: out.Stats.SkippedLarge,
	}
	return nil
}

// filter leaves out Twilio's published example credentials, then
// applies s.Filter.
func (s *RepoScanner) filter(fs []scanner.Finding, res *RepoResult) []scanner.Finding {
	set := s.Detector.Rules()
	kept := fs[:0:0]
	for _, f := range fs {
		if set != nil && set.IsPublishedExample(f.Secret.Reveal()) {
			res.PublishedExamples++
			continue
		}
		kept = append(kept, f)
	}
	if s.Filter != nil {
		kept = s.Filter(kept)
	}
	return kept
}

// plan chooses how to scan a repository whose mirror has tips newTips.
func (s *RepoScanner) plan(ctx context.Context, db *gitdb.DB, row repoRow, newTips map[string]string) (mode, reason string, err error) {
	switch {
	case len(newTips) == 0:
		return ModeEmpty, "the repository has no commit", nil
	case !row.scannedSuccessfully:
		return ModeFull, "first scan", nil
	case row.RulesHash != s.RulesHash:
		return ModeFull, reasonRules, nil
	}
	oldTips := uniqueCommits(row.Tips)
	if len(oldTips) == 0 {
		return ModeFull, "first scan with commits", nil
	}
	for _, c := range oldTips {
		ok, err := db.Has(plumbing.NewHash(c))
		if err != nil {
			return "", "", err
		}
		if !ok {
			return ModeFull, "a scanned tip (" + c[:12] + ") is gone: force push or deleted branch", nil
		}
	}
	if maps.Equal(row.Tips, newTips) {
		return ModeUnchanged, "tips unchanged", nil
	}
	// Is everything scanned before still reachable from the new tips?
	gone, err := db.RangeCommits(ctx, hashes(oldTips), hashes(uniqueCommits(newTips)))
	if err != nil {
		return "", "", err
	}
	if len(gone) > 0 {
		return ModeFull, fmt.Sprintf("%d scanned commit(s) no longer reachable: force push or deleted branch", len(gone)), nil
	}
	return ModeIncremental, "new commits", nil
}

// updateAtTips sets, for the repository's locations, the branch tips that
// still hold their credential, from the scan's answer by fingerprint.
func (s *RepoScanner) updateAtTips(ctx context.Context, tx state.Tx, repoID int64, byFP map[string][]string) error {
	if _, err := tx.Exec(ctx, `UPDATE orgscan_locations SET at_tips = '[]' WHERE repo_id = ?`, repoID); err != nil {
		return fmt.Errorf("update branch tips of repository %d: %w", repoID, err)
	}
	for _, fp := range slices.Sorted(maps.Keys(byFP)) {
		tips := slices.Clone(byFP[fp])
		slices.Sort(tips)
		b, err := json.Marshal(tips)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE orgscan_locations SET at_tips = ? WHERE repo_id = ? AND finding_key = ?`,
			string(b), repoID, findingKey(s.Store, fp)); err != nil {
			return fmt.Errorf("update branch tips of repository %d: %w", repoID, err)
		}
	}
	return nil
}

// RecordFailure records that repository r could not be fetched or
// scanned this round, and why: it is named in the report and scanned
// again next round. The recorded tips are kept, so the next scan reads
// what changed since the last successful one. reason must hold no secret
// (a token in a URL): it is stored and reported as given.
func (s *RepoScanner) RecordFailure(ctx context.Context, r Repo, round RoundInfo, reason string) error {
	if s.Store == nil {
		return errors.New("record failure: no state store")
	}
	if reason == "" {
		reason = "unknown error"
	}
	if len(reason) > 2000 {
		reason = reason[:2000] + "…"
	}
	return s.Store.Tx(ctx, func(tx state.Tx) error {
		if err := touchRepo(ctx, tx, r, round.At); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE orgscan_repos SET error = ?, error_round = ?, error_at = ? WHERE id = ?`,
			reason, round.ID, micros(round.At), r.ID)
		if err != nil {
			return fmt.Errorf("record failure of repository %s: %w", r.FullName, err)
		}
		return nil
	})
}
