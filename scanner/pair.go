package scanner

import (
	"github.com/leakstop/leakstop/credential"
	"slices"
	"strings"

	"github.com/leakstop/leakstop/rules"
	"github.com/leakstop/leakstop/secret"
)

// FileHits is what the detector found in one file of a snapshot.
type FileHits struct {
	Path string
	Hits []Hit
	// Blob and Commit are provenance for the locations, when known.
	Blob   string
	Commit *Commit
	// Binary says the hits are in the printable runs of binary content.
	Binary bool
	// State is where the content is in a repository (see Location.State).
	State string
}

// maxCrossFileIdentifiers bounds cross-file pairing: a secret with no
// identifier in its own file pairs with each identifier of the snapshot
// only when there are this few of them; past that the pairing says nothing.
const maxCrossFileIdentifiers = 4

type idHit struct {
	file int
	hit  *Hit
}

// Pair joins identifiers and secrets of one snapshot (a directory, or the
// tree of one commit) into findings. Within a file a secret pairs with the
// nearest identifier; a secret with no identifier in its file pairs with
// the identifiers of the other files.
func (d *Detector) Pair(files []FileHits) []Finding {
	files = d.dropAllowedPaths(files)
	var out []Finding
	for _, p := range d.set.Pairs {
		out = append(out, d.pairOne(p, files)...)
	}
	return append(out, d.standalone(files)...)
}

// standalone reports the hits of secret rules that belong to no pair (a
// user's own rules): each hit is a finding by itself.
func (d *Detector) standalone(files []FileHits) []Finding {
	var out []Finding
	for _, f := range files {
		for i := range f.Hits {
			h := &f.Hits[i]
			if h.Rule.Kind != rules.Secret || len(d.set.PairFor(h.Rule.ID)) > 0 {
				continue
			}
			out = append(out, Finding{
				RuleID: h.Rule.ID, Description: h.Rule.Description, Credential: "secret",
				Secret: secret.New(h.Value), Confidence: Medium, Test: h.Test,
				Fingerprint: Fingerprint(h.Rule.ID, "", h.Value),
				Locations: []Location{{Path: f.Path, Line: h.Line, Column: h.Column, EndColumn: h.EndColumn,
					Offset: int64(h.Offset), Binary: f.Binary, State: f.State,
					Encoding: h.Encoding, Commit: f.Commit, Blob: f.Blob}},
			})
		}
	}
	return out
}

func (d *Detector) dropAllowedPaths(files []FileHits) []FileHits {
	kept := files[:0:0]
	for _, f := range files {
		if d.set.Allowlist.AllowsPath(f.Path) {
			continue
		}
		hits := f.Hits[:0:0]
		for _, h := range f.Hits {
			if !h.Rule.Allowlist.AllowsPath(f.Path) {
				hits = append(hits, h)
			}
		}
		f.Hits = hits
		kept = append(kept, f)
	}
	return kept
}

func (d *Detector) pairOne(p *rules.Pair, files []FileHits) []Finding {
	rank := map[string]int{}
	for i, s := range p.Secrets {
		rank[s] = i
	}
	// ids[fi] are the identifiers of file fi, in offset order (hits are).
	ids := make([][]idHit, len(files))
	distinct := map[string]idHit{}
	for fi := range files {
		for hi := range files[fi].Hits {
			h := &files[fi].Hits[hi]
			if h.Rule.ID == p.Identifier {
				ids[fi] = append(ids[fi], idHit{fi, h})
				if _, ok := distinct[h.Value]; !ok {
					distinct[h.Value] = idHit{fi, h}
				}
			}
		}
	}
	var out []Finding
	for fi, f := range files {
		secrets := bestSecrets(f.Hits, rank)
		for _, s := range secrets {
			near, sameFile := nearestID(ids[fi], s)
			var cands []idHit
			if near == nil && p.CrossFile && len(distinct) > 0 {
				cands = crossCandidates(files, fi, distinct)
			}
			switch {
			case near != nil && sameFile:
				conf := Medium
				if s.Rule.Near == "" && abs(near.hit.Line-s.Line) <= p.Window {
					conf = High
				}
				out = append(out, d.finding(p, files, fi, s, near, conf))
			case len(cands) > 0:
				// Honest confidence: medium only for a secret whose own
				// name says Twilio and the one SID it can belong to.
				conf := Low
				if len(cands) == 1 && s.Name == rules.NameOwner {
					conf = Medium
				}
				for _, id := range cands {
					out = append(out, d.finding(p, files, fi, s, &id, conf))
				}
			case s.Rule.ReportUnpaired:
				out = append(out, d.finding(p, files, fi, s, nil, Low))
			}
		}
	}
	return out
}

// crossCandidates returns the identifiers of other files that a secret of
// file fi may pair with, in value order: every distinct one of the
// snapshot when there are few; else those of the nearest directory above
// fi that holds any, when there are few there; else none.
func crossCandidates(files []FileHits, fi int, distinct map[string]idHit) []idHit {
	pick := func(in func(path string) bool) []idHit {
		var out []idHit
		for _, id := range distinct {
			if in(files[id.file].Path) {
				out = append(out, id)
			}
		}
		slices.SortFunc(out, func(a, b idHit) int { return strings.Compare(a.hit.Value, b.hit.Value) })
		return out
	}
	if len(distinct) <= maxCrossFileIdentifiers {
		return pick(func(string) bool { return true })
	}
	dir := files[fi].Path
	for dir != "" {
		i := strings.LastIndexByte(dir, '/')
		if i < 0 {
			dir = ""
			break
		}
		dir = dir[:i]
		if ids := pick(func(p string) bool { return strings.HasPrefix(p, dir+"/") }); len(ids) > 0 {
			if len(ids) <= maxCrossFileIdentifiers {
				return ids
			}
			return nil
		}
	}
	return nil
}

// bestSecrets returns the secret hits of a pair in one file, one per place:
// where several rules found the same value, the one with most context wins.
func bestSecrets(hits []Hit, rank map[string]int) []*Hit {
	var out []*Hit
	for i := range hits {
		h := &hits[i]
		r, ok := rank[h.Rule.ID]
		if !ok {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Value == h.Value && abs(out[n-1].Offset-h.Offset) < 64 {
			if r < rank[out[n-1].Rule.ID] {
				out[n-1] = h
			}
			continue
		}
		out = append(out, h)
	}
	return out
}

// nearestID returns the identifier of s's file closest to s: fewest lines
// away, then fewest bytes. ids are in offset order, and lines grow with
// offsets, so the nearest is one of the two neighbours of s's place.
func nearestID(ids []idHit, s *Hit) (*idHit, bool) {
	i, _ := slices.BinarySearchFunc(ids, s.Offset, func(id idHit, off int) int { return id.hit.Offset - off })
	var best *idHit
	for _, j := range []int{i - 1, i} {
		if j < 0 || j >= len(ids) {
			continue
		}
		if best == nil || distance(ids[j].hit, s) < distance(best.hit, s) {
			best = &ids[j]
		}
	}
	return best, best != nil
}

// distance orders identifiers by how near they stand to a secret: fewer
// lines apart first; at equal lines an identifier before the secret (the
// way people write SID then token) before one after it; then fewer bytes.
func distance(id, s *Hit) int {
	d := abs(id.Line-s.Line) * 4_000_000_000
	if id.Offset > s.Offset {
		d += 2_000_000_000
	}
	return d + abs(id.Offset-s.Offset)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func (d *Detector) finding(p *rules.Pair, files []FileHits, fi int, s *Hit, id *idHit, conf Confidence) Finding {
	f := files[fi]
	loc := Location{
		Path: f.Path, Line: s.Line, Column: s.Column, EndColumn: s.EndColumn,
		Offset: int64(s.Offset), Binary: f.Binary, State: f.State,
		Encoding: s.Encoding, Commit: f.Commit, Blob: f.Blob,
	}
	fd := Finding{
		RuleID: p.ID, Description: p.Description, Credential: p.Credential,
		Secret: secret.New(s.Value), Confidence: conf, Test: s.Test,
	}
	if id != nil {
		fd.Identifier = id.hit.Value
		// A SID named for test credentials makes its pair a test one only
		// when the secret has no name of its own to say otherwise.
		fd.Test = fd.Test || id.hit.Test && s.Name == rules.NameNone
		loc.IdentifierLine = id.hit.Line
		loc.IdentifierPath = files[id.file].Path
	} else {
		fd.RuleID = s.Rule.ID
		fd.Description = s.Rule.Description
	}
	fd.Fingerprint = Fingerprint(fd.RuleID, fd.Identifier, s.Value)
	fd.Locations = []Location{loc}
	if p.Credential == credential.APIKey {
		fd.Account = accountNear(files, fi, s)
	}
	return fd
}

// accountNear finds an Account SID for an API key: the nearest one in the
// same file, else the only one in the snapshot.
func accountNear(files []FileHits, fi int, s *Hit) string {
	var best *Hit
	for i := range files[fi].Hits {
		h := &files[fi].Hits[i]
		if h.Rule.Kind == rules.Identifier && len(h.Value) == 34 && h.Value[:2] == "AC" {
			if best == nil || distance(h, s) < distance(best, s) {
				best = h
			}
		}
	}
	if best != nil {
		return best.Value
	}
	seen := map[string]bool{}
	for _, f := range files {
		for _, h := range f.Hits {
			if h.Rule.Kind == rules.Identifier && len(h.Value) == 34 && h.Value[:2] == "AC" {
				seen[h.Value] = true
			}
		}
	}
	if len(seen) == 1 {
		for v := range seen {
			return v
		}
	}
	return ""
}
