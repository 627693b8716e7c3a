package scanner

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/leakstop/leakstop/gitdb"
)

// noHit records a blob read completely with no hit, for Clean.
func (g *gitScan) noHit(h gitdb.Hash) {
	if g.cleanFn == nil {
		return
	}
	g.mu.Lock()
	g.clean = append(g.clean, h)
	g.mu.Unlock()
}

// treeBlobs lists the blobs of the whole trees a WholeTrees range scan
// pairs in: the trees of the range's commits, of their parents outside
// the range (to tell what each commit introduced) and of the included
// tips (to tell which credentials are still at a tip). Each distinct
// tree is read once; symbolic links and submodules are left out, as
// the tree walk leaves them.
func (g *gitScan) treeBlobs(ctx context.Context, commits []*gitdb.Commit, tips []gitdb.Hash) ([]gitdb.Hash, error) {
	inRange := make(map[gitdb.Hash]bool, len(commits))
	for _, c := range commits {
		inRange[c.Hash] = true
	}
	var roots []gitdb.Hash
	addCommit := func(h gitdb.Hash) error {
		c, ok := g.commits[h]
		if !ok {
			var err error
			if c, err = g.db.Commit(h); err != nil {
				return err
			}
		}
		roots = append(roots, c.Tree)
		return nil
	}
	for _, c := range commits {
		roots = append(roots, c.Tree)
		if c.Cut {
			continue
		}
		for _, p := range c.Parents {
			if !inRange[p] {
				if err := addCommit(p); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, t := range tips {
		if !inRange[t] {
			if err := addCommit(t); err != nil {
				return nil, err
			}
		}
	}
	seenTree := map[gitdb.Hash]bool{}
	blobs := map[gitdb.Hash]bool{}
	var walk func(tree gitdb.Hash) error
	walk = func(tree gitdb.Hash) error {
		if seenTree[tree] {
			return nil
		}
		seenTree[tree] = true
		if err := ctx.Err(); err != nil {
			return err
		}
		raw, err := g.db.ReadTyped(plumbing.TreeObject, tree)
		if err != nil {
			return fmt.Errorf("read tree %s: %w", tree, err)
		}
		var subs []gitdb.Hash
		err = gitdb.ParseTree(raw, func(e gitdb.TreeEntry) error {
			switch e.Mode & gitdb.ModeTypeMask {
			case gitdb.ModeDir:
				subs = append(subs, e.Hash)
			case gitdb.ModeGitlink, gitdb.ModeSymlink:
			default:
				blobs[e.Hash] = true
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("read tree %s: %w", tree, err)
		}
		for _, s := range subs {
			if err := walk(s); err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range roots {
		if err := walk(r); err != nil {
			return nil, err
		}
	}
	out := make([]gitdb.Hash, 0, len(blobs))
	for h := range blobs {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b gitdb.Hash) int { return bytes.Compare(a[:], b[:]) })
	return out, nil
}

// skipKnownClean drops the blobs KnownClean knows, after checking that
// the repository holds them: a blob that is not read must still be
// there, or the scan would call clean what it could not look at.
func (g *gitScan) skipKnownClean(ctx context.Context, blobs []gitdb.Hash) ([]gitdb.Hash, error) {
	if g.knownClean == nil || len(blobs) == 0 {
		return blobs, nil
	}
	out := blobs[:0:0]
	for chunk := range slices.Chunk(blobs, KnownCleanBatch) {
		known, err := g.knownClean(ctx, chunk)
		if err != nil {
			return nil, fmt.Errorf("look up known clean blobs: %w", err)
		}
		for _, h := range chunk {
			if !known[h] {
				out = append(out, h)
				continue
			}
			ok, err := g.db.Has(h)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, fmt.Errorf("blob %s: %w", h, plumbing.ErrObjectNotFound)
			}
		}
	}
	return out, nil
}

// flushClean passes the blobs read with no hit to Clean.
func (g *gitScan) flushClean(ctx context.Context) error {
	if g.cleanFn == nil {
		return nil
	}
	g.mu.Lock()
	clean := g.clean
	g.clean = nil
	g.mu.Unlock()
	slices.SortFunc(clean, func(a, b gitdb.Hash) int { return bytes.Compare(a[:], b[:]) })
	for chunk := range slices.Chunk(clean, KnownCleanBatch) {
		if err := g.cleanFn(ctx, chunk); err != nil {
			return fmt.Errorf("record clean blobs: %w", err)
		}
	}
	return nil
}
