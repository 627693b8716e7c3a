package scanner

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/sourcegraph/conc/pool"

	"github.com/leakstop/leakstop/internal/gitcmd"
)

// WorktreeSource is what a repository holds that is not committed, as
// one snapshot: the staged changes (the index's blobs that differ from
// HEAD's tree, State "staged"), the files of the work tree that differ
// from the index (State "modified") and the untracked files that are not
// ignored (State "untracked": .gitignore, .git/info/exclude and
// core.excludesFile are honoured). The work tree's state comes from
// "git status --porcelain -z --untracked-files=all" (git must be
// installed: without it the scan fails, it never reports clean); staged
// content is read from the object database. Symbolic links and
// submodules are skipped; deleted files hold nothing.
type WorktreeSource struct {
	Repo string
	Options
}

// Scan implements Source.
func (s WorktreeSource) Scan(ctx context.Context, d *Detector, emit func([]Finding) error) (Summary, error) {
	g, err := openGitScan(s.Repo, d, s.Options, emit)
	if err != nil {
		return Summary{}, err
	}
	defer g.close()
	files, nStaged, err := g.stagedFiles(ctx, "")
	if err != nil {
		return Summary{}, err
	}
	changes, err := worktreeChanges(ctx, s.Repo)
	if err != nil {
		return Summary{}, err
	}
	sum := g.sum
	sum.Stats.Staged = int64(nStaged)
	var mu sync.Mutex
	var nested []string
	p := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError().WithMaxGoroutines(s.workers())
	for _, c := range changes {
		if c.state == StateModified {
			sum.Stats.Modified++
		} else {
			sum.Stats.Untracked++
		}
		full := filepath.Join(s.Repo, filepath.FromSlash(c.path))
		fi, err := os.Lstat(full)
		switch {
		case err != nil && os.IsNotExist(err):
			continue // gone since git looked
		case err == nil && fi.Mode()&fs.ModeSymlink != 0:
			sum.Stats.Symlinks++
			continue
		case err == nil && fi.IsDir():
			// An untracked folder git does not descend into: a nested
			// repository. Said, never silently passed over.
			nested = append(nested, c.path)
			continue
		}
		p.Go(func(ctx context.Context) error {
			fh, st, err := scanOneFile(ctx, d, full, c.path, s.Options)
			mu.Lock()
			defer mu.Unlock()
			addStats(&sum.Stats, st)
			if len(fh.Hits) > 0 {
				fh.State = c.state
				files = append(files, fh)
			}
			return err
		})
	}
	if err := p.Wait(); err != nil {
		return Summary{}, err
	}
	if len(files) > 0 {
		if found := d.Pair(files); len(found) > 0 {
			if err := emit(found); err != nil {
				return Summary{}, err
			}
		}
	}
	g.sum = sum
	if len(nested) > 0 {
		g.sum.Notes = append(g.sum.Notes, fmt.Sprintf("nested git repositories in the work tree are not scanned; scan them separately: %s", strings.Join(nested, ", ")))
	}
	g.notes()
	return g.sum, nil
}

// worktreeChange is a file of the work tree that is not as committed or
// staged.
type worktreeChange struct {
	path, state string
}

// worktreeChanges lists the modified and untracked files of the work
// tree at repo, as git status says.
func worktreeChanges(ctx context.Context, repo string) ([]worktreeChange, error) {
	out, err := gitcmd.Repo{Dir: repo}.Output(ctx, []string{"GIT_OPTIONAL_LOCKS=0"},
		"-c", "core.quotePath=false", "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", "--ignore-submodules=all")
	if err != nil {
		return nil, fmt.Errorf("list the work tree's changes of %s: %w", repo, err)
	}
	var changes []worktreeChange
	for _, rec := range bytes.Split(out, []byte{0}) {
		if len(rec) < 4 || rec[2] != ' ' {
			continue
		}
		x, y, path := rec[0], rec[1], string(rec[3:])
		switch {
		case x == '?' && y == '?':
			changes = append(changes, worktreeChange{path, StateUntracked})
		case y == 'M' || y == 'T' || x == 'U' || y == 'U' || (x == 'A' && y == 'A'):
			changes = append(changes, worktreeChange{path, StateModified})
		}
	}
	return changes, nil
}

// LimitSource is Src with its locations limited to the files at or
// under Prefix (a slash-separated path relative to the scanned root;
// "" or "." keeps all): a scan of a repository's subfolder. Pairing
// still sees the whole snapshot; a finding with no location left is
// dropped.
type LimitSource struct {
	Src    Source
	Prefix string
}

// Scan implements Source.
func (s LimitSource) Scan(ctx context.Context, d *Detector, emit func([]Finding) error) (Summary, error) {
	if s.Prefix == "" || s.Prefix == "." {
		return s.Src.Scan(ctx, d, emit)
	}
	return s.Src.Scan(ctx, d, func(fs []Finding) error {
		var keep []Finding
		for _, f := range fs {
			var locs []Location
			for _, l := range f.Locations {
				if under(l.Path, s.Prefix) {
					locs = append(locs, l)
				}
			}
			if len(locs) > 0 {
				f.Locations = locs
				keep = append(keep, f)
			}
		}
		if len(keep) == 0 {
			return nil
		}
		return emit(keep)
	})
}

func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, strings.TrimSuffix(prefix, "/")+"/")
}

// Sources scans each source in turn, as one: the summaries add up.
type Sources []Source

// Scan implements Source.
func (ss Sources) Scan(ctx context.Context, d *Detector, emit func([]Finding) error) (Summary, error) {
	var sum Summary
	for _, s := range ss {
		one, err := s.Scan(ctx, d, emit)
		if err != nil {
			return Summary{}, err
		}
		addStats(&sum.Stats, one.Stats)
		sum.Stats.Commits += one.Stats.Commits
		sum.Stats.Blobs += one.Stats.Blobs
		sum.Stats.Staged += one.Stats.Staged
		sum.Stats.Modified += one.Stats.Modified
		sum.Stats.Untracked += one.Stats.Untracked
		for _, n := range one.Notes {
			if !containsString(sum.Notes, n) {
				sum.Notes = append(sum.Notes, n)
			}
		}
	}
	return sum, nil
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
