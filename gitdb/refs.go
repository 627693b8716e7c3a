package gitdb

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Tip is a ref whose history is scanned, with the commit it points at.
type Tip struct {
	// Name is "HEAD", a short branch or remote-branch name, or a full
	// ref name (tags, notes, …).
	Name   string
	Commit Hash
	// Branch is true for branch tips (and a detached HEAD): where
	// content can still be "at the tip".
	Branch bool
}

// ErrNotCommit is returned by Peel for a tag of a tree or blob.
var ErrNotCommit = errors.New("not a commit")

// Tips lists every ref and HEAD that points (through tags) at a commit.
// An unborn HEAD is no error; a ref to a missing object is.
func (db *DB) Tips() ([]Tip, error) {
	var tips []Tip
	iter, err := db.st.IterReferences()
	if err != nil {
		return nil, fmt.Errorf("read refs: %w", err)
	}
	defer iter.Close()
	err = iter.ForEach(func(r *plumbing.Reference) error {
		name := r.Name()
		if r.Type() == plumbing.SymbolicReference {
			if name != plumbing.HEAD {
				return nil
			}
			// An unborn HEAD (empty repository) is no error.
			rr, err := storer.ResolveReference(db.st, name)
			if errors.Is(err, plumbing.ErrReferenceNotFound) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("resolve HEAD: %w", err)
			}
			c, err := db.Peel(rr.Hash())
			if err != nil {
				return fmt.Errorf("resolve HEAD: %w", err)
			}
			tips = append(tips, Tip{Name: "HEAD", Commit: c})
			return nil
		}
		if r.Hash().IsZero() {
			return fmt.Errorf("ref %s: bad object id", name)
		}
		c, err := db.Peel(r.Hash())
		if errors.Is(err, ErrNotCommit) {
			// A tag of a tree or blob: its blobs are in the object scan.
			return nil
		}
		if err != nil {
			return fmt.Errorf("ref %s: %w", name, err)
		}
		t := Tip{Name: name.String(), Commit: c}
		switch {
		case name.IsBranch():
			t.Name, t.Branch = name.Short(), true
		case name.IsRemote():
			if strings.HasSuffix(name.String(), "/HEAD") {
				break
			}
			t.Name, t.Branch = name.Short(), true
		}
		tips = append(tips, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read refs: %w", err)
	}
	// HEAD is a branch tip of its own only when detached.
	head := -1
	for i, t := range tips {
		if t.Name == "HEAD" {
			head = i
		}
	}
	if head >= 0 {
		detached := true
		if r, err := db.st.Reference(plumbing.HEAD); err == nil && r.Type() == plumbing.SymbolicReference {
			detached = false
		}
		tips[head].Branch = detached
	}
	return tips, nil
}

// ResolveCommit resolves a revision (a commit id, branch, tag, "HEAD~2",
// …) to the commit it names, following annotated tags. As git does, a
// name that is both a ref and the prefix of an object id ("a", "cafe")
// names the ref.
func (db *DB) ResolveCommit(rev string) (Hash, error) {
	name, rest := rev, ""
	if i := strings.IndexAny(rev, "~^@:{"); i >= 0 {
		name, rest = rev[:i], rev[i:]
	}
	if name != "" && !(len(name) == 40 && plumbing.IsHash(name)) {
		// go-git tries a hex name as an abbreviated object id before
		// the refs: look the refs up first, in git's order.
		for _, rule := range plumbing.RefRevParseRules {
			ref, err := storer.ResolveReference(db.st, plumbing.ReferenceName(fmt.Sprintf(rule, name)))
			if err != nil {
				continue
			}
			c, err := db.Peel(ref.Hash())
			if err != nil || rest == "" {
				return c, err
			}
			rev = c.String() + rest
			break
		}
	}
	h, err := db.repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return db.Peel(*h)
}

// Head returns the commit HEAD points at; ok is false on an unborn
// branch.
func (db *DB) Head() (h Hash, ok bool, err error) {
	head, err := db.repo.Head()
	switch {
	case errors.Is(err, plumbing.ErrReferenceNotFound):
		return plumbing.ZeroHash, false, nil
	case err != nil:
		return plumbing.ZeroHash, false, fmt.Errorf("resolve HEAD: %w", err)
	}
	return head.Hash(), true, nil
}

// Peel follows annotated tags to the commit they name.
func (db *DB) Peel(h Hash) (Hash, error) {
	for range 16 {
		typ, data, err := db.Read(h)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		switch typ {
		case plumbing.CommitObject:
			return h, nil
		case plumbing.TagObject:
			target, ok := bytes.CutPrefix(data, []byte("object "))
			if !ok || len(target) < 40 || !plumbing.IsHash(string(target[:40])) {
				return plumbing.ZeroHash, fmt.Errorf("read tag %s: %w: malformed", h, ErrCorrupt)
			}
			h = plumbing.NewHash(string(target[:40]))
		default:
			return plumbing.ZeroHash, ErrNotCommit
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("tag %s: chain too long", h)
}
