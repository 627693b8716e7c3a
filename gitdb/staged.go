package gitdb

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
)

// StagedChanges returns the files of the index whose blob differs from
// the one at the same path of HEAD's tree: what the next commit would
// add (on an unborn branch, every staged file). Symbolic links and
// submodules are left out. indexFile, when not empty, is read instead of
// the repository's own index: git hands hooks a temporary one
// (GIT_INDEX_FILE) for "git commit -a" and "git commit PATH"; a relative
// path is taken from the current directory, as git does. It reads no
// history: only the trees on the paths of the index entries.
func (db *DB) StagedChanges(indexFile string) ([]File, error) {
	idx, err := db.readIndex(indexFile)
	if err != nil {
		return nil, err
	}
	var headTree Hash
	head, ok, err := db.Head()
	if err != nil {
		return nil, err
	}
	if ok {
		c, err := db.Commit(head)
		if err != nil {
			return nil, err
		}
		headTree = c.Tree
	}
	ht := &headLookup{db: db, root: headTree, dirs: map[string]map[string]Hash{}}
	var changed []File
	for _, e := range idx.Entries {
		if e.Mode == filemode.Submodule || e.Mode == filemode.Symlink {
			continue
		}
		old, err := ht.lookup(e.Name)
		if err != nil {
			return nil, err
		}
		if old == e.Hash {
			continue
		}
		changed = append(changed, File{Path: e.Name, Blob: e.Hash})
	}
	return changed, nil
}

// readIndex reads the index file at path, or the repository's own.
func (db *DB) readIndex(path string) (*index.Index, error) {
	if path == "" {
		idx, err := db.st.Index()
		if err != nil {
			return nil, fmt.Errorf("read index: %w", err)
		}
		return idx, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	defer f.Close()
	idx := &index.Index{}
	if err := index.NewDecoder(bufio.NewReader(f)).Decode(idx); err != nil {
		return nil, fmt.Errorf("read index %s: %w", path, err)
	}
	return idx, nil
}

// headLookup finds the blob at a path of a tree, reading only the trees
// on the way.
type headLookup struct {
	db   *DB
	root Hash
	// dirs maps a directory path ("" for the root) to its entries.
	dirs map[string]map[string]Hash
}

func (l *headLookup) dir(path string) (map[string]Hash, error) {
	if m, ok := l.dirs[path]; ok {
		return m, nil
	}
	var tree Hash
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
	m := map[string]Hash{}
	if !tree.IsZero() {
		raw, err := l.db.ReadTyped(plumbing.TreeObject, tree)
		if err != nil {
			return nil, fmt.Errorf("read tree %s: %w", tree, err)
		}
		err = ParseTree(raw, func(e TreeEntry) error {
			name := string(e.Name)
			if e.Mode&ModeTypeMask == ModeDir {
				name += "/"
			}
			m[name] = e.Hash
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read tree %s: %w", tree, err)
		}
	}
	l.dirs[path] = m
	return m, nil
}

func (l *headLookup) lookup(path string) (Hash, error) {
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
