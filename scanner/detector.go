// Package scanner finds Twilio credentials in content. Sources (a directory,
// stdin, git history) yield fragments; the Detector finds rule hits in each
// fragment's bytes — a pure function of the bytes, so git sources scan each
// unique blob once — and Pair joins identifiers and secrets into findings
// within a file and across the files of one snapshot.
package scanner

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unsafe"

	ahocorasick "github.com/petar-dambovaliev/aho-corasick"

	"github.com/leakstop/leakstop/rules"
)

// Hit is one match of one rule in one content.
type Hit struct {
	Rule  *rules.Rule
	Value string
	// Line and Column are 1-based; EndColumn is one past the value.
	Line, Column, EndColumn int
	// Offset is the byte offset of the value (of the encoded run, when
	// Encoding is set).
	Offset int
	// Encoding is how the value was encoded in the content, if at all.
	Encoding string
	// Test is true when a test-credential marker names the hit.
	Test bool
	// Name is what the name the value sits under says, for rules with a
	// name model (values whose name says something else are no hits).
	Name rules.NameClass
}

// Detector runs a compiled rule set over content. It is safe for
// concurrent use.
//
// Most content holds no credential, so the detector first makes one pass
// over the bytes to find runs of letters and digits long enough to be a
// value (every default rule's value is such a run) and encoded stretches
// (base64, %XX, backslash escapes). Only the lines around those are looked
// at further: a rule's regex runs on such a line when one of its keywords
// is on it. Rules whose values are not plain alphanumeric runs fall back to
// an Aho-Corasick keyword search over the whole content.
type Detector struct {
	set   *rules.Set
	rules []*rules.Rule
	// names[i] is the name model of rule i, or nil.
	names []*rules.NameModel
	// gated lists rules with MinRun > 0 and no Near; minRun is the least
	// MinRun of all gated and near rules.
	gated  []int
	minRun int
	// fallback lists the other keyword rules, found with ac.
	fallback []int
	ac       *ahocorasick.AhoCorasick
	kwRules  [][]int
	// near maps an identifier rule index to the near rules that follow it.
	near map[int][]int
	// window is the pair window of each near rule.
	window []int
	// decodeWords are the keywords that make a line worth decoding.
	decodeWords []string
	// keepAllowed keeps the hits on lines marked with AllowComment (see
	// WithInlineAllow).
	keepAllowed bool
}

// maxLineWindow bounds how far around a candidate a rule's regex looks, so
// a minified file with one 10 MB line costs no more than many short lines.
const maxLineWindow = 2048

// decodeTriggers make a line with encoded stretches worth decoding even
// when no rule keyword is on it: base64 of "AC"/"SK" at the start of a
// value, JSON \u escapes, URL-escaped colons, HTTP Basic credentials.
var decodeTriggers = []string{"qum", "u0s", `\u00`, "%3a", "basic "}

// NewDetector prepares set for scanning.
func NewDetector(set *rules.Set, opts ...DetectorOption) (*Detector, error) {
	d := &Detector{set: set, rules: set.Rules, near: map[int][]int{}, window: make([]int, len(set.Rules)),
		names: make([]*rules.NameModel, len(set.Rules))}
	for _, o := range opts {
		o(d)
	}
	idx := map[string]int{}
	for i, r := range set.Rules {
		idx[r.ID] = i
	}
	words := map[string]bool{}
	var fallbackKW []string
	kwIndex := map[string]int{}
	for i, r := range set.Rules {
		if r.Names != "" {
			if d.names[i] = set.NameModel(r.Names); d.names[i] == nil {
				return nil, fmt.Errorf("rule %q: name model %q not in set", r.ID, r.Names)
			}
		}
		for _, k := range r.Keywords {
			words[k] = true
		}
		if r.Near != "" {
			ni, ok := idx[r.Near]
			if !ok {
				return nil, fmt.Errorf("rule %q: near rule %q not in set", r.ID, r.Near)
			}
			d.near[ni] = append(d.near[ni], i)
			for _, p := range set.PairFor(r.ID) {
				d.window[i] = max(d.window[i], p.Window)
			}
			d.minRun = minRun(d.minRun, r.MinRun)
			continue
		}
		if r.MinRun > 0 {
			d.gated = append(d.gated, i)
			d.minRun = minRun(d.minRun, r.MinRun)
			continue
		}
		d.fallback = append(d.fallback, i)
		for _, k := range r.Keywords {
			ki, ok := kwIndex[k]
			if !ok {
				ki = len(fallbackKW)
				kwIndex[k] = ki
				fallbackKW = append(fallbackKW, k)
				d.kwRules = append(d.kwRules, nil)
			}
			d.kwRules[ki] = append(d.kwRules[ki], i)
		}
	}
	if len(fallbackKW) > 0 {
		b := ahocorasick.NewAhoCorasickBuilder(ahocorasick.Opts{AsciiCaseInsensitive: true, MatchKind: ahocorasick.StandardMatch, DFA: true})
		ac := b.Build(fallbackKW)
		d.ac = &ac
	}
	for w := range words {
		d.decodeWords = append(d.decodeWords, w)
	}
	d.decodeWords = append(d.decodeWords, decodeTriggers...)
	slices.Sort(d.decodeWords)
	return d, nil
}

func minRun(cur, n int) int {
	if n <= 0 {
		return cur
	}
	if cur == 0 || n < cur {
		return n
	}
	return cur
}

// Rules returns the rule set.
func (d *Detector) Rules() *rules.Set { return d.set }

// span is a half-open byte range.
type span struct{ start, end int }

// addSpan appends s to spans, merging with the last one when they touch.
// Callers add spans in ascending start order per list.
func addSpan(spans []span, s span) []span {
	if n := len(spans); n > 0 && s.start <= spans[n-1].end {
		spans[n-1].end = max(spans[n-1].end, s.end)
		return spans
	}
	return append(spans, s)
}

// content is one piece of text being scanned, with a lazy line index.
type content struct {
	data       []byte
	lineStarts []int
}

func (c *content) lines() []int {
	if c.lineStarts == nil {
		c.lineStarts = append(make([]int, 0, 64), 0)
		for i := 0; ; {
			j := bytes.IndexByte(c.data[i:], '\n')
			if j < 0 {
				break
			}
			i += j + 1
			c.lineStarts = append(c.lineStarts, i)
		}
	}
	return c.lineStarts
}

// lineOf returns the 0-based line index of offset.
func (c *content) lineOf(off int) int {
	ls := c.lines()
	return sort.SearchInts(ls, off+1) - 1
}

// lineSpan returns the bytes of the line around off, bounded by
// maxLineWindow on each side.
func (c *content) lineSpan(off, endOff int) span {
	lo := max(0, off-maxLineWindow)
	start := lo
	if i := bytes.LastIndexByte(c.data[lo:off], '\n'); i >= 0 {
		start = lo + i + 1
	}
	hi := min(len(c.data), endOff+maxLineWindow)
	end := hi
	if i := bytes.IndexByte(c.data[endOff:hi], '\n'); i >= 0 {
		end = endOff + i
	}
	return span{start, end}
}

// linesSpan returns the bytes of 0-based lines [from, to], clipped.
func (c *content) linesSpan(from, to int) span {
	ls := c.lines()
	from = max(from, 0)
	to = min(to, len(ls)-1)
	end := len(c.data)
	if to+1 < len(ls) {
		end = ls[to+1] - 1
	}
	return span{ls[from], end}
}

// Hits returns every rule hit in data, in offset order. It depends only on
// data, so callers may cache it by content hash.
func (d *Detector) Hits(data []byte) []Hit {
	return d.hits(data, 0)
}

// maxDecodeDepth bounds nested decoding (base64 inside base64 …).
const maxDecodeDepth = 2

func (d *Detector) hits(data []byte, depth int) []Hit {
	if len(data) == 0 {
		return nil
	}
	sh := classify(data, d.minRun)
	if len(sh.runs) == 0 && len(sh.encoded) == 0 && len(sh.joins) == 0 && d.ac == nil {
		return nil
	}
	c := &content{data: data}
	var out []Hit
	var lower []byte
	if len(sh.runs) > 0 && len(d.gated) > 0 {
		var cands []span
		for _, r := range sh.runs {
			cands = addSpan(cands, c.lineSpan(r.start, r.end))
		}
		for _, s := range cands {
			lower = lowerASCII(lower[:0], data[s.start:s.end])
			longest := sh.longestIn(s)
			for _, ri := range d.gated {
				r := d.rules[ri]
				if r.MinRun <= longest && containsAny(lower, r.Keywords) {
					out = d.match(c, ri, s, out)
				}
			}
		}
	}
	if d.ac != nil {
		out = d.matchFallback(c, out)
	}
	if len(out) > 0 {
		out = d.matchNear(c, &sh, out)
	}
	if depth < maxDecodeDepth && len(sh.joins) > 0 {
		out = append(out, d.joined(c, sh.joins, depth)...)
	}
	if depth < maxDecodeDepth && len(sh.encoded) > 0 {
		var spans []span
		for _, e := range sh.encoded {
			s := c.lineSpan(e.start, e.end)
			if n := len(spans); n > 0 && s.start < spans[n-1].end {
				spans[n-1].end = max(spans[n-1].end, s.end)
				continue
			}
			lower = lowerASCII(lower[:0], data[s.start:s.end])
			if containsAny(lower, d.decodeWords) {
				spans = addSpan(spans, s)
			}
		}
		if len(spans) > 0 {
			out = append(out, d.decoded(c, spans, depth)...)
		}
	}
	if len(out) == 0 {
		return nil
	}
	out = dedupeHits(out)
	if len(d.set.TestMarkers) > 0 {
		d.markTests(c, out)
	}
	return out
}

// matchFallback runs the rules that cannot be gated by value shape, on the
// lines where their keywords stand.
func (d *Detector) matchFallback(c *content, out []Hit) []Hit {
	ruleSpans := map[int][]span{}
	it := d.ac.IterOverlappingByte(c.data)
	for m := it.Next(); m != nil; m = it.Next() {
		s := c.lineSpan(m.Start(), m.End())
		for _, ri := range d.kwRules[m.Pattern()] {
			ruleSpans[ri] = addSpan(ruleSpans[ri], s)
		}
	}
	for _, ri := range d.fallback {
		for _, s := range ruleSpans[ri] {
			out = d.match(c, ri, s, out)
		}
	}
	return out
}

// matchNear runs near rules within the window of their identifiers' hits.
func (d *Detector) matchNear(c *content, sh *shapes, hits []Hit) []Hit {
	if len(d.near) == 0 {
		return hits
	}
	byRule := map[*rules.Rule][]*Hit{}
	for i := range hits {
		byRule[hits[i].Rule] = append(byRule[hits[i].Rule], &hits[i])
	}
	for ii, nears := range d.near {
		ids := byRule[d.rules[ii]]
		if len(ids) == 0 {
			continue
		}
		slices.SortFunc(ids, func(a, b *Hit) int { return a.Offset - b.Offset })
		for _, ni := range nears {
			w := d.window[ni]
			var spans []span
			for _, id := range ids {
				// The window's lines, but no further than maxLineWindow
				// bytes either way: one minified line is not a window.
				s := c.linesSpan(id.Line-1-w, id.Line-1+w)
				s.start = max(s.start, id.Offset-maxLineWindow)
				s.end = min(s.end, id.Offset+len(id.Value)+maxLineWindow)
				spans = addSpan(spans, s)
			}
			for _, s := range spans {
				if mr := d.rules[ni].MinRun; mr == 0 || sh.longestIn(s) >= mr {
					hits = d.match(c, ni, s, hits)
				}
			}
		}
	}
	return hits
}

// match runs rule ri's regex over s and appends accepted hits.
func (d *Detector) match(c *content, ri int, s span, out []Hit) []Hit {
	r := d.rules[ri]
	text := c.data[s.start:s.end]
	for _, m := range r.Regex.FindAllSubmatchIndex(text, -1) {
		gs, ge := m[2*r.Group], m[2*r.Group+1]
		if gs < 0 || ge <= gs {
			continue
		}
		if r.Boundary && !boundaryOK(c.data, s.start+gs, s.start+ge) {
			continue
		}
		v := text[gs:ge]
		if !d.accept(r, v) {
			continue
		}
		off := s.start + gs
		var name rules.NameClass
		if m := d.names[ri]; m != nil {
			if name = nameClass(m, c.data, off, s.start+ge); name == rules.NameOther {
				continue
			}
		}
		if d.allowed(c, off) {
			continue
		}
		line := c.lineOf(off)
		col := off - c.lines()[line] + 1
		out = append(out, Hit{Rule: r, Value: string(v), Line: line + 1, Column: col, EndColumn: col + len(v), Offset: off, Name: name})
	}
	return out
}

// accept applies entropy, placeholder and allowlist filters to a value.
func (d *Detector) accept(r *rules.Rule, v []byte) bool {
	sv := unsafe.String(unsafe.SliceData(v), len(v))
	if r.Entropy > 0 && rules.ShannonEntropy(sv) < r.Entropy {
		return false
	}
	if IsPlaceholder(sv) {
		return false
	}
	if r.Allowlist.AllowsValue(sv) || d.set.Allowlist.AllowsValue(sv) {
		return false
	}
	return true
}

// boundaryOK reports whether data[gs:ge] touches no letter or digit. It
// looks at the whole content, not the span the regex ran on, so a span
// that cuts through a long run never yields a piece of it. A terminal
// colour code before the value (ESC[33m, \x1b[33m …) is a separator, not
// the letter m touching it.
func boundaryOK(text []byte, gs, ge int) bool {
	if gs > 0 && isAlnum(text[gs-1]) && sgrStart(text, max(0, gs-16), gs) < 0 {
		return false
	}
	if ge < len(text) && isAlnum(text[ge]) {
		return false
	}
	return true
}

func isAlnum(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

// AllowComment marks a line whose findings are intentionally ignored.
const AllowComment = "leakstop:allow"

// allowed reports whether a hit at off is dropped for an AllowComment on
// its line.
func (d *Detector) allowed(c *content, off int) bool {
	return !d.keepAllowed && hasAllowComment(c, off)
}

func hasAllowComment(c *content, off int) bool {
	s := c.lineSpan(off, off)
	return bytes.Contains(c.data[s.start:s.end], []byte(AllowComment))
}

// markTests sets Test on hits that a test-credential marker names: a
// marker on the hit's own line, or on a line without a credential just
// above it, with no blank line and no marked credential line between (a
// "# Twilio test credentials" comment over the block). A marker further away, or a magic test phone number,
// labels nothing: a test label must not hide a live credential.
func (d *Detector) markTests(c *content, hits []Hit) {
	const above = 3
	// The markers run once over the merged windows of all hits (each hit's
	// line and the lines above it), not once per hit.
	var merged []span
	for _, h := range hits {
		s := c.linesSpan(h.Line-1-above, h.Line-1)
		s.start = max(s.start, h.Offset-maxLineWindow)
		s.end = min(s.end, h.Offset+maxLineWindow)
		merged = addSpan(merged, s) // hits are in offset order
	}
	var marks []span
	for _, m := range merged {
		for _, re := range d.set.TestMarkers {
			for _, loc := range re.FindAllIndex(c.data[m.start:m.end], -1) {
				marks = append(marks, span{m.start + loc[0], m.start + loc[1]})
			}
		}
	}
	if len(marks) == 0 {
		return
	}
	slices.SortFunc(marks, func(a, b span) int { return a.start - b.start })
	// marked reports whether a marker stands on 0-based line (only near
	// off on a long line).
	marked := func(line, off int) bool {
		s := c.linesSpan(line, line)
		if s.end-s.start > 2*markerWindow {
			s.start, s.end = max(s.start, off-markerWindow), min(s.end, off+markerWindow)
		}
		j, _ := slices.BinarySearchFunc(marks, s.start, func(m span, off int) int { return m.start - off })
		for ; j < len(marks) && marks[j].start < s.end; j++ {
			if marks[j].end <= s.end {
				return true
			}
		}
		return false
	}
	hitLines := make(map[int]bool, len(hits))
	for _, h := range hits {
		hitLines[h.Line-1] = true
	}
	for i := range hits {
		h := &hits[i]
		l := h.Line - 1
		if marked(l, h.Offset) {
			h.Test = true
			continue
		}
		for up := l - 1; up >= 0 && up >= l-above; up-- {
			s := c.linesSpan(up, up)
			if len(bytes.TrimSpace(c.data[s.start:s.end])) == 0 {
				break
			}
			if marked(up, s.start) {
				// A marker on a line with a credential of its own names
				// that one (TWILIO_TEST_AUTH_TOKEN=…), not this one.
				h.Test = !hitLines[up]
				break
			}
		}
	}
}

// markerWindow bounds the bytes of a long line that test markers read.
const markerWindow = 256

// dedupeHits sorts hits by offset and drops exact repeats (the same rule
// and value at the same place, found by overlapping spans or decoding).
func dedupeHits(h []Hit) []Hit {
	slices.SortStableFunc(h, func(a, b Hit) int {
		if a.Offset != b.Offset {
			return a.Offset - b.Offset
		}
		return strings.Compare(a.Rule.ID, b.Rule.ID)
	})
	return slices.CompactFunc(h, func(a, b Hit) bool {
		return a.Offset == b.Offset && a.Rule == b.Rule && a.Value == b.Value
	})
}
