package scanner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/leakstop/leakstop/gitdb"
)

// GitOptions control a scan of a git repository by ScanGit. New code
// uses the Sources (HistorySource, RangeSource, StagedSource) instead.
type GitOptions struct {
	Options
	// Range "BASE..HEAD" scans the blobs that the commits of HEAD's
	// history not in BASE's add (what a pull request adds).
	//
	// Deprecated: set Revs (gitdb.BaseHead(base, head)); Range is parsed
	// by ScanGit only.
	Range string
	// Revs, when not zero, scans the blobs that the commits of the range
	// add: see RangeSource.
	Revs gitdb.Range
	// IndexFile, with Staged, reads this index file instead of the
	// repository's own: see StagedSource.
	IndexFile string
	// Staged scans the index against HEAD: what a commit is about to add.
	Staged bool
	// Since keeps only commits made after this time (zero: all).
	Since time.Time
	// Branch scans only this ref's history (a branch, tag or any revision).
	Branch string
	// AllObjects also reports blobs that no scanned commit reaches.
	AllObjects bool
	// AllLocations reports every commit and path that holds a credential,
	// not only the commit that introduced it at each path.
	AllLocations bool
}

// IsGitRepo reports whether path is the top of a git work tree (with a .git
// directory or .git file) or a bare repository.
func IsGitRepo(path string) bool { return gitdb.IsRepo(path) }

// ScanGit scans a git repository: its history (HistorySource), a range
// of it (RangeSource, with Revs or Range) or its staged index
// (StagedSource, with Staged), and merges the findings.
func ScanGit(ctx context.Context, d *Detector, repoPath string, opts GitOptions) (*Result, error) {
	src, err := opts.Source(repoPath)
	if err != nil {
		return nil, err
	}
	return Collect(ctx, d, src)
}

// Source returns the Source that opts describe for the repository at
// repoPath.
func (opts GitOptions) Source(repoPath string) (Source, error) {
	revs := opts.Revs
	if opts.Range != "" {
		if !revs.IsZero() {
			return nil, errors.New("scan git: Range and Revs cannot be combined")
		}
		r, err := gitdb.ParseRange(opts.Range)
		if err != nil {
			return nil, err
		}
		revs = r
	}
	switch {
	case opts.Staged && !revs.IsZero():
		return nil, errors.New("scan git: --staged and --range cannot be combined")
	case opts.Staged:
		return StagedSource{Repo: repoPath, IndexFile: opts.IndexFile, Options: opts.Options}, nil
	case !revs.IsZero():
		return RangeSource{
			Repo: repoPath, Range: revs, Since: opts.Since,
			AllObjects: opts.AllObjects, AllLocations: opts.AllLocations, Options: opts.Options,
		}, nil
	}
	return HistorySource{
		Repo: repoPath, Branch: opts.Branch, Since: opts.Since,
		AllObjects: opts.AllObjects, AllLocations: opts.AllLocations, Options: opts.Options,
	}, nil
}

// HistorySource is a repository's history: every blob of the object
// database is read once, straight from the packs (each object inflated
// once, on all workers), and only the hits are kept, by blob id. Then
// the commits reachable from the refs are walked: identifiers and secrets
// pair within each commit's tree, and each credential at each path is
// attributed to the commit that introduced it. Findings are emitted per
// commit, oldest first.
type HistorySource struct {
	Repo string
	// Branch scans only this revision's history (a branch, tag or any
	// revision); "" scans every ref.
	Branch string
	// Since keeps only commits made after this time (zero: all).
	Since time.Time
	// AllObjects also reports blobs that no scanned commit reaches.
	AllObjects bool
	// AllLocations reports every commit and path that holds a credential,
	// not only the commit that introduced it at each path.
	AllLocations bool
	// Clean, when set, receives the blobs the scan read completely and
	// found no hit in, as RangeSource.Clean does (every blob of the
	// object database is read, reachable or not).
	Clean func(ctx context.Context, blobs []gitdb.Hash) error
	Options
}

// RangeSource is what the commits of a range add (a pull request, a
// push): the commits reachable from Range.Include and not from
// Range.Exclude, the blobs their trees add to their parents' (found by
// diffing trees, equal subtrees skipped), read by point reads. Content
// of the excluded history is not new and is never reported.
type RangeSource struct {
	Repo  string
	Range gitdb.Range
	// Since keeps only commits made after this time (zero: all).
	Since time.Time
	// AllObjects also reports added blobs that no scanned commit holds
	// (those of commits left out by Since).
	AllObjects bool
	// AllLocations reports every commit and path that holds a credential.
	AllLocations bool
	// WholeTrees pairs identifiers and secrets within each commit's
	// whole tree, as HistorySource does, instead of within what the
	// range adds: the blobs of the range's trees that the range does not
	// change are read too (unless KnownClean knows them), and a commit's
	// parents outside the range are compared to tell what it introduced.
	// A secret added beside an identifier committed before the range then
	// pairs with it, and the range's findings are those a history scan
	// attributes to the range's commits. It cannot be combined with
	// AllObjects.
	WholeTrees bool
	// KnownClean, when set, is asked which of the blobs the scan would
	// read are already known to hold no hit under the same rules and
	// detector options (scanned before, by this or another repository's
	// scan); those are not read. It must never answer true for a blob
	// that had any hit: pairing reads every blob with hits. It is called
	// with batches of at most KnownCleanBatch blobs. A blob it knows
	// must still be in the repository: a missing one is an error.
	KnownClean func(ctx context.Context, blobs []gitdb.Hash) (map[gitdb.Hash]bool, error)
	// Clean, when set, receives the blobs this scan read completely and
	// found no hit in (in batches of at most KnownCleanBatch, once the
	// blobs are read): what KnownClean may answer true for later. Blobs
	// skipped (over MaxFileSize, LFS pointers) are not clean.
	Clean func(ctx context.Context, blobs []gitdb.Hash) error
	// AtTips, when set, receives once the scan is done, for every
	// credential (by fingerprint) held at a branch tip of Range.Include,
	// the names of those tips — also for credentials the range did not
	// introduce. With WholeTrees it is complete; without, it knows only
	// the blobs the range read.
	AtTips func(byFingerprint map[string][]string)
	Options
}

// KnownCleanBatch bounds the blobs RangeSource passes to KnownClean and
// Clean in one call.
const KnownCleanBatch = 2000

// StagedSource is what the next commit would add: every blob of the
// index that differs from HEAD's tree (on an unborn branch, every staged
// blob), paired across the staged files. Unchanged files, unstaged
// changes, untracked files and history are not read; symbolic links and
// submodules are skipped.
type StagedSource struct {
	Repo string
	// IndexFile is read instead of the repository's own index when set:
	// git hands hooks a temporary one (GIT_INDEX_FILE) for "git commit
	// -a" and "git commit PATH". A relative path is taken from the
	// current directory, as git does. The caller reads the environment.
	IndexFile string
	Options
}

// Scan implements Source.
func (s HistorySource) Scan(ctx context.Context, d *Detector, emit func([]Finding) error) (Summary, error) {
	g, err := openGitScan(s.Repo, d, s.Options, emit)
	if err != nil {
		return Summary{}, err
	}
	defer g.close()
	g.since, g.allObjects, g.allLocations, g.cleanFn = s.Since, s.AllObjects, s.AllLocations, s.Clean
	if err := g.history(ctx, s.Branch); err != nil {
		return Summary{}, err
	}
	return g.sum, nil
}

// Scan implements Source.
func (s RangeSource) Scan(ctx context.Context, d *Detector, emit func([]Finding) error) (Summary, error) {
	if len(s.Range.Include) == 0 {
		return Summary{}, fmt.Errorf("scan range %s: no commit to include", s.Range)
	}
	g, err := openGitScan(s.Repo, d, s.Options, emit)
	if err != nil {
		return Summary{}, err
	}
	defer g.close()
	if s.WholeTrees && s.AllObjects {
		return Summary{}, fmt.Errorf("scan range %s: WholeTrees and AllObjects cannot be combined", s.Range)
	}
	g.since, g.allObjects, g.allLocations, g.inRange = s.Since, s.AllObjects, s.AllLocations, true
	g.wholeTrees, g.knownClean, g.cleanFn, g.atTipsFn = s.WholeTrees, s.KnownClean, s.Clean, s.AtTips
	if err := g.rangeScan(ctx, s.Range); err != nil {
		return Summary{}, err
	}
	return g.sum, nil
}

// Scan implements Source.
func (s StagedSource) Scan(ctx context.Context, d *Detector, emit func([]Finding) error) (Summary, error) {
	g, err := openGitScan(s.Repo, d, s.Options, emit)
	if err != nil {
		return Summary{}, err
	}
	defer g.close()
	if err := g.staged(ctx, s.IndexFile); err != nil {
		return Summary{}, err
	}
	return g.sum, nil
}
