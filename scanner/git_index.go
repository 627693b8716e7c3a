package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// ctree is a tree reduced to what attribution needs: its subtrees, the
// blobs that had hits, submodules, and blobs missing from the repository.
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

type centry struct {
	name string
	hash plumbing.Hash
	kind centryKind
}

// emptyCtree is shared by the many trees with no subtree and no hit.
var emptyCtree = &ctree{}

// compactTree reduces a raw tree. It runs after every blob was scanned,
// when g.hits and g.allBlobs are complete and read only.
func (g *gitScan) compactTree(data []byte) (*ctree, error) {
	var out []centry
	err := parseTree(data, func(e treeEntry) error {
		switch e.mode & modeTypeMask {
		case modeDir:
			out = append(out, centry{string(e.name), e.hash, centryDir})
		case modeGitlink:
			out = append(out, centry{string(e.name), e.hash, centryGitlink})
		case modeSymlink:
		default:
			if _, ok := g.hits[e.hash]; ok {
				out = append(out, centry{string(e.name), e.hash, centryHit})
			} else if g.allBlobs != nil {
				if _, ok := g.allBlobs[e.hash]; !ok {
					out = append(out, centry{string(e.name), e.hash, centryMissing})
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
	return &ctree{entries: out}, nil
}

// indexPacks decodes every tree and commit of the packs once, in
// parallel, keeping compact trees and commit headers.
func (g *gitScan) indexPacks(ctx context.Context) error {
	g.ctrees = map[plumbing.Hash]*ctree{}
	g.pcommits = map[plumbing.Hash]*gitCommit{}
	want := func(t uint8) bool { return t == objTree || t == objCommit }
	err := g.decodePacks(ctx, want, func(typ uint8, h plumbing.Hash, data []byte) error {
		switch typ {
		case objTree:
			ct, err := g.compactTree(data)
			if err != nil {
				return fmt.Errorf("read tree %s: %w", h, err)
			}
			g.mu.Lock()
			g.ctrees[h] = ct
			g.mu.Unlock()
		case objCommit:
			c, err := parseCommitHeader(h, data)
			if err != nil {
				return fmt.Errorf("read commit %s: %w", h, err)
			}
			g.mu.Lock()
			g.pcommits[h] = c
			g.mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read objects: %w", err)
	}
	return nil
}

var errBadCommit = errors.New("malformed commit")

// parseCommitHeader reads the tree, parents and committer time of a raw
// commit.
func parseCommitHeader(h plumbing.Hash, data []byte) (*gitCommit, error) {
	c := &gitCommit{hash: h}
	haveTree := false
	for len(data) > 0 {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			nl = len(data)
		}
		line := data[:nl]
		data = data[min(nl+1, len(data)):]
		if len(line) == 0 {
			break // end of headers
		}
		key, val, _ := bytes.Cut(line, []byte{' '})
		switch string(key) {
		case "tree":
			if len(val) != 40 || !plumbing.IsHash(string(val)) {
				return nil, errBadCommit
			}
			c.tree = plumbing.NewHash(string(val))
			haveTree = true
		case "parent":
			if len(val) != 40 || !plumbing.IsHash(string(val)) {
				return nil, errBadCommit
			}
			c.parents = append(c.parents, plumbing.NewHash(string(val)))
		case "committer":
			// Name <email> 1700000000 +0000
			if gt := bytes.LastIndexByte(val, '>'); gt >= 0 {
				f := bytes.Fields(val[gt+1:])
				if len(f) >= 1 {
					if sec, err := strconv.ParseInt(string(f[0]), 10, 64); err == nil {
						c.when = time.Unix(sec, 0)
					}
				}
			}
		}
	}
	if !haveTree {
		return nil, errBadCommit
	}
	return c, nil
}
