package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"
)

// GitOptions control a scan of a git repository.
type GitOptions struct {
	Options
	// Range "BASE..HEAD" scans the blobs that the commits of HEAD's
	// history not in BASE's add (what a pull request adds).
	Range string
	// IndexFile, with Staged, reads this index file instead of the
	// repository's own: git hands hooks a temporary one (GIT_INDEX_FILE)
	// for "git commit -a" and "git commit PATH". A relative path is taken
	// from the current directory, as git does.
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

// lfsPointerPrefix starts every Git LFS pointer file.
var lfsPointerPrefix = []byte("version https://git-lfs.github.com/spec/v1")

// IsGitRepo reports whether path is the top of a git work tree (with a .git
// directory or .git file) or a bare repository.
func IsGitRepo(path string) bool {
	if fi, err := os.Stat(filepath.Join(path, ".git")); err == nil && (fi.IsDir() || fi.Mode().IsRegular()) {
		return true
	}
	return isBareDir(path)
}

func isBareDir(path string) bool {
	for _, name := range []string{"HEAD", "objects", "refs"} {
		if _, err := os.Stat(filepath.Join(path, name)); err != nil {
			return false
		}
	}
	return true
}

// ScanGit scans a git repository's history: every unique blob once, then
// attributes each finding to the commit that introduced it at its path.
// Identifiers and secrets pair within each commit's tree. A repository
// that cannot be read completely is an error, never a clean result.
func ScanGit(ctx context.Context, d *Detector, repoPath string, opts GitOptions) (*Result, error) {
	if opts.Staged && opts.Range != "" {
		return nil, errors.New("scan git: --staged and --range cannot be combined")
	}
	repo, err := openGitRepo(repoPath)
	if err != nil {
		return nil, fmt.Errorf("open git repository %s: %w", repoPath, err)
	}
	g := &gitScan{
		d: d, repo: repo, st: repo.Storer, opts: opts, path: repoPath,
		hits:    map[plumbing.Hash][]Hit{},
		res:     &Result{},
		commits: map[plumbing.Hash]*gitCommit{},
	}
	g.walk = newTreeWalker(g)
	defer g.closePacks()
	if os.Getenv("LEAKSTOP_GIT_TRACE") != "" {
		g.traceStart = time.Now()
		g.traceLast = g.traceStart
		defer g.trace("done")
	}
	switch {
	case opts.Staged:
		err = g.scanStaged(ctx)
	case opts.Range != "":
		err = g.scanRange(ctx)
	default:
		err = g.scanHistory(ctx)
	}
	if err != nil {
		return nil, err
	}
	return g.res, nil
}

// openGitRepo opens the repository at path. go-git does not follow
// alternates outside the repository (git clone --shared, --reference)
// unless told where they may be: the storage is then built by hand.
func openGitRepo(path string) (*git.Repository, error) {
	_, common, err := gitDirs(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(common, "objects", "info", "alternates")); err != nil {
		return git.PlainOpenWithOptions(path, &git.PlainOpenOptions{EnableDotGitCommonDir: true})
	}
	gitDir, _, _ := gitDirs(path)
	var fs billy.Filesystem = osfs.New(gitDir)
	if common != gitDir {
		fs = dotgit.NewRepositoryFilesystem(fs, osfs.New(common))
	}
	st := filesystem.NewStorageWithOptions(fs, cache.NewObjectLRUDefault(), filesystem.Options{AlternatesFS: osfs.New("/")})
	return git.Open(st, nil)
}

// gitScan is the state of one ScanGit call.
type gitScan struct {
	d    *Detector
	repo *git.Repository
	st   storage.Storer
	opts GitOptions
	path string
	res  *Result

	mu sync.Mutex
	// hits holds the rule hits of every scanned blob that had any.
	hits map[plumbing.Hash][]Hit
	// allBlobs is every blob read by a full scan, to tell a tree naming
	// a missing blob; nil in partial scans.
	allBlobs map[plumbing.Hash]struct{}
	commits  map[plumbing.Hash]*gitCommit
	order    []*gitCommit
	walk     *treeWalker
	lfs      int64
	shallow  map[plumbing.Hash]bool
	// packs are the mapped packs of a full scan.
	packs []*pack
	// ctrees and pcommits hold the trees and commits of the packs, decoded
	// once after the blobs: trees reduced to what attribution needs.
	ctrees   map[plumbing.Hash]*ctree
	pcommits map[plumbing.Hash]*gitCommit
	// lookup are the packs mapped for point reads (git_objects.go).
	lookupOnce sync.Once
	lookup     []*pack
	lookupErr  error
	objDirs    []string
	// traceStart and traceLast time phases for LEAKSTOP_GIT_TRACE.
	traceStart, traceLast time.Time
}

// trace prints a phase's duration when LEAKSTOP_GIT_TRACE is set.
func (g *gitScan) trace(phase string) {
	if g.traceStart.IsZero() {
		return
	}
	now := time.Now()
	fmt.Fprintf(os.Stderr, "leakstop: trace: %-12s %8.1f ms (total %8.1f ms)\n", phase,
		float64(now.Sub(g.traceLast).Microseconds())/1000, float64(now.Sub(g.traceStart).Microseconds())/1000)
	g.traceLast = now
}

// gitCommit is what the attribution needs of a commit.
type gitCommit struct {
	hash    plumbing.Hash
	tree    plumbing.Hash
	parents []plumbing.Hash
	when    time.Time
	// cut is true when the parents are missing (a shallow boundary).
	cut bool
}

// scanBlob scans one blob's bytes and records its hits. It is safe for
// concurrent use; data is not retained.
func (g *gitScan) scanBlob(h plumbing.Hash, data []byte, size int64) {
	var st Stats
	st.Blobs = 1
	defer func() {
		g.mu.Lock()
		addStats(&g.res.Stats, st)
		g.res.Stats.Blobs += st.Blobs
		if g.allBlobs != nil {
			g.allBlobs[h] = struct{}{}
		}
		g.mu.Unlock()
	}()
	if size > g.opts.maxSize() {
		g.opts.warn("skipped blob %s: %d bytes is over the %d-byte limit (--max-file-size)", h, size, g.opts.maxSize())
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
	text := Text(data)
	if text == nil {
		st.SkippedBinary++
		return
	}
	st.Files++
	st.Bytes += int64(len(data))
	hits := g.d.Hits(text)
	if len(hits) == 0 {
		return
	}
	g.mu.Lock()
	g.hits[h] = hits
	g.mu.Unlock()
}

// blobHits returns the cached hits of a blob.
func (g *gitScan) blobHits(h plumbing.Hash) []Hit { return g.hits[h] }

// tips lists the refs whose history is scanned, with the commits they
// point at, and the names of branch tips (for AtTips).
type gitTip struct {
	name   string
	commit plumbing.Hash
	branch bool
}

func (g *gitScan) refTips() ([]gitTip, error) {
	var tips []gitTip
	if g.opts.Branch != "" {
		h, err := g.repo.ResolveRevision(plumbing.Revision(g.opts.Branch))
		if err != nil {
			return nil, fmt.Errorf("resolve branch %q: %w", g.opts.Branch, err)
		}
		c, err := g.peel(*h)
		if err != nil {
			return nil, fmt.Errorf("resolve branch %q: %w", g.opts.Branch, err)
		}
		return []gitTip{{name: g.opts.Branch, commit: c, branch: true}}, nil
	}
	iter, err := g.st.IterReferences()
	if err != nil {
		return nil, fmt.Errorf("read refs: %w", err)
	}
	defer iter.Close()
	err = iter.ForEach(func(r *plumbing.Reference) error {
		name := r.Name()
		if r.Type() == plumbing.SymbolicReference {
			if name != plumbing.HEAD {
				return nil
			}
			// An unborn HEAD (empty repository) is no error.
			rr, err := storer.ResolveReference(g.st, name)
			if errors.Is(err, plumbing.ErrReferenceNotFound) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("resolve HEAD: %w", err)
			}
			r = rr
			c, err := g.peel(r.Hash())
			if err != nil {
				return fmt.Errorf("resolve HEAD: %w", err)
			}
			tips = append(tips, gitTip{name: "HEAD", commit: c})
			return nil
		}
		if r.Hash().IsZero() {
			return fmt.Errorf("ref %s: bad object id", name)
		}
		c, err := g.peel(r.Hash())
		if errors.Is(err, errNotCommit) {
			// A tag of a tree or blob: its blobs are in the object scan.
			return nil
		}
		if err != nil {
			return fmt.Errorf("ref %s: %w", name, err)
		}
		t := gitTip{name: name.String(), commit: c}
		switch {
		case name.IsBranch():
			t.name, t.branch = name.Short(), true
		case name.IsRemote():
			if strings.HasSuffix(name.String(), "/HEAD") {
				break
			}
			t.name, t.branch = name.Short(), true
		}
		tips = append(tips, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read refs: %w", err)
	}
	// HEAD is a branch tip of its own only when detached.
	head := -1
	for i, t := range tips {
		if t.name == "HEAD" {
			head = i
		}
	}
	if head >= 0 {
		detached := true
		if r, err := g.st.Reference(plumbing.HEAD); err == nil && r.Type() == plumbing.SymbolicReference {
			detached = false
		}
		tips[head].branch = detached
	}
	return tips, nil
}

var errNotCommit = errors.New("not a commit")

// peel follows annotated tags to the commit they name.
func (g *gitScan) peel(h plumbing.Hash) (plumbing.Hash, error) {
	for range 16 {
		typ, data, err := g.readObject(h)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		switch typ {
		case plumbing.CommitObject:
			return h, nil
		case plumbing.TagObject:
			target, ok := bytes.CutPrefix(data, []byte("object "))
			if !ok || len(target) < 40 || !plumbing.IsHash(string(target[:40])) {
				return plumbing.ZeroHash, fmt.Errorf("read tag %s: malformed", h)
			}
			h = plumbing.NewHash(string(target[:40]))
		default:
			return plumbing.ZeroHash, errNotCommit
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("tag %s: chain too long", h)
}

// loadShallow reads the shallow boundary.
func (g *gitScan) loadShallow() error {
	sh, err := g.st.Shallow()
	if err != nil {
		return fmt.Errorf("read shallow file: %w", err)
	}
	g.shallow = map[plumbing.Hash]bool{}
	for _, h := range sh {
		g.shallow[h] = true
	}
	return nil
}

// loadCommit reads one commit into g.commits.
func (g *gitScan) loadCommit(h plumbing.Hash) (*gitCommit, error) {
	if c, ok := g.commits[h]; ok {
		return c, nil
	}
	c, err := g.readCommit(h)
	if err != nil {
		return nil, err
	}
	g.commits[h] = c
	g.order = append(g.order, c)
	return c, nil
}

// readCommit decodes one commit.
func (g *gitScan) readCommit(h plumbing.Hash) (*gitCommit, error) {
	if c, ok := g.pcommits[h]; ok {
		cp := *c
		cp.cut = g.shallow[h]
		return &cp, nil
	}
	data, err := g.readTyped(plumbing.CommitObject, h)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	c, err := parseCommitHeader(h, data)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	c.cut = g.shallow[h]
	return c, nil
}

// walkCommits loads every commit reachable from tips (stopping at shallow
// boundaries, and at commits in stop when not nil).
func (g *gitScan) walkCommits(ctx context.Context, tips []plumbing.Hash) error {
	stack := slices.Clone(tips)
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, ok := g.commits[h]; ok {
			continue
		}
		c, err := g.loadCommit(h)
		if err != nil {
			return err
		}
		if c.cut {
			continue
		}
		for _, p := range c.parents {
			if _, ok := g.commits[p]; !ok {
				stack = append(stack, p)
			}
		}
	}
	return nil
}

// scanHistory scans every blob of the repository once, then walks the
// commits reachable from the refs to pair and attribute the hits.
func (g *gitScan) scanHistory(ctx context.Context) error {
	if err := g.loadShallow(); err != nil {
		return err
	}
	tips, err := g.refTips()
	if err != nil {
		return err
	}
	g.allBlobs = map[plumbing.Hash]struct{}{}
	g.trace("refs")
	if err := g.scanAllBlobs(ctx); err != nil {
		return err
	}
	g.trace("blobs")
	if err := g.indexPacks(ctx); err != nil {
		return err
	}
	g.trace("trees")
	var starts []plumbing.Hash
	for _, t := range tips {
		starts = append(starts, t.commit)
	}
	if err := g.walkCommits(ctx, starts); err != nil {
		return err
	}
	g.res.Stats.Commits = int64(len(g.order))
	g.trace("commits")
	if len(g.shallow) > 0 {
		g.res.Notes = append(g.res.Notes, fmt.Sprintf("the repository is a shallow clone: history is cut at %d commit(s); older commits were not scanned (git fetch --unshallow to scan them)", len(g.shallow)))
	}
	cands := g.order
	if !g.opts.Since.IsZero() {
		cands = nil
		for _, c := range g.order {
			if c.when.After(g.opts.Since) {
				cands = append(cands, c)
			}
		}
	}
	return g.attribute(ctx, cands, tips)
}

// attribute pairs hits within each candidate commit's tree and records,
// for each credential at each path, the commit that introduced it (or
// every commit holding it, with AllLocations).
func (g *gitScan) attribute(ctx context.Context, cands []*gitCommit, tips []gitTip) error {
	a := &attribution{g: g, intro: map[fpPath]*introRec{}}
	// Every candidate's tree is walked even when no blob had hits: the
	// walk proves the trees and blobs are there, and finds submodules.
	{
		for _, c := range cands {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := a.commit(c); err != nil {
				return err
			}
		}
	}
	g.trace("attribute")
	atTips := map[string][]string{}
	if len(a.intro) > 0 || len(a.all) > 0 {
		seen := map[string]bool{}
		for _, t := range tips {
			if !t.branch || seen[t.name] {
				continue
			}
			seen[t.name] = true
			c, err := g.loadCommit(t.commit)
			if err != nil {
				return err
			}
			s, err := g.snapOf(c)
			if err != nil {
				return err
			}
			for fp := range s.fps {
				atTips[fp] = append(atTips[fp], t.name)
			}
		}
		for _, v := range atTips {
			slices.Sort(v)
		}
	}
	coll := NewCollector()
	infos := map[plumbing.Hash]*Commit{}
	info := func(h plumbing.Hash, fp string) (*Commit, error) {
		ci, ok := infos[h]
		if !ok {
			var err error
			if ci, err = g.commitInfo(h); err != nil {
				return nil, err
			}
			infos[h] = ci
		}
		cp := *ci
		cp.AtTips = atTips[fp]
		return &cp, nil
	}
	add := func(c *gitCommit, s *snapshot, idx []int) error {
		for _, i := range idx {
			f := s.findings[i]
			f.Locations = slices.Clone(f.Locations)
			for j := range f.Locations {
				ci, err := info(c.hash, f.Fingerprint)
				if err != nil {
					return err
				}
				f.Locations[j].Commit = ci
			}
			coll.Add(f)
		}
		return nil
	}
	keys := make([]fpPath, 0, len(a.intro))
	for k := range a.intro {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].fp+keys[i].path < keys[j].fp+keys[j].path })
	for _, k := range keys {
		r := a.intro[k]
		if err := add(r.c, r.s, r.s.byKey[k]); err != nil {
			return err
		}
	}
	for _, r := range a.all {
		all := make([]int, len(r.s.findings))
		for i := range all {
			all[i] = i
		}
		if err := add(r.c, r.s, all); err != nil {
			return err
		}
	}
	if g.opts.AllObjects {
		g.addUnreached(coll)
	}
	g.res.Findings = coll.Findings()
	g.notes()
	return nil
}

// addUnreached reports blobs with hits that no scanned commit holds.
func (g *gitScan) addUnreached(coll *Collector) {
	var hs []plumbing.Hash
	for h := range g.hits {
		if !g.walk.reached[h] {
			hs = append(hs, h)
		}
	}
	slices.SortFunc(hs, func(a, b plumbing.Hash) int { return bytes.Compare(a[:], b[:]) })
	n := 0
	for _, h := range hs {
		fs := g.d.Pair([]FileHits{{Path: "", Hits: g.hits[h], Blob: h.String()}})
		if len(fs) > 0 {
			n++
		}
		coll.Add(fs...)
	}
	if n > 0 {
		g.res.Notes = append(g.res.Notes, fmt.Sprintf("%d blob(s) with findings are not reachable from the scanned commits (--all-objects); they have no path or commit", n))
	}
}

func (g *gitScan) notes() {
	if g.lfs > 0 {
		g.res.Notes = append(g.res.Notes, fmt.Sprintf("%d Git LFS pointer file(s) were not scanned: their content is stored outside the repository", g.lfs))
	}
	if len(g.walk.gitlinks) > 0 {
		paths := make([]string, 0, len(g.walk.gitlinks))
		for p := range g.walk.gitlinks {
			paths = append(paths, p)
		}
		slices.Sort(paths)
		const show = 10
		more := ""
		if len(paths) > show {
			more = fmt.Sprintf(" and %d more", len(paths)-show)
			paths = paths[:show]
		}
		g.res.Notes = append(g.res.Notes, fmt.Sprintf("submodules are not followed; scan them separately: %s%s", strings.Join(paths, ", "), more))
	}
}

// commitInfo reads the provenance of a commit.
func (g *gitScan) commitInfo(h plumbing.Hash) (*Commit, error) {
	data, err := g.readTyped(plumbing.CommitObject, h)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	obj := &plumbing.MemoryObject{}
	obj.SetType(plumbing.CommitObject)
	if _, err := obj.Write(data); err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	co, err := object.DecodeCommit(g.st, obj)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	summary, _, _ := strings.Cut(strings.TrimLeft(co.Message, "\n"), "\n")
	return &Commit{
		Hash: h.String(), Author: co.Author.Name, Email: co.Author.Email,
		Date: co.Author.When.Format(time.RFC3339), Summary: strings.TrimSpace(summary),
	}, nil
}

// fpPath names one credential at one path.
type fpPath struct{ fp, path string }

// snapshot is the pairing of one set of (path, blob) with hits; commits
// whose trees hold the same set share it.
type snapshot struct {
	findings []Finding // Locations carry no commit
	byKey    map[fpPath][]int
	fps      map[string]bool
}

type introRec struct {
	c *gitCommit
	s *snapshot
}

type allRec struct {
	c *gitCommit
	s *snapshot
}

type attribution struct {
	g     *gitScan
	intro map[fpPath]*introRec
	all   []allRec
}

// commit attributes the findings of c's tree: those not in any parent's
// tree at the same path were introduced by c.
func (a *attribution) commit(c *gitCommit) error {
	s, err := a.g.snapOf(c)
	if err != nil {
		return err
	}
	if len(s.findings) == 0 {
		return nil
	}
	if a.g.opts.AllLocations {
		a.all = append(a.all, allRec{c, s})
		return nil
	}
	var parents []*snapshot
	if !c.cut {
		for _, ph := range c.parents {
			p, ok := a.g.commits[ph]
			if !ok {
				// Outside the scanned range: its content is not new.
				if a.g.opts.Range != "" {
					continue
				}
				var err error
				if p, err = a.g.loadCommit(ph); err != nil {
					return err
				}
			}
			ps, err := a.g.snapOf(p)
			if err != nil {
				return err
			}
			if ps == s {
				return nil // same content as a parent: nothing new
			}
			parents = append(parents, ps)
		}
	}
	for k := range s.byKey {
		inParent := false
		for _, ps := range parents {
			if _, ok := ps.byKey[k]; ok {
				inParent = true
				break
			}
		}
		if inParent {
			continue
		}
		if r, ok := a.intro[k]; !ok || earlier(c, r.c) {
			a.intro[k] = &introRec{c, s}
		}
	}
	return nil
}

func earlier(a, b *gitCommit) bool {
	if !a.when.Equal(b.when) {
		return a.when.Before(b.when)
	}
	return bytes.Compare(a.hash[:], b.hash[:]) < 0
}

// snapOf returns the pairing of c's tree.
func (g *gitScan) snapOf(c *gitCommit) (*snapshot, error) {
	rel, err := g.walk.relevant(c.tree)
	if err != nil {
		return nil, err
	}
	return g.walk.snap(rel), nil
}
