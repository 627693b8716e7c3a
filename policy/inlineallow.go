package policy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/leakstop/leakstop/scanner"
)

// On a proposal, an inline leakstop:allow is honoured only when the line
// it is on is already in the base commit's version of the file: a
// proposal that adds a credential cannot hide it by adding the comment on
// its line. The proposal is scanned a second time with inline allows
// disabled (scanner.WithInlineAllow(false)); a location only that scan
// finds is on an allowed line.

// HonoursInlineAllows reports whether every inline allow counts (true
// unless the policy is a proposal's): when false, the caller scans a
// second time with inline allows disabled and hands both results to
// InlineAllowed.
func (p *Policy) HonoursInlineAllows() bool { return p.proposal == nil }

// InlineAllowed is what a proposal's inline allows let through.
type InlineAllowed struct {
	// Findings are those to report: the scan's with allows honoured, plus
	// the locations only the scan without allows has whose line is not
	// already in the base commit's file.
	Findings []scanner.Finding
	// Added holds the fingerprints of findings reported for such
	// locations alone: the proposal's own allow would hide them.
	Added map[string]bool
	// Kept counts the locations left out for an allow the base commit's
	// line already has.
	Kept int
}

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

// InlineAllowed compares the findings of the scan with inline allows
// (honoured) and of the scan without them (all). Without a proposal it
// returns honoured as it is.
func (p *Policy) InlineAllowed(ctx context.Context, honoured, all []scanner.Finding, warnf func(string, ...any)) InlineAllowed {
	res := InlineAllowed{Added: map[string]bool{}}
	if p.proposal == nil {
		res.Findings = honoured
		return res
	}
	pr := p.proposal
	seen := map[locKey]bool{}
	byFP := map[string]int{}
	out := append([]scanner.Finding(nil), honoured...)
	for i, f := range honoured {
		byFP[f.Fingerprint] = i
		for _, l := range f.Locations {
			seen[keyOf(l)] = true
		}
	}
	baseLines := map[string]map[string]bool{} // path → trimmed lines
	blobs := map[string][]string{}            // blob or path → lines
	for _, f := range all {
		var extra []scanner.Location
		for _, l := range f.Locations {
			if seen[keyOf(l)] {
				continue
			}
			text, ok := pr.headLine(ctx, l, blobs)
			if ok {
				bl, done := baseLines[l.Path]
				if !done {
					bl = map[string]bool{}
					data, found, err := pr.Git.FileAt(ctx, pr.Base, l.Path)
					if err != nil {
						if warnf != nil {
							warnf("%s at the base commit: %v; its inline %s is not honoured", l.Path, err, scanner.AllowComment)
						}
					} else if found {
						for _, s := range splitLines(data) {
							bl[s] = true
						}
					}
					baseLines[l.Path] = bl
				}
				if bl[text] {
					res.Kept++
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
		res.Added[f.Fingerprint] = true
	}
	res.Findings = out
	return res
}

// headLine returns the text of l's line in the proposal, trimmed: from
// its blob, else from the checkout.
func (pr *Proposal) headLine(ctx context.Context, l scanner.Location, cache map[string][]string) (string, bool) {
	key := "blob:" + l.Blob
	if l.Blob == "" {
		key = "path:" + l.Path
	}
	lines, ok := cache[key]
	if !ok {
		var data []byte
		var err error
		if l.Blob != "" {
			data, err = pr.Git.Blob(ctx, l.Blob)
		} else {
			data, err = os.ReadFile(filepath.Join(pr.Worktree, filepath.FromSlash(l.Path)))
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
