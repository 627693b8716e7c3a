package scanner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/leakstop/leakstop/gitdb"
)

// lfsPointerPrefix starts every Git LFS pointer file.
var lfsPointerPrefix = []byte("version https://git-lfs.github.com/spec/v1")

// gitScan is the state of one scan of a git source.
type gitScan struct {
	d    *Detector
	db   *gitdb.DB
	opts Options
	emit func([]Finding) error
	tr   *tracer
	sum  Summary

	since                             time.Time
	allObjects, allLocations, inRange bool

	// wholeTrees, knownClean and cleanFn are RangeSource's (git_known.go).
	wholeTrees bool
	knownClean func(context.Context, []gitdb.Hash) (map[gitdb.Hash]bool, error)
	cleanFn    func(context.Context, []gitdb.Hash) error
	atTipsFn   func(map[string][]string)
	// clean collects the blobs read with no hit, when cleanFn is set.
	clean []gitdb.Hash

	mu sync.Mutex
	// hits holds the rule hits of every scanned blob that had any.
	hits map[gitdb.Hash][]Hit
	// binary marks the blobs with hits scanned as binary content.
	binary map[gitdb.Hash]bool
	lfs    int64
	// commits are the commits of the scanned history or range.
	commits map[gitdb.Hash]*gitdb.Commit
	walk    *gitdb.TreeWalker
	// gitlinks are the submodules a range adds or changes.
	gitlinks map[string]bool
	// snaps memoises pairing by the set of (path, blob) with hits.
	snaps map[string]*snapshot
	empty *snapshot
}

func openGitScan(repoPath string, d *Detector, opts Options, emit func([]Finding) error) (*gitScan, error) {
	db, err := gitdb.Open(repoPath)
	if err != nil {
		return nil, fmt.Errorf("open git repository %s: %w", repoPath, err)
	}
	g := &gitScan{
		d: d, db: db, opts: opts, emit: emit,
		hits:     map[gitdb.Hash][]Hit{},
		binary:   map[gitdb.Hash]bool{},
		commits:  map[gitdb.Hash]*gitdb.Commit{},
		gitlinks: map[string]bool{},
		snaps:    map[string]*snapshot{},
		empty:    &snapshot{byKey: map[fpPath][]int{}, fps: map[string]bool{}},
	}
	g.walk = db.NewTreeWalker(g.hit)
	if opts.Trace != nil {
		g.tr = newTracer(opts.Trace)
	}
	return g, nil
}

func (g *gitScan) close() {
	g.tr.phase("done")
	_ = g.db.Close()
}

// hit reports whether blob h had hits. It is read only once the blobs
// are scanned.
func (g *gitScan) hit(h gitdb.Hash) bool {
	_, ok := g.hits[h]
	return ok
}

// scanBlob scans one blob's bytes and records its hits. It is safe for
// concurrent use; data is not retained.
func (g *gitScan) scanBlob(h gitdb.Hash, data []byte) {
	var st Stats
	st.Blobs = 1
	defer func() {
		g.mu.Lock()
		addStats(&g.sum.Stats, st)
		g.sum.Stats.Blobs += st.Blobs
		g.mu.Unlock()
	}()
	if max := g.opts.MaxFileSize; max > 0 && int64(len(data)) > max {
		g.opts.warn("skipped blob %s: %d bytes is over the %d-byte limit (--max-file-size)", h, len(data), max)
		st.SkippedLarge++
		return
	}
	if bytes.HasPrefix(data, lfsPointerPrefix) {
		st.SkippedOther++
		g.mu.Lock()
		g.lfs++
		g.mu.Unlock()
		return
	}
	hits, ss := g.d.sliceHits(data)
	st.Files++
	st.Bytes += int64(len(data))
	if ss.binary {
		st.Binary++
		g.mu.Lock()
		g.binary[h] = true
		g.mu.Unlock()
	}
	if len(hits) == 0 {
		g.noHit(h)
		return
	}
	g.mu.Lock()
	g.hits[h] = hits
	g.mu.Unlock()
}

// scanBlobStream scans one large blob as a stream, in bounded memory,
// and records its hits.
func (g *gitScan) scanBlobStream(h gitdb.Hash, r io.Reader, size int64) error {
	st := Stats{Blobs: 1}
	defer func() {
		g.mu.Lock()
		addStats(&g.sum.Stats, st)
		g.sum.Stats.Blobs += st.Blobs
		g.mu.Unlock()
	}()
	if max := g.opts.MaxFileSize; max > 0 && size > max {
		g.opts.warn("skipped blob %s: %d bytes is over the %d-byte limit (--max-file-size)", h, size, max)
		st.SkippedLarge++
		_, err := io.Copy(io.Discard, r)
		return err
	}
	hits, ss, err := g.d.streamHits(r, size)
	if err != nil {
		return err
	}
	st.Files++
	st.Bytes += ss.bytes
	g.mu.Lock()
	defer g.mu.Unlock()
	if ss.binary {
		st.Binary++
		g.binary[h] = true
	}
	if len(hits) > 0 {
		g.hits[h] = hits
	} else if g.cleanFn != nil {
		g.clean = append(g.clean, h)
	}
	return nil
}

// history scans every blob of the repository once, then walks the
// commits reachable from the refs (or branch) to pair and attribute the
// hits.
func (g *gitScan) history(ctx context.Context, branch string) error {
	shallow, err := g.db.Shallow()
	if err != nil {
		return err
	}
	tips, err := g.tips(branch)
	if err != nil {
		return err
	}
	g.tr.phase("refs")
	g.db.SetLargeBlobStream(2*streamWindow, g.scanBlobStream)
	if err := g.db.EachBlob(ctx, g.opts.workers(), g.scanBlob); err != nil {
		return err
	}
	g.tr.phase("blobs")
	if err := g.flushClean(ctx); err != nil {
		return err
	}
	if err := g.db.IndexTrees(ctx, g.opts.workers(), g.hit); err != nil {
		return err
	}
	g.tr.phase("trees")
	starts := make([]gitdb.Hash, 0, len(tips))
	for _, t := range tips {
		starts = append(starts, t.Commit)
	}
	order, err := g.db.Reachable(ctx, starts)
	if err != nil {
		return err
	}
	for _, c := range order {
		g.commits[c.Hash] = c
	}
	g.sum.Stats.Commits = int64(len(order))
	g.tr.phase("commits")
	if len(shallow) > 0 {
		g.sum.Notes = append(g.sum.Notes, fmt.Sprintf("the repository is a shallow clone: history is cut at %d commit(s); older commits were not scanned (git fetch --unshallow to scan them)", len(shallow)))
	}
	return g.attribute(ctx, g.afterSince(order), tips)
}

// afterSince keeps the commits made after g.since.
func (g *gitScan) afterSince(cs []*gitdb.Commit) []*gitdb.Commit {
	if g.since.IsZero() {
		return slices.Clone(cs)
	}
	var out []*gitdb.Commit
	for _, c := range cs {
		if c.When.After(g.since) {
			out = append(out, c)
		}
	}
	return out
}

// tips lists the refs whose history is scanned: branch alone when set.
func (g *gitScan) tips(branch string) ([]gitdb.Tip, error) {
	if branch == "" {
		return g.db.Tips()
	}
	c, err := g.db.ResolveCommit(branch)
	if err != nil {
		return nil, fmt.Errorf("resolve branch %q: %w", branch, err)
	}
	return []gitdb.Tip{{Name: branch, Commit: c, Branch: true}}, nil
}

// rangeScan scans what the commits of r add.
func (g *gitScan) rangeScan(ctx context.Context, r gitdb.Range) error {
	if _, err := g.db.Shallow(); err != nil {
		return err
	}
	resolve := func(revs []string) ([]gitdb.Hash, error) {
		var out []gitdb.Hash
		for _, rev := range revs {
			h, err := g.db.ResolveCommit(rev)
			if err != nil {
				return nil, fmt.Errorf("resolve %q: %w", rev, err)
			}
			out = append(out, h)
		}
		return out, nil
	}
	exclude, err := resolve(r.Exclude)
	if err != nil {
		return err
	}
	include, err := resolve(r.Include)
	if err != nil {
		return err
	}
	commits, err := g.db.RangeCommits(ctx, include, exclude)
	if err != nil {
		return err
	}
	for _, c := range commits {
		g.commits[c.Hash] = c
	}
	g.sum.Stats.Commits = int64(len(commits))
	g.tr.phase("commits")
	var blobs []gitdb.Hash
	if g.wholeTrees {
		blobs, err = g.treeBlobs(ctx, commits, include)
	} else {
		var gitlinks []string
		blobs, gitlinks, err = g.db.AddedBlobs(ctx, commits)
		for _, p := range gitlinks {
			g.gitlinks[p] = true
		}
	}
	if err != nil {
		return err
	}
	g.tr.phase("trees")
	if blobs, err = g.skipKnownClean(ctx, blobs); err != nil {
		return err
	}
	if err := g.db.ReadBlobs(ctx, g.opts.workers(), blobs, g.scanBlob); err != nil {
		return err
	}
	g.tr.phase("blobs")
	if err := g.flushClean(ctx); err != nil {
		return err
	}
	tips := make([]gitdb.Tip, len(include))
	for i, h := range include {
		tips[i] = gitdb.Tip{Name: r.Include[i], Commit: h, Branch: true}
	}
	return g.attribute(ctx, g.afterSince(commits), tips)
}

// staged scans the blobs of the index that differ from HEAD's tree.
func (g *gitScan) staged(ctx context.Context, indexFile string) error {
	files, _, err := g.stagedFiles(ctx, indexFile)
	if err != nil {
		return err
	}
	if len(files) > 0 {
		if found := g.d.Pair(files); len(found) > 0 {
			if err := g.emit(found); err != nil {
				return err
			}
		}
	}
	g.notes()
	return nil
}

// stagedFiles scans the blobs of the index that differ from HEAD's tree
// and returns the hits of the staged files that have any, and how many
// files are staged.
func (g *gitScan) stagedFiles(ctx context.Context, indexFile string) ([]FileHits, int, error) {
	changed, err := g.db.StagedChanges(indexFile)
	if err != nil {
		return nil, 0, err
	}
	g.tr.phase("index")
	seen := map[gitdb.Hash]bool{}
	var blobs []gitdb.Hash
	for _, f := range changed {
		if !seen[f.Blob] {
			seen[f.Blob] = true
			blobs = append(blobs, f.Blob)
		}
	}
	if err := g.db.ReadBlobs(ctx, g.opts.workers(), blobs, g.scanBlob); err != nil {
		return nil, 0, err
	}
	g.tr.phase("blobs")
	var files []FileHits
	for _, f := range changed {
		if h := g.hits[f.Blob]; len(h) > 0 {
			files = append(files, FileHits{Path: f.Path, Hits: h, Blob: f.Blob.String(), Binary: g.binary[f.Blob], State: StateStaged})
		}
	}
	return files, len(changed), nil
}

func (g *gitScan) notes() {
	if g.lfs > 0 {
		g.sum.Notes = append(g.sum.Notes, fmt.Sprintf("%d Git LFS pointer file(s) were not scanned: their content is stored outside the repository", g.lfs))
	}
	links := map[string]bool{}
	for p := range g.walk.Gitlinks() {
		links[p] = true
	}
	for p := range g.gitlinks {
		links[p] = true
	}
	if len(links) > 0 {
		paths := make([]string, 0, len(links))
		for p := range links {
			paths = append(paths, p)
		}
		slices.Sort(paths)
		const show = 10
		more := ""
		if len(paths) > show {
			more = fmt.Sprintf(" and %d more", len(paths)-show)
			paths = paths[:show]
		}
		g.sum.Notes = append(g.sum.Notes, fmt.Sprintf("submodules are not followed; scan them separately: %s%s", strings.Join(paths, ", "), more))
	}
}
