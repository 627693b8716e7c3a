package gitdb

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Commit is what a history walk needs of a commit.
type Commit struct {
	Hash    Hash
	Tree    Hash
	Parents []Hash
	// When is the committer time.
	When time.Time
	// Cut is true when the parents are missing (a shallow boundary).
	Cut bool
}

// Commit reads the header of commit h: from the commits a full pass
// indexed (IndexTrees), or by a point read.
func (db *DB) Commit(h Hash) (*Commit, error) {
	shallow, err := db.Shallow()
	if err != nil {
		return nil, err
	}
	if c, ok := db.pcommits[h]; ok {
		cp := *c
		cp.Cut = shallow[h]
		return &cp, nil
	}
	data, err := db.ReadTyped(plumbing.CommitObject, h)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	c, err := ParseCommit(h, data)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	c.Cut = shallow[h]
	return c, nil
}

var errBadCommit = fmt.Errorf("%w: malformed commit", ErrCorrupt)

// ParseCommit reads the tree, parents and committer time of a raw
// commit.
func ParseCommit(h Hash, data []byte) (*Commit, error) {
	c := &Commit{Hash: h}
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
			c.Tree = plumbing.NewHash(string(val))
			haveTree = true
		case "parent":
			if len(val) != 40 || !plumbing.IsHash(string(val)) {
				return nil, errBadCommit
			}
			c.Parents = append(c.Parents, plumbing.NewHash(string(val)))
		case "committer":
			// Name <email> 1700000000 +0000
			if gt := bytes.LastIndexByte(val, '>'); gt >= 0 {
				f := bytes.Fields(val[gt+1:])
				if len(f) >= 1 {
					if sec, err := strconv.ParseInt(string(f[0]), 10, 64); err == nil {
						c.When = time.Unix(sec, 0)
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

// CommitInfo is the provenance of a commit, for a report.
type CommitInfo struct {
	Author, Email string
	// When is the author time.
	When time.Time
	// Summary is the first line of the message.
	Summary string
}

// Info reads the author and message of commit h.
func (db *DB) Info(h Hash) (*CommitInfo, error) {
	data, err := db.ReadTyped(plumbing.CommitObject, h)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	obj := &plumbing.MemoryObject{}
	obj.SetType(plumbing.CommitObject)
	if _, err := obj.Write(data); err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	co, err := object.DecodeCommit(db.st, obj)
	if err != nil {
		return nil, fmt.Errorf("read commit %s: %w", h, err)
	}
	summary, _, _ := strings.Cut(strings.TrimLeft(co.Message, "\n"), "\n")
	return &CommitInfo{
		Author: co.Author.Name, Email: co.Author.Email,
		When: co.Author.When, Summary: strings.TrimSpace(summary),
	}, nil
}

// Reachable returns every commit reachable from tips, each once, in
// depth-first order from the tips, stopping at shallow boundaries.
func (db *DB) Reachable(ctx context.Context, tips []Hash) ([]*Commit, error) {
	seen := map[Hash]bool{}
	var out []*Commit
	stack := slices.Clone(tips)
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[h] {
			continue
		}
		c, err := db.Commit(h)
		if err != nil {
			return nil, err
		}
		seen[h] = true
		out = append(out, c)
		if c.Cut {
			continue
		}
		for _, p := range c.Parents {
			if !seen[p] {
				stack = append(stack, p)
			}
		}
	}
	return out, nil
}
