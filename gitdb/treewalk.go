package gitdb

import (
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
)

// File is a file of a tree: its path from the tree's root and its blob.
type File struct {
	Path string
	Blob Hash
}

// TreeWalker finds, for a tree, the files whose blobs the caller marked.
// Results are memoised by tree hash, so each unique tree of a history is
// read once and a commit that changes one file costs the trees on that
// file's path, not a walk of the whole tree. After a full pass
// (EachBlob, IndexTrees) the trees come from the index and a tree that
// names a blob the repository does not hold is an error. A TreeWalker is
// not safe for concurrent use.
type TreeWalker struct {
	db  *DB
	hit func(Hash) bool
	// memo is keyed by the tree's number in the DB's objTable.
	memo map[uint32][]File
	// reached marks marked blobs found in some walked tree.
	reached  map[Hash]bool
	gitlinks map[string]bool
}

// NewTreeWalker returns a walker that keeps the files whose blob hit
// marks. hit must give the same answer as the one given to IndexTrees.
func (db *DB) NewTreeWalker(hit func(Hash) bool) *TreeWalker {
	return &TreeWalker{db: db, hit: hit, memo: map[uint32][]File{}, reached: map[Hash]bool{}, gitlinks: map[string]bool{}}
}

// Reached reports whether a walked tree held blob h at some path.
func (w *TreeWalker) Reached(h Hash) bool { return w.reached[h] }

// Gitlinks returns the paths of the submodules seen in walked trees.
func (w *TreeWalker) Gitlinks() map[string]bool { return w.gitlinks }

// Files returns the files under tree whose blobs are marked, with paths
// relative to tree, sorted by path. The slice is shared: do not modify it.
func (w *TreeWalker) Files(tree Hash) ([]File, error) {
	return w.filesAt(w.db.objs.number(tree), "")
}

func (w *TreeWalker) filesAt(tree uint32, prefix string) ([]File, error) {
	if r, ok := w.memo[tree]; ok {
		return r, nil
	}
	h, ct := w.db.objs.get(tree)
	if ct == nil {
		raw, err := w.db.ReadTyped(plumbing.TreeObject, h)
		if err != nil {
			return nil, fmt.Errorf("read tree %s: %w", h, err)
		}
		if ct, err = w.db.compactTree(raw, w.hit); err != nil {
			return nil, fmt.Errorf("read tree %s: %w", h, err)
		}
	}
	var out []File
	for _, e := range ct.entries {
		name := w.db.names.name(e.nameID())
		switch e.kind() {
		case centryDir:
			sub, err := w.filesAt(e.obj, prefix+name+"/")
			if err != nil {
				return nil, err
			}
			for _, s := range sub {
				out = append(out, File{Path: name + "/" + s.Path, Blob: s.Blob})
			}
		case centryGitlink:
			w.gitlinks[prefix+name] = true
		case centryMissing:
			blob, _ := w.db.objs.get(e.obj)
			return nil, fmt.Errorf("blob %s (%s%s): %w", blob, prefix, name, plumbing.ErrObjectNotFound)
		case centryHit:
			blob, _ := w.db.objs.get(e.obj)
			w.reached[blob] = true
			out = append(out, File{Path: name, Blob: blob})
		}
	}
	w.memo[tree] = out
	return out, nil
}
