package scanner

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
)

// scanStaged scans the blobs of the index that differ from HEAD's tree:
// what the next commit would add. It reads no history.
func (g *gitScan) scanStaged(ctx context.Context) error {
	idx, err := g.readIndex()
	if err != nil {
		return err
	}
	var headTree plumbing.Hash
	head, err := g.repo.Head()
	switch {
	case errors.Is(err, plumbing.ErrReferenceNotFound):
		// Unborn branch: everything staged is new.
	case err != nil:
		return fmt.Errorf("resolve HEAD: %w", err)
	default:
		c, err := g.readCommit(head.Hash())
		if err != nil {
			return err
		}
		headTree = c.tree
	}
	ht := &headLookup{g: g, root: headTree, dirs: map[string]map[string]plumbing.Hash{}}
	type staged struct {
		path string
		blob plumbing.Hash
	}
	var changed []staged
	seen := map[plumbing.Hash]bool{}
	var blobs []plumbing.Hash
	for _, e := range idx.Entries {
		if e.Mode == filemode.Submodule || e.Mode == filemode.Symlink {
			continue
		}
		old, err := ht.lookup(e.Name)
		if err != nil {
			return err
		}
		if old == e.Hash {
			continue
		}
		changed = append(changed, staged{e.Name, e.Hash})
		if !seen[e.Hash] {
			seen[e.Hash] = true
			blobs = append(blobs, e.Hash)
		}
	}
	if err := g.scanBlobsByHash(ctx, blobs); err != nil {
		return err
	}
	var files []FileHits
	for _, s := range changed {
		if h := g.hits[s.blob]; len(h) > 0 {
			files = append(files, FileHits{Path: s.path, Hits: h, Blob: s.blob.String()})
		}
	}
	c := NewCollector()
	if len(files) > 0 {
		c.Add(g.d.Pair(files)...)
	}
	g.res.Findings = c.Findings()
	g.notes()
	return nil
}

// readIndex reads the index to scan: GitOptions.IndexFile, or the
// repository's own.
func (g *gitScan) readIndex() (*index.Index, error) {
	if g.opts.IndexFile == "" {
		idx, err := g.st.Index()
		if err != nil {
			return nil, fmt.Errorf("read index: %w", err)
		}
		return idx, nil
	}
	f, err := os.Open(g.opts.IndexFile)
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	defer f.Close()
	idx := &index.Index{}
	if err := index.NewDecoder(bufio.NewReader(f)).Decode(idx); err != nil {
		return nil, fmt.Errorf("read index %s: %w", g.opts.IndexFile, err)
	}
	return idx, nil
}

// headLookup finds the blob at a path of a tree, reading only the trees
// on the way.
type headLookup struct {
	g    *gitScan
	root plumbing.Hash
	// dirs maps a directory path ("" for the root) to its entries.
	dirs map[string]map[string]plumbing.Hash
	buf  bytes.Buffer
}

func (l *headLookup) dir(path string) (map[string]plumbing.Hash, error) {
	if m, ok := l.dirs[path]; ok {
		return m, nil
	}
	var tree plumbing.Hash
	if path == "" {
		tree = l.root
	} else {
		parent, name := "", path
		if i := strings.LastIndexByte(path, '/'); i >= 0 {
			parent, name = path[:i], path[i+1:]
		}
		pm, err := l.dir(parent)
		if err != nil {
			return nil, err
		}
		tree = pm[name+"/"]
	}
	m := map[string]plumbing.Hash{}
	if !tree.IsZero() {
		raw, err := l.g.readTyped(plumbing.TreeObject, tree)
		if err != nil {
			return nil, fmt.Errorf("read tree %s: %w", tree, err)
		}
		err = parseTree(raw, func(e treeEntry) error {
			name := string(e.name)
			if e.mode&modeTypeMask == modeDir {
				name += "/"
			}
			m[name] = e.hash
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read tree %s: %w", tree, err)
		}
	}
	l.dirs[path] = m
	return m, nil
}

func (l *headLookup) lookup(path string) (plumbing.Hash, error) {
	dir, name := "", path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		dir, name = path[:i], path[i+1:]
	}
	m, err := l.dir(dir)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return m[name], nil
}

// scanRange scans what the commits of HEAD's history that are not in
// BASE's add: the blobs that differ from their parents', found by diffing
// trees (equal subtrees are skipped by hash).
func (g *gitScan) scanRange(ctx context.Context) error {
	base, head, ok := strings.Cut(g.opts.Range, "..")
	head = strings.TrimPrefix(head, ".")
	if !ok || base == "" || head == "" {
		return fmt.Errorf("bad range %q: want BASE..HEAD", g.opts.Range)
	}
	if err := g.loadShallow(); err != nil {
		return err
	}
	resolve := func(rev string) (plumbing.Hash, error) {
		h, err := g.repo.ResolveRevision(plumbing.Revision(rev))
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("resolve %q: %w", rev, err)
		}
		c, err := g.peel(*h)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("resolve %q: %w", rev, err)
		}
		return c, nil
	}
	bh, err := resolve(base)
	if err != nil {
		return err
	}
	hh, err := resolve(head)
	if err != nil {
		return err
	}
	commits, err := g.rangeCommits(ctx, bh, hh)
	if err != nil {
		return err
	}
	for _, c := range commits {
		g.commits[c.hash] = c
		g.order = append(g.order, c)
	}
	g.res.Stats.Commits = int64(len(commits))
	// The blobs the range adds.
	newBlobs := map[plumbing.Hash]bool{}
	d := &treeDiffer{g: g}
	for _, c := range commits {
		if err := ctx.Err(); err != nil {
			return err
		}
		var ptrees []plumbing.Hash
		for _, ph := range c.parents {
			if c.cut {
				break
			}
			p, ok := g.commits[ph]
			if !ok {
				var err error
				if p, err = g.readCommit(ph); err != nil {
					return err
				}
			}
			ptrees = append(ptrees, p.tree)
		}
		if err := d.diff(c.tree, ptrees, newBlobs); err != nil {
			return err
		}
	}
	hs := make([]plumbing.Hash, 0, len(newBlobs))
	for h := range newBlobs {
		hs = append(hs, h)
	}
	if err := g.scanBlobsByHash(ctx, hs); err != nil {
		return err
	}
	var cands []*gitCommit
	for _, c := range commits {
		if g.opts.Since.IsZero() || c.when.After(g.opts.Since) {
			cands = append(cands, c)
		}
	}
	return g.attribute(ctx, cands, []gitTip{{name: head, commit: hh, branch: true}})
}

// rangeCommits returns the commits reachable from head and not from base,
// walking both histories newest first and stopping when only commits
// reachable from base remain, as git rev-list does.
func (g *gitScan) rangeCommits(ctx context.Context, base, head plumbing.Hash) ([]*gitCommit, error) {
	const fromBase, fromHead = 1, 2
	loaded := map[plumbing.Hash]*gitCommit{}
	flags := map[plumbing.Hash]uint8{}
	q := &commitQueue{}
	push := func(h plumbing.Hash, f uint8) error {
		old := flags[h]
		if old|f == old {
			return nil
		}
		flags[h] = old | f
		c, ok := loaded[h]
		if !ok {
			var err error
			if c, err = g.readCommit(h); err != nil {
				return err
			}
			loaded[h] = c
		}
		heap.Push(q, c)
		return nil
	}
	if err := push(base, fromBase); err != nil {
		return nil, err
	}
	if err := push(head, fromHead); err != nil {
		return nil, err
	}
	var out []*gitCommit
	done := map[plumbing.Hash]bool{}
	for q.Len() > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// Stop when every queued commit is reachable from base.
		interesting := false
		for _, c := range *q {
			if flags[c.hash]&fromBase == 0 {
				interesting = true
				break
			}
		}
		if !interesting {
			break
		}
		c := heap.Pop(q).(*gitCommit)
		f := flags[c.hash]
		if f == fromHead && !done[c.hash] {
			done[c.hash] = true
			out = append(out, c)
		}
		if c.cut {
			continue
		}
		for _, p := range c.parents {
			if err := push(p, f); err != nil {
				return nil, err
			}
		}
	}
	// A commit listed early may have been reached from base later (clock
	// skew): drop it.
	out = slices.DeleteFunc(out, func(c *gitCommit) bool { return flags[c.hash]&fromBase != 0 })
	return out, nil
}

type commitQueue []*gitCommit

func (q commitQueue) Len() int           { return len(q) }
func (q commitQueue) Less(i, j int) bool { return q[i].when.After(q[j].when) }
func (q commitQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *commitQueue) Push(x any)        { *q = append(*q, x.(*gitCommit)) }
func (q *commitQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}

// treeDiffer finds the blobs of a tree that none of its parents' trees
// hold at the same path.
type treeDiffer struct {
	g   *gitScan
	buf bytes.Buffer
}

type rawEntry struct {
	mode uint32
	hash plumbing.Hash
}

func (d *treeDiffer) entries(tree plumbing.Hash) (map[string]rawEntry, []string, error) {
	raw, err := d.g.readTyped(plumbing.TreeObject, tree)
	if err != nil {
		return nil, nil, fmt.Errorf("read tree %s: %w", tree, err)
	}
	m := map[string]rawEntry{}
	var names []string
	err = parseTree(raw, func(e treeEntry) error {
		n := string(e.name)
		m[n] = rawEntry{e.mode, e.hash}
		names = append(names, n)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read tree %s: %w", tree, err)
	}
	return m, names, nil
}

func (d *treeDiffer) diff(tree plumbing.Hash, parents []plumbing.Hash, out map[plumbing.Hash]bool) error {
	for _, p := range parents {
		if p == tree {
			return nil
		}
	}
	m, names, err := d.entries(tree)
	if err != nil {
		return err
	}
	pms := make([]map[string]rawEntry, len(parents))
	for i, p := range parents {
		if pms[i], _, err = d.entries(p); err != nil {
			return err
		}
	}
	for _, n := range names {
		e := m[n]
		same := false
		var sub []plumbing.Hash
		for _, pm := range pms {
			pe, ok := pm[n]
			if !ok {
				continue
			}
			if pe.hash == e.hash {
				same = true
				break
			}
			if pe.mode&modeTypeMask == modeDir {
				sub = append(sub, pe.hash)
			}
		}
		if same {
			continue
		}
		switch e.mode & modeTypeMask {
		case modeDir:
			if err := d.diff(e.hash, sub, out); err != nil {
				return err
			}
		case modeGitlink:
			d.g.walk.gitlinks[n] = true
		case modeSymlink:
		default:
			out[e.hash] = true
		}
	}
	return nil
}
