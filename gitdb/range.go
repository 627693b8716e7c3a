package gitdb

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Range selects commits as git rev-list does: those reachable from any
// of Include and from none of Exclude. Each is a revision: a commit id,
// a branch or tag name, "HEAD~2", …
type Range struct {
	Include []string
	Exclude []string
}

// BaseHead is the range of what head adds to base: git's BASE..HEAD, the
// commits of a pull request or a push.
func BaseHead(base, head string) Range {
	return Range{Include: []string{head}, Exclude: []string{base}}
}

// IsZero reports whether r is the zero Range (no range given).
func (r Range) IsZero() bool { return len(r.Include) == 0 && len(r.Exclude) == 0 }

// String writes r in git's notation: "BASE..HEAD" for a BaseHead range,
// else "INCLUDE… ^EXCLUDE…".
func (r Range) String() string {
	if len(r.Include) == 1 && len(r.Exclude) == 1 {
		return r.Exclude[0] + ".." + r.Include[0]
	}
	parts := slices.Clone(r.Include)
	for _, e := range r.Exclude {
		parts = append(parts, "^"+e)
	}
	return strings.Join(parts, " ")
}

// ErrBadRange is returned by ParseRange for what is not "BASE..HEAD".
var ErrBadRange = errors.New("want BASE..HEAD")

// ParseRange reads git's "BASE..HEAD" notation ("BASE...HEAD" is read the
// same way: what HEAD adds).
func ParseRange(s string) (Range, error) {
	base, head, ok := strings.Cut(s, "..")
	head = strings.TrimPrefix(head, ".")
	if !ok || base == "" || head == "" {
		return Range{}, fmt.Errorf("bad range %q: %w", s, ErrBadRange)
	}
	return BaseHead(base, head), nil
}

// RangeCommits returns the commits reachable from include and not from
// exclude, walking the histories newest first and stopping when only
// commits reachable from exclude remain, as git rev-list does. Shallow
// boundaries end the walk.
func (db *DB) RangeCommits(ctx context.Context, include, exclude []Hash) ([]*Commit, error) {
	const fromBase, fromHead = 1, 2
	loaded := map[Hash]*Commit{}
	flags := map[Hash]uint8{}
	q := &commitQueue{}
	push := func(h Hash, f uint8) error {
		old := flags[h]
		if old|f == old {
			return nil
		}
		flags[h] = old | f
		c, ok := loaded[h]
		if !ok {
			var err error
			if c, err = db.Commit(h); err != nil {
				return err
			}
			loaded[h] = c
		}
		heap.Push(q, c)
		return nil
	}
	for _, h := range exclude {
		if err := push(h, fromBase); err != nil {
			return nil, err
		}
	}
	for _, h := range include {
		if err := push(h, fromHead); err != nil {
			return nil, err
		}
	}
	var out []*Commit
	done := map[Hash]bool{}
	for q.Len() > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// Stop when every queued commit is reachable from base.
		interesting := false
		for _, c := range *q {
			if flags[c.Hash]&fromBase == 0 {
				interesting = true
				break
			}
		}
		if !interesting {
			break
		}
		c := heap.Pop(q).(*Commit)
		f := flags[c.Hash]
		if f == fromHead && !done[c.Hash] {
			done[c.Hash] = true
			out = append(out, c)
		}
		if c.Cut {
			continue
		}
		for _, p := range c.Parents {
			if err := push(p, f); err != nil {
				return nil, err
			}
		}
	}
	// A commit listed early may have been reached from base later (clock
	// skew): drop it.
	out = slices.DeleteFunc(out, func(c *Commit) bool { return flags[c.Hash]&fromBase != 0 })
	return out, nil
}

type commitQueue []*Commit

func (q commitQueue) Len() int           { return len(q) }
func (q commitQueue) Less(i, j int) bool { return q[i].When.After(q[j].When) }
func (q commitQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *commitQueue) Push(x any)        { *q = append(*q, x.(*Commit)) }
func (q *commitQueue) Pop() any {
	old := *q
	c := old[len(old)-1]
	*q = old[:len(old)-1]
	return c
}

// AddedBlobs returns the blobs that commits add: for each commit, the
// blobs of its tree that none of its parents' trees hold at the same path,
// found by diffing trees (equal subtrees are skipped by hash). It also
// returns the paths of the submodules those trees add or change. The
// parents of a commit need not be in commits.
func (db *DB) AddedBlobs(ctx context.Context, commits []*Commit) (blobs []Hash, gitlinks []string, err error) {
	byHash := make(map[Hash]*Commit, len(commits))
	for _, c := range commits {
		byHash[c.Hash] = c
	}
	d := &treeDiffer{db: db, out: map[Hash]bool{}, gitlinks: map[string]bool{}}
	for _, c := range commits {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		var ptrees []Hash
		for _, ph := range c.Parents {
			if c.Cut {
				break
			}
			p, ok := byHash[ph]
			if !ok {
				if p, err = db.Commit(ph); err != nil {
					return nil, nil, err
				}
			}
			ptrees = append(ptrees, p.Tree)
		}
		if err := d.diff(c.Tree, ptrees, ""); err != nil {
			return nil, nil, err
		}
	}
	for h := range d.out {
		blobs = append(blobs, h)
	}
	for p := range d.gitlinks {
		gitlinks = append(gitlinks, p)
	}
	slices.SortFunc(blobs, func(a, b Hash) int { return strings.Compare(string(a[:]), string(b[:])) })
	slices.Sort(gitlinks)
	return blobs, gitlinks, nil
}

// treeDiffer finds the blobs of a tree that none of its parents' trees
// hold at the same path.
type treeDiffer struct {
	db       *DB
	out      map[Hash]bool
	gitlinks map[string]bool
}

type rawEntry struct {
	mode uint32
	hash Hash
}

func (d *treeDiffer) entries(tree Hash) (map[string]rawEntry, []string, error) {
	raw, err := d.db.ReadTyped(ObjectTree, tree)
	if err != nil {
		return nil, nil, fmt.Errorf("read tree %s: %w", tree, err)
	}
	m := map[string]rawEntry{}
	var names []string
	err = ParseTree(raw, func(e TreeEntry) error {
		n := string(e.Name)
		m[n] = rawEntry{e.Mode, e.Hash}
		names = append(names, n)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read tree %s: %w", tree, err)
	}
	return m, names, nil
}

func (d *treeDiffer) diff(tree Hash, parents []Hash, prefix string) error {
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
		var sub []Hash
		for _, pm := range pms {
			pe, ok := pm[n]
			if !ok {
				continue
			}
			if pe.hash == e.hash {
				same = true
				break
			}
			if pe.mode&ModeTypeMask == ModeDir {
				sub = append(sub, pe.hash)
			}
		}
		if same {
			continue
		}
		switch e.mode & ModeTypeMask {
		case ModeDir:
			if err := d.diff(e.hash, sub, prefix+n+"/"); err != nil {
				return err
			}
		case ModeGitlink:
			d.gitlinks[prefix+n] = true
		case ModeSymlink:
		default:
			d.out[e.hash] = true
		}
	}
	return nil
}
