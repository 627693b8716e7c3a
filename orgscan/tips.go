package orgscan

import (
	"maps"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/leakstop/leakstop/gitdb"
	"github.com/leakstop/leakstop/scanner"
)

// branchTips keeps, in a range scan's tips by fingerprint and in its
// findings' commits, the branches, by their names.
func branchTips(byFP map[string][]string, branchOf map[string]string, fs []scanner.Finding) map[string][]string {
	keep := func(revs []string) []string {
		out := []string{}
		for _, r := range revs {
			if b, ok := branchOf[r]; ok {
				out = append(out, b)
			}
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	out := make(map[string][]string, len(byFP))
	for fp, revs := range byFP {
		if b := keep(revs); len(b) > 0 {
			out[fp] = b
		}
	}
	for i := range fs {
		for j := range fs[i].Locations {
			if c := fs[i].Locations[j].Commit; c != nil {
				c.AtTips = keep(c.AtTips)
			}
		}
	}
	return out
}

// revisionOf names a tip for the range scan: by its name, so that
// findings say which branches still hold them, when the name resolves
// to the tip (a branch "v1" beside a tag "v1" resolves to the tag: then
// its full ref name), else by its commit id.
func revisionOf(db *gitdb.DB, t gitdb.Tip) string {
	names := []string{t.Name}
	if t.Branch && !strings.HasPrefix(t.Name, "refs/") {
		names = append(names, "refs/heads/"+t.Name)
	}
	for _, n := range names {
		if strings.ContainsAny(n, "~^@:{") {
			continue // not a revision by name
		}
		if c, err := db.ResolveCommit(n); err == nil && c == t.Commit {
			return n
		}
	}
	return t.Commit.String()
}

// uniqueCommits returns the distinct commits of a tips map, sorted.
func uniqueCommits(tips map[string]string) []string {
	out := slices.Collect(maps.Values(tips))
	slices.Sort(out)
	return slices.Compact(out)
}

func hashes(hexes []string) []gitdb.Hash {
	out := make([]gitdb.Hash, len(hexes))
	for i, h := range hexes {
		out[i] = plumbing.NewHash(h)
	}
	return out
}
