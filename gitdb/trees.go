package gitdb

import (
	"context"
	"fmt"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
)

// ctree is a tree reduced to what a TreeWalker needs: its subtrees, the
// blobs the caller marked, submodules, and blobs missing from the
// repository.
type ctree struct {
	entries []centry
}

type centryKind uint8

const (
	centryDir centryKind = iota
	centryHit
	centryGitlink
	centryMissing
)

// centry is one kept entry of a ctree: 28 bytes. A history of tens of
// thousands of commits keeps millions of them (every version of every
// directory lists its subdirectories), so the name is an index into the
// DB's interned names rather than a string of its own.
type centry struct {
	hash Hash
	name uint32
	kind centryKind
}

// nameTable interns the names of kept tree entries: the versions of a
// tree repeat the same few names.
type nameTable struct {
	mu    sync.Mutex
	index map[string]uint32
	names []string
}

func (t *nameTable) intern(b []byte) uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i, ok := t.index[string(b)]; ok {
		return i
	}
	if t.index == nil {
		t.index = map[string]uint32{}
	}
	s := string(b)
	i := uint32(len(t.names))
	t.names = append(t.names, s)
	t.index[s] = i
	return i
}

func (t *nameTable) name(i uint32) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.names[i]
}

// emptyCtree is shared by the many trees with no subtree and no hit.
var emptyCtree = &ctree{}

// compactTree reduces a raw tree, keeping the blobs for which hit is
// true. After a full pass (db.blobs set and read only) it also keeps the
// blobs the repository does not hold.
func (db *DB) compactTree(data []byte, hit func(Hash) bool) (*ctree, error) {
	var out []centry
	err := ParseTree(data, func(e TreeEntry) error {
		switch e.Mode & ModeTypeMask {
		case ModeDir:
			out = append(out, centry{e.Hash, db.names.intern(e.Name), centryDir})
		case ModeGitlink:
			out = append(out, centry{e.Hash, db.names.intern(e.Name), centryGitlink})
		case ModeSymlink:
		default:
			if hit(e.Hash) {
				out = append(out, centry{e.Hash, db.names.intern(e.Name), centryHit})
			} else if db.blobs != nil {
				if _, ok := db.blobs[e.Hash]; !ok {
					out = append(out, centry{e.Hash, db.names.intern(e.Name), centryMissing})
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return emptyCtree, nil
	}
	// Exactly sized: append's spare capacity would be kept for good.
	entries := make([]centry, len(out))
	copy(entries, out)
	return &ctree{entries: entries}, nil
}

// IndexTrees decodes every tree and commit of the packs EachBlob mapped,
// once, in parallel on up to workers goroutines, keeping commit headers
// (for Commit) and trees reduced to their subtrees, submodules, missing
// blobs and the blobs for which hit is true (for TreeWalker). It runs
// after EachBlob; hit is called concurrently.
func (db *DB) IndexTrees(ctx context.Context, workers int, hit func(Hash) bool) error {
	db.ctrees = map[Hash]*ctree{}
	db.pcommits = map[Hash]*Commit{}
	want := func(t uint8) bool { return t == objTree || t == objCommit }
	err := db.decodePacks(ctx, workers, want, func(typ uint8, h plumbing.Hash, data []byte) error {
		switch typ {
		case objTree:
			ct, err := db.compactTree(data, hit)
			if err != nil {
				return fmt.Errorf("read tree %s: %w", h, err)
			}
			db.mu.Lock()
			db.ctrees[h] = ct
			db.mu.Unlock()
		case objCommit:
			c, err := ParseCommit(h, data)
			if err != nil {
				return fmt.Errorf("read commit %s: %w", h, err)
			}
			db.mu.Lock()
			db.pcommits[h] = c
			db.mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read objects: %w", err)
	}
	return nil
}
