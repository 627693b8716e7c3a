package ghaction

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/leakstop/leakstop/gitdb"
	"github.com/leakstop/leakstop/rules"
	"github.com/leakstop/leakstop/scanner"
)

// A proposal's range scan attributes each credential to the commit of the
// range that introduced it, at the line it had there. What a reviewer
// needs is where it is now, in the head version, and whether the
// proposal added it at all: placement maps the findings to the head and
// sorts them into what the proposal adds, what a later commit of it
// removed again, and what its base commit already holds.

// standing is where a proposal's finding stands.
type standing int

const (
	// added: the proposal adds it and its head holds it (at the head's
	// lines, with the commit of the range that introduced it).
	added standing = iota
	// removedLater: a commit of the proposal added it and a later one
	// removed it; its head does not hold it, its history does (located
	// at the introducing commit's path and line).
	removedLater
	// preExisting: the base commit already holds it in a file the
	// proposal changes: a notice, which does not fail the run.
	preExisting
)

// Remarks for the reports.
const (
	removedRemark = "removed later in this pull request; still in history"
	preRemark     = "already on the base branch"
)

// placement is the findings of a proposal, mapped to its head.
type placement struct {
	// base is the commit whose tree decided what is pre-existing ("" when
	// the scope is not a proposal: every finding is then added).
	base   string
	noun   string
	status map[string]standing
}

func (p placement) of(fp string) standing { return p.status[fp] }

// count is the number of findings with standing s.
func (p placement) count(s standing) int {
	n := 0
	for _, v := range p.status {
		if v == s {
			n++
		}
	}
	return n
}

// remark is what a finding's report says of its standing.
func (p placement) remark(fp string) string {
	switch p.of(fp) {
	case removedLater:
		return strings.ReplaceAll(removedRemark, "pull request", p.noun)
	case preExisting:
		return preRemark + " (base commit " + short(p.base) + "): the " + p.noun + " does not add it"
	}
	return ""
}

// place maps findings, from the range scan of scope (mergeBase..head),
// to scope.Head and sorts them by standing. The head's and the base's
// versions of the files the proposal changes (and of those the findings
// are in) are scanned again, with
// the detector of the same rules, inline allows disabled (only the
// fingerprints already found are looked up: nothing new is reported).
//
// Pre-existence is decided on the base commit's versions of the files the
// proposal changes, not on its whole tree: the cost is bounded by the
// proposal's size, and a credential the base holds only in a file the
// proposal leaves alone counts as added when the proposal copies it —
// an error on the side of failing, never of passing.
func place(ctx context.Context, g *gitRepo, set *rules.Set, scope Scope, mergeBase string, findings []scanner.Finding) ([]scanner.Finding, placement, error) {
	p := placement{base: scope.Base, noun: scope.proposalNoun(), status: map[string]standing{}}
	if len(findings) == 0 {
		return findings, p, nil
	}
	d, err := scanner.NewDetector(set, scanner.WithInlineAllow(false))
	if err != nil {
		return nil, p, err
	}
	var touched map[string]bool
	if mergeBase != "" {
		out, err := g.Output(ctx, nil, "diff", "--name-only", "-z", "--no-renames", "--no-ext-diff", mergeBase, scope.Head)
		if err != nil {
			return nil, p, fmt.Errorf("list the files the %s changes: %w", p.noun, err)
		}
		touched = map[string]bool{}
		for _, name := range strings.Split(string(out), "\x00") {
			if name != "" {
				touched[name] = true
			}
		}
		// And wherever the range scan found them: a file a commit of the
		// proposal changed and a later one changed back is in no diff.
		for _, f := range findings {
			for _, l := range f.Locations {
				touched[l.Path] = true
				if l.IdentifierPath != "" {
					touched[l.IdentifierPath] = true
				}
			}
		}
	}
	db, err := gitdb.Open(g.Dir)
	if err != nil {
		return nil, p, fmt.Errorf("open git repository %s: %w", g.Dir, err)
	}
	defer db.Close()
	head, err := snapshotFindings(ctx, db, d, scope.Head, touched)
	if err != nil {
		return nil, p, err
	}
	base, err := snapshotFindings(ctx, db, d, scope.Base, touched)
	if err != nil {
		return nil, p, err
	}
	out := make([]scanner.Finding, 0, len(findings))
	for _, f := range findings {
		f.Locations = slices.Clone(f.Locations)
		now := head[f.Fingerprint]
		switch {
		case len(base[f.Fingerprint]) > 0:
			p.status[f.Fingerprint] = preExisting
			if len(now) > 0 {
				f.Locations = slices.Clone(now)
			}
			for i := range f.Locations {
				f.Locations[i].Commit = nil // not a commit of the proposal
			}
		case len(now) > 0:
			p.status[f.Fingerprint] = added
			f.Locations = atHead(now, f.Locations)
		default:
			p.status[f.Fingerprint] = removedLater
		}
		out = append(out, f)
	}
	return out, p, nil
}

// atHead gives each head location the commit that introduced the
// credential: the range scan's at the same path, else the earliest the
// range scan names.
func atHead(now, was []scanner.Location) []scanner.Location {
	var first *scanner.Commit
	byPath := map[string]*scanner.Commit{}
	for _, l := range was {
		if l.Commit == nil {
			continue
		}
		if _, ok := byPath[l.Path]; !ok {
			byPath[l.Path] = l.Commit
		}
		if first == nil || l.Commit.Date < first.Date {
			first = l.Commit
		}
	}
	out := slices.Clone(now)
	for i := range out {
		if c, ok := byPath[out[i].Path]; ok {
			out[i].Commit = c
		} else {
			out[i].Commit = first
		}
	}
	return out
}

// snapshotFindings scans the files of commit's tree (only those in paths,
// when paths is not nil) and returns the locations of each fingerprint.
func snapshotFindings(ctx context.Context, db *gitdb.DB, d *scanner.Detector, commit string, paths map[string]bool) (map[string][]scanner.Location, error) {
	files, err := snapshotFiles(db, commit, paths)
	if err != nil {
		return nil, fmt.Errorf("list the files of %s: %w", short(commit), err)
	}
	var mu sync.Mutex
	hits := map[gitdb.Hash][]scanner.Hit{}
	blobs := make([]gitdb.Hash, 0, len(files))
	seen := map[gitdb.Hash]bool{}
	for _, f := range files {
		if !seen[f.Blob] {
			seen[f.Blob] = true
			blobs = append(blobs, f.Blob)
		}
	}
	err = db.ReadBlobs(ctx, 2, blobs, func(h gitdb.Hash, data []byte) {
		if hs := d.ContentHits(data); len(hs) > 0 {
			mu.Lock()
			hits[h] = hs
			mu.Unlock()
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read the files of %s: %w", short(commit), err)
	}
	var fh []scanner.FileHits
	for _, f := range files {
		if hs := hits[f.Blob]; len(hs) > 0 {
			fh = append(fh, scanner.FileHits{Path: f.Path, Hits: hs, Blob: f.Blob.String()})
		}
	}
	locs := map[string][]scanner.Location{}
	for _, f := range d.Pair(fh) {
		locs[f.Fingerprint] = append(locs[f.Fingerprint], f.Locations...)
	}
	for _, ls := range locs {
		slices.SortFunc(ls, func(a, b scanner.Location) int {
			return cmp.Or(strings.Compare(a.Path, b.Path), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
		})
	}
	return locs, nil
}

// snapshotFiles lists the files of commit's tree (symbolic links and
// submodules left out), only those in paths when paths is not nil.
func snapshotFiles(db *gitdb.DB, commit string, paths map[string]bool) ([]gitdb.File, error) {
	h, err := db.ResolveCommit(commit)
	if err != nil {
		return nil, err
	}
	c, err := db.Commit(h)
	if err != nil {
		return nil, err
	}
	all, err := db.NewTreeWalker(func(gitdb.Hash) bool { return true }).Files(c.Tree)
	if err != nil {
		return nil, err
	}
	var files []gitdb.File
	for _, f := range all {
		if paths == nil || paths[f.Path] {
			files = append(files, f)
		}
	}
	return files, nil
}
