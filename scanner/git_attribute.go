package scanner

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/leakstop/leakstop/gitdb"
)

// fpPath names one credential at one path.
type fpPath struct{ fp, path string }

// snapshot is the pairing of one set of (path, blob) with hits; commits
// whose trees hold the same set share it.
type snapshot struct {
	findings []Finding // Locations carry no commit
	byKey    map[fpPath][]int
	// keys are the keys of byKey, sorted.
	keys []fpPath
	fps  map[string]bool
}

// attribution streams, commit by commit, the findings each candidate
// commit introduced.
type attribution struct {
	g    *gitScan
	tips []gitdb.Tip
	// done marks the credentials at a path already attributed.
	done   map[fpPath]bool
	infos  map[gitdb.Hash]*Commit
	atTips map[string][]string
}

// attribute pairs hits within each candidate commit's tree and emits, for
// each credential at each path, the commit that introduced it: the
// earliest candidate (by committer time, then hash) whose parents do not
// hold it at that path. With AllLocations every commit holding it is
// emitted. Candidates are visited oldest first, so the first commit
// found to introduce a credential is the one, and its findings are
// emitted at once.
func (g *gitScan) attribute(ctx context.Context, cands []*gitdb.Commit, tips []gitdb.Tip) error {
	a := &attribution{g: g, tips: tips, done: map[fpPath]bool{}, infos: map[gitdb.Hash]*Commit{}}
	slices.SortFunc(cands, func(x, y *gitdb.Commit) int {
		switch {
		case earlier(x, y):
			return -1
		case earlier(y, x):
			return 1
		}
		return 0
	})
	// Every candidate's tree is walked even when no blob had hits: the
	// walk proves the trees and blobs are there, and finds submodules.
	for _, c := range cands {
		if err := ctx.Err(); err != nil {
			return err
		}
		s, idx, err := a.introduced(c)
		if err != nil {
			return err
		}
		if len(idx) == 0 {
			continue
		}
		out, err := a.located(c, s, idx)
		if err != nil {
			return err
		}
		if err := g.emit(out); err != nil {
			return err
		}
	}
	g.tr.phase("attribute")
	if g.atTipsFn != nil {
		if a.atTips == nil {
			if err := a.loadAtTips(); err != nil {
				return err
			}
		}
		g.atTipsFn(a.atTips)
	}
	if g.allObjects {
		if err := g.emitUnreached(); err != nil {
			return err
		}
	}
	g.notes()
	return nil
}

// introduced returns c's snapshot and the findings of it that c
// introduced and that no earlier commit did.
func (a *attribution) introduced(c *gitdb.Commit) (*snapshot, []int, error) {
	g := a.g
	s, err := g.snapOf(c)
	if err != nil {
		return nil, nil, err
	}
	if len(s.findings) == 0 {
		return s, nil, nil
	}
	if g.allLocations {
		all := make([]int, len(s.findings))
		for i := range all {
			all[i] = i
		}
		return s, all, nil
	}
	var parents []*snapshot
	if !c.Cut {
		for _, ph := range c.Parents {
			p, ok := g.commits[ph]
			if !ok {
				// Outside the scanned range: its content is not new.
				if g.inRange && !g.wholeTrees {
					continue
				}
				if p, err = g.db.Commit(ph); err != nil {
					return nil, nil, err
				}
				g.commits[ph] = p
			}
			ps, err := g.snapOf(p)
			if err != nil {
				return nil, nil, err
			}
			if ps == s {
				return s, nil, nil // same content as a parent: nothing new
			}
			parents = append(parents, ps)
		}
	}
	var idx []int
	for _, k := range s.keys {
		if a.done[k] {
			continue
		}
		inParent := false
		for _, ps := range parents {
			if _, ok := ps.byKey[k]; ok {
				inParent = true
				break
			}
		}
		if inParent {
			continue
		}
		a.done[k] = true
		idx = append(idx, s.byKey[k]...)
	}
	return s, idx, nil
}

// located returns the findings idx of s with c as their commit.
func (a *attribution) located(c *gitdb.Commit, s *snapshot, idx []int) ([]Finding, error) {
	if a.atTips == nil {
		if err := a.loadAtTips(); err != nil {
			return nil, err
		}
	}
	ci, ok := a.infos[c.Hash]
	if !ok {
		var err error
		if ci, err = a.g.commitInfo(c.Hash); err != nil {
			return nil, err
		}
		a.infos[c.Hash] = ci
	}
	out := make([]Finding, 0, len(idx))
	for _, i := range idx {
		f := s.findings[i]
		f.Locations = slices.Clone(f.Locations)
		for j := range f.Locations {
			cp := *ci
			cp.AtTips = a.atTips[f.Fingerprint]
			f.Locations[j].Commit = &cp
		}
		out = append(out, f)
	}
	return out, nil
}

// loadAtTips finds, for each credential, the branch tips whose trees
// still hold it.
func (a *attribution) loadAtTips() error {
	a.atTips = map[string][]string{}
	seen := map[string]bool{}
	for _, t := range a.tips {
		if !t.Branch || seen[t.Name] {
			continue
		}
		seen[t.Name] = true
		c, ok := a.g.commits[t.Commit]
		if !ok {
			var err error
			if c, err = a.g.db.Commit(t.Commit); err != nil {
				return err
			}
			a.g.commits[t.Commit] = c
		}
		s, err := a.g.snapOf(c)
		if err != nil {
			return err
		}
		for fp := range s.fps {
			a.atTips[fp] = append(a.atTips[fp], t.Name)
		}
	}
	for _, v := range a.atTips {
		slices.Sort(v)
	}
	return nil
}

// emitUnreached reports blobs with hits that no scanned commit holds.
func (g *gitScan) emitUnreached() error {
	var hs []gitdb.Hash
	for h := range g.hits {
		if !g.walk.Reached(h) {
			hs = append(hs, h)
		}
	}
	slices.SortFunc(hs, func(a, b gitdb.Hash) int { return bytes.Compare(a[:], b[:]) })
	n := 0
	for _, h := range hs {
		fs := g.d.Pair([]FileHits{{Path: "", Hits: g.hits[h], Blob: h.String(), Binary: g.binary[h], State: StateCommitted}})
		if len(fs) == 0 {
			continue
		}
		n++
		if err := g.emit(fs); err != nil {
			return err
		}
	}
	if n > 0 {
		g.sum.Notes = append(g.sum.Notes, fmt.Sprintf("%d blob(s) with findings are not reachable from the scanned commits (--all-objects); they have no path or commit", n))
	}
	return nil
}

// commitInfo reads the provenance of a commit.
func (g *gitScan) commitInfo(h gitdb.Hash) (*Commit, error) {
	ci, err := g.db.Info(h)
	if err != nil {
		return nil, err
	}
	return &Commit{
		Hash: h.String(), Author: ci.Author, Email: ci.Email,
		Date: ci.When.Format(time.RFC3339), Summary: ci.Summary,
	}, nil
}

func earlier(a, b *gitdb.Commit) bool {
	if !a.When.Equal(b.When) {
		return a.When.Before(b.When)
	}
	return bytes.Compare(a.Hash[:], b.Hash[:]) < 0
}

// snapOf returns the pairing of c's tree.
func (g *gitScan) snapOf(c *gitdb.Commit) (*snapshot, error) {
	files, err := g.walk.Files(c.Tree)
	if err != nil {
		return nil, err
	}
	return g.snap(files), nil
}

// snap returns the pairing of a set of files with hits, memoised.
func (g *gitScan) snap(files []gitdb.File) *snapshot {
	if len(files) == 0 {
		return g.empty
	}
	var kb strings.Builder
	for _, e := range files {
		kb.WriteString(e.Path)
		kb.WriteByte(0)
		kb.Write(e.Blob[:])
	}
	key := kb.String()
	if s, ok := g.snaps[key]; ok {
		return s
	}
	fh := make([]FileHits, 0, len(files))
	for _, e := range files {
		fh = append(fh, FileHits{Path: e.Path, Hits: g.hits[e.Blob], Blob: e.Blob.String(), Binary: g.binary[e.Blob], State: StateCommitted})
	}
	s := &snapshot{findings: g.d.Pair(fh), byKey: map[fpPath][]int{}, fps: map[string]bool{}}
	for i, f := range s.findings {
		k := fpPath{f.Fingerprint, f.Locations[0].Path}
		if _, ok := s.byKey[k]; !ok {
			s.keys = append(s.keys, k)
		}
		s.byKey[k] = append(s.byKey[k], i)
		s.fps[f.Fingerprint] = true
	}
	slices.SortFunc(s.keys, func(x, y fpPath) int { return strings.Compare(x.fp+x.path, y.fp+y.path) })
	g.snaps[key] = s
	return s
}
