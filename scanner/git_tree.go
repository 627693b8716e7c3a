package scanner

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// relEntry is one file of a tree whose blob had hits.
type relEntry struct {
	path string
	blob plumbing.Hash
}

// treeWalker finds, for a tree, the files whose blobs had hits. Results
// are memoised by tree hash, so each unique tree of the history is read
// once and a commit that changes one file costs the trees on that file's
// path, not a walk of the whole tree.
type treeWalker struct {
	g    *gitScan
	memo map[plumbing.Hash][]relEntry
	// snaps memoises pairing by the set of (path, blob) with hits.
	snaps map[string]*snapshot
	// reached marks blobs with hits found in some scanned tree.
	reached  map[plumbing.Hash]bool
	gitlinks map[string]bool
	buf      bytes.Buffer
	empty    *snapshot
}

func newTreeWalker(g *gitScan) *treeWalker {
	return &treeWalker{
		g: g, memo: map[plumbing.Hash][]relEntry{}, snaps: map[string]*snapshot{},
		reached: map[plumbing.Hash]bool{}, gitlinks: map[string]bool{},
		empty: &snapshot{byKey: map[fpPath][]int{}, fps: map[string]bool{}},
	}
}

// treeEntry is one parsed entry of a raw tree.
type treeEntry struct {
	mode uint32
	name []byte
	hash plumbing.Hash
}

// parseTree calls fn for each entry of a raw tree object.
func parseTree(data []byte, fn func(e treeEntry) error) error {
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		if sp <= 0 {
			return errors.New("bad tree entry mode")
		}
		var mode uint32
		for _, c := range data[:sp] {
			if c < '0' || c > '7' {
				return errors.New("bad tree entry mode")
			}
			mode = mode<<3 | uint32(c-'0')
		}
		data = data[sp+1:]
		nul := bytes.IndexByte(data, 0)
		if nul < 0 || len(data) < nul+1+20 {
			return errors.New("truncated tree entry")
		}
		e := treeEntry{mode: mode, name: data[:nul]}
		copy(e.hash[:], data[nul+1:nul+21])
		data = data[nul+21:]
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

const (
	modeTypeMask = 0o170000
	modeDir      = 0o040000
	modeSymlink  = 0o120000
	modeGitlink  = 0o160000
)

// relevant returns the files under tree whose blobs had hits, with paths
// relative to tree, sorted by path.
func (w *treeWalker) relevant(tree plumbing.Hash) ([]relEntry, error) {
	return w.relevantAt(tree, "")
}

func (w *treeWalker) relevantAt(tree plumbing.Hash, prefix string) ([]relEntry, error) {
	if r, ok := w.memo[tree]; ok {
		return r, nil
	}
	ct, ok := w.g.ctrees[tree]
	if !ok {
		raw, err := w.g.readTyped(plumbing.TreeObject, tree)
		if err != nil {
			return nil, fmt.Errorf("read tree %s: %w", tree, err)
		}
		if ct, err = w.g.compactTree(raw); err != nil {
			return nil, fmt.Errorf("read tree %s: %w", tree, err)
		}
	}
	var out []relEntry
	for _, e := range ct.entries {
		switch e.kind {
		case centryDir:
			sub, err := w.relevantAt(e.hash, prefix+e.name+"/")
			if err != nil {
				return nil, err
			}
			for _, s := range sub {
				out = append(out, relEntry{path: e.name + "/" + s.path, blob: s.blob})
			}
		case centryGitlink:
			w.gitlinks[prefix+e.name] = true
		case centryMissing:
			return nil, fmt.Errorf("blob %s (%s%s): %w", e.hash, prefix, e.name, plumbing.ErrObjectNotFound)
		case centryHit:
			w.reached[e.hash] = true
			out = append(out, relEntry{path: e.name, blob: e.hash})
		}
	}
	w.memo[tree] = out
	return out, nil
}

// snap returns the pairing of a set of files with hits.
func (w *treeWalker) snap(rel []relEntry) *snapshot {
	if len(rel) == 0 {
		return w.empty
	}
	var kb strings.Builder
	for _, e := range rel {
		kb.WriteString(e.path)
		kb.WriteByte(0)
		kb.Write(e.blob[:])
	}
	key := kb.String()
	if s, ok := w.snaps[key]; ok {
		return s
	}
	files := make([]FileHits, 0, len(rel))
	for _, e := range rel {
		files = append(files, FileHits{Path: e.path, Hits: w.g.hits[e.blob], Blob: e.blob.String()})
	}
	s := &snapshot{findings: w.g.d.Pair(files), byKey: map[fpPath][]int{}, fps: map[string]bool{}}
	for i, f := range s.findings {
		k := fpPath{f.Fingerprint, f.Locations[0].Path}
		s.byKey[k] = append(s.byKey[k], i)
		s.fps[f.Fingerprint] = true
	}
	w.snaps[key] = s
	return s
}
