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

// centry is one kept entry of a ctree, in 8 bytes. A history of tens of
// thousands of commits keeps millions of them (every version of every
// directory lists its subdirectories), so the object and the name are
// numbers in the DB's tables (objTable, nameTable) and the kind is kept
// in the name's top two bits.
type centry struct {
	obj  uint32
	name uint32
}

// maxNames is the number of distinct entry names a centry can number.
const maxNames = 1 << 30

func (e centry) kind() centryKind { return centryKind(e.name >> 30) }
func (e centry) nameID() uint32   { return e.name & (maxNames - 1) }

// objTable numbers the objects that kept tree entries name (subtrees
// above all; the few blobs and submodules kept), and holds each
// numbered tree's ctree once IndexTrees has decoded it.
type objTable struct {
	mu     sync.Mutex
	index  map[Hash]uint32
	hashes []Hash
	trees  []*ctree
}

func (t *objTable) number(h Hash) uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.numberLocked(h)
}

func (t *objTable) numberLocked(h Hash) uint32 {
	if i, ok := t.index[h]; ok {
		return i
	}
	if t.index == nil {
		t.index = map[Hash]uint32{}
	}
	i := uint32(len(t.hashes))
	t.hashes = append(t.hashes, h)
	t.trees = append(t.trees, nil)
	t.index[h] = i
	return i
}

func (t *objTable) setTree(h Hash, ct *ctree) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.trees[t.numberLocked(h)] = ct
}

// get returns object i's hash and, for a decoded tree, its ctree.
func (t *objTable) get(i uint32) (Hash, *ctree) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.hashes[i], t.trees[i]
}

// nameTable interns the names of kept tree entries: the versions of a
// tree repeat the same few names.
type nameTable struct {
	mu    sync.Mutex
	index map[string]uint32
	names []string
}

func (t *nameTable) intern(b []byte) (uint32, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i, ok := t.index[string(b)]; ok {
		return i, nil
	}
	if len(t.names) >= maxNames {
		return 0, fmt.Errorf("more than %d distinct file names", maxNames)
	}
	if t.index == nil {
		t.index = map[string]uint32{}
	}
	s := string(b)
	i := uint32(len(t.names))
	t.names = append(t.names, s)
	t.index[s] = i
	return i, nil
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
	keep := func(e TreeEntry, kind centryKind) error {
		name, err := db.names.intern(e.Name)
		if err != nil {
			return err
		}
		out = append(out, centry{obj: db.objs.number(e.Hash), name: uint32(kind)<<30 | name})
		return nil
	}
	err := ParseTree(data, func(e TreeEntry) error {
		switch e.Mode & ModeTypeMask {
		case ModeDir:
			return keep(e, centryDir)
		case ModeGitlink:
			return keep(e, centryGitlink)
		case ModeSymlink:
		default:
			if hit(e.Hash) {
				return keep(e, centryHit)
			} else if db.blobs != nil {
				if _, ok := db.blobs[e.Hash]; !ok {
					return keep(e, centryMissing)
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
	db.objs = objTable{}
	db.pcommits = map[Hash]*Commit{}
	want := func(t uint8) bool { return t == objTree || t == objCommit }
	err := db.decodePacks(ctx, workers, want, func(typ uint8, h plumbing.Hash, data []byte) error {
		switch typ {
		case objTree:
			ct, err := db.compactTree(data, hit)
			if err != nil {
				return fmt.Errorf("read tree %s: %w", h, err)
			}
			db.objs.setTree(h, ct)
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
