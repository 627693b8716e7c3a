package ghaction

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/leakstop/leakstop/scanner"
)

// On a proposal (unless trust-pr-config), an inline leakstop:allow is
// honoured only when the line it is on is already in the base commit's
// version of the file: a proposal that adds a credential cannot hide it
// by adding the comment on its line. The proposal is scanned a second
// time with inline allows disabled; a location only that scan finds is
// on an allowed line.

// locKey identifies a finding's location across the two scans.
type locKey struct {
	path, blob, commit string
	line, col          int
	encoding           string
}

func keyOf(l scanner.Location) locKey {
	k := locKey{path: l.Path, blob: l.Blob, line: l.Line, col: l.Column, encoding: l.Encoding}
	if l.Commit != nil {
		k.commit = l.Commit.Hash
	}
	return k
}

// inlineAllowNote says why a finding on a leakstop:allow line is still
// reported.
func inlineAllowNote(scope Scope) string {
	return "allowed by an inline " + scanner.AllowComment + " that this " + scope.proposalNoun() +
		" adds: it takes effect once a maintainer merges it"
}

// inlineAllowed compares the findings of the scan with inline allows
// (honoured) and of the scan without them (all). It returns the findings
// to report: those of honoured, plus the locations only all has whose
// line is not already in the base commit's file; and the fingerprints
// of the findings reported for such locations alone; kept counts the
// locations whose allow the base commit already has.
func inlineAllowed(ctx context.Context, g *gitRepo, ws, base string, honoured, all []scanner.Finding,
	warnf func(string, ...any)) (out []scanner.Finding, added map[string]bool, kept int) {
	seen := map[locKey]bool{}
	byFP := map[string]int{}
	out = append(out, honoured...)
	for i, f := range honoured {
		byFP[f.Fingerprint] = i
		for _, l := range f.Locations {
			seen[keyOf(l)] = true
		}
	}
	added = map[string]bool{}
	baseLines := map[string]map[string]bool{} // path → trimmed lines
	blobs := map[string][]string{}            // blob or path → lines
	for _, f := range all {
		var extra []scanner.Location
		for _, l := range f.Locations {
			if seen[keyOf(l)] {
				continue
			}
			text, ok := headLine(ctx, g, ws, l, blobs)
			if ok {
				bl, done := baseLines[l.Path]
				if !done {
					bl = map[string]bool{}
					data, found, err := g.fileAt(ctx, base, l.Path)
					if err != nil {
						warnf("%s at the base commit: %v; its inline %s is not honoured", l.Path, err, scanner.AllowComment)
					} else if found {
						for _, s := range splitLines(data) {
							bl[s] = true
						}
					}
					baseLines[l.Path] = bl
				}
				if bl[text] {
					kept++
					continue // already allowed on the base branch
				}
			}
			extra = append(extra, l)
		}
		if len(extra) == 0 {
			continue
		}
		if i, ok := byFP[f.Fingerprint]; ok {
			out[i].Locations = append(slices.Clip(out[i].Locations), extra...)
			continue
		}
		nf := f
		nf.Locations = extra
		byFP[f.Fingerprint] = len(out)
		out = append(out, nf)
		added[f.Fingerprint] = true
	}
	return out, added, kept
}

// headLine returns the text of l's line in the proposal, trimmed: from
// its blob, else from the checkout.
func headLine(ctx context.Context, g *gitRepo, ws string, l scanner.Location, cache map[string][]string) (string, bool) {
	key := "blob:" + l.Blob
	if l.Blob == "" {
		key = "path:" + l.Path
	}
	lines, ok := cache[key]
	if !ok {
		var data []byte
		var err error
		if l.Blob != "" {
			data, err = g.runBytes(ctx, nil, "cat-file", "blob", l.Blob)
		} else {
			data, err = os.ReadFile(filepath.Join(ws, filepath.FromSlash(l.Path)))
		}
		if err == nil {
			lines = splitLines(data)
		}
		cache[key] = lines
	}
	if l.Line < 1 || l.Line > len(lines) {
		return "", false
	}
	return lines[l.Line-1], true
}

// splitLines splits data into lines without their trailing whitespace
// (and carriage returns).
func splitLines(data []byte) []string {
	lines := strings.Split(string(data), "\n")
	for i, s := range lines {
		lines[i] = strings.TrimRight(s, " \t\r")
	}
	return lines
}
