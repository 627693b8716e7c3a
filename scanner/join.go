package scanner

import "bytes"

// A token is sometimes written as several short string literals joined
// on one or a few lines: "…" + "…" (JavaScript, TypeScript, Java, C#,
// Kotlin, Go), adjacent literals ("…" "…" in Python, Ruby, C; "…"'…' in
// shell), a Python implicit concatenation across lines in parentheses,
// '…' . '…' (PHP), "…".concat("…"), a line continuation (\), and
// x += "…" on the next line. classify finds such chains of letters-and-
// digits-only literals whose pieces add up to a value's length; the
// detector joins them and scans the lines around them again, with every
// location pointing at the first piece.

// maxJoinPieces and maxJoinPiece bound a chain: short pieces, few of them.
const (
	maxJoinPieces = 16
	maxJoinPiece  = 64
)

// joinChain is one chain of literals; edits delete what stands between
// the pieces (closing quote, joiner, opening quote).
type joinChain struct {
	start, end int // from the first opening quote to the last closing one
	edits      []edit
}

func isQuote(b byte) bool { return b == '"' || b == '\'' || b == '`' }

// literalAt returns the end (index of the closing quote) of a literal of
// letters and digits only that opens at data[i], or -1.
func literalAt(data []byte, i int) int {
	if i >= len(data) || !isQuote(data[i]) {
		return -1
	}
	j := i + 1
	for j < len(data) && j-i-1 <= maxJoinPiece && isAlnum(data[j]) {
		j++
	}
	if j == i+1 || j >= len(data) || data[j] != data[i] || j-i-1 > maxJoinPiece {
		return -1
	}
	return j
}

// skipBlank skips spaces and tabs, and at most newlines newlines.
func skipBlank(data []byte, i, newlines int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\r':
		case '\n':
			if newlines == 0 {
				return i
			}
			newlines--
		default:
			return i
		}
		i++
	}
	return i
}

// joinerAfter returns where the next piece's opening quote stands after
// the end i of a piece, and whether that piece must be followed by ")".
func joinerAfter(data []byte, i int) (next int, paren bool) {
	n := len(data)
	if i < n && isQuote(data[i]) {
		return i, false // "…""…", "…"'…'
	}
	j := skipBlank(data, i, 0)
	switch {
	case j < n && (data[j] == '+' || data[j] == '.') && !(j+1 < n && data[j+1] == '='):
		if data[j] == '.' && bytes.HasPrefix(data[j:], []byte(".concat(")) {
			return j + len(".concat("), true
		}
		return skipBlank(data, j+1, 1), false
	case j+1 < n && data[j] == '\\' && (data[j+1] == '\n' || data[j+1] == '\r'):
		return skipBlank(data, j+1, 1), false
	}
	// Next line: an adjacent literal, a leading "+", or NAME += "…".
	k := j
	if k < n && data[k] == ';' {
		k++
	}
	k = skipBlank(data, k, 1)
	if k == j || k >= n {
		return j, false
	}
	if data[k] == '+' && !(k+1 < n && data[k+1] == '=') {
		return skipBlank(data, k+1, 0), false
	}
	if isQuote(data[k]) && data[j] != ';' {
		return k, false
	}
	m := k
	for m < n && (isAlnum(data[m]) || data[m] == '_' || data[m] == '$' || data[m] == '.') {
		m++
	}
	m = skipBlank(data, m, 0)
	if m > k && m+1 < n && (data[m] == '+' || data[m] == '.') && data[m+1] == '=' {
		return skipBlank(data, m+2, 0), false
	}
	return j, false
}

// chainAt returns the chain whose first literal opens at open and closes
// at close, if its pieces add up to at least minRun letters and digits.
// It allocates only for a chain that does.
func chainAt(data []byte, open, close, minRun int) (joinChain, bool) {
	walk := func(emit func(e edit)) (total, pieces, end int) {
		total, pieces = close-open-1, 1
		cl, after := close, close+1 // past the piece, and its ")" after .concat(
		for ; pieces < maxJoinPieces; pieces++ {
			next, paren := joinerAfter(data, after)
			e := literalAt(data, next)
			if e < 0 || paren && (e+1 >= len(data) || data[e+1] != ')') {
				break
			}
			// The edit from the closing quote to the next opening quote
			// also takes the ")" of an earlier .concat(.
			emit(edit{start: cl, end: next + 1})
			total += e - next - 1
			cl, after = e, e+1
			if paren {
				after = e + 2
			}
		}
		if after == cl+2 {
			emit(edit{start: cl + 1, end: cl + 2})
		}
		return total, pieces, after
	}
	total, pieces, _ := walk(func(edit) {})
	if pieces < 2 || total < minRun {
		return joinChain{}, false
	}
	c := joinChain{start: open}
	_, _, c.end = walk(func(e edit) { c.edits = append(c.edits, e) })
	return c, true
}

// joined scans the lines around each chain with its pieces joined, and
// returns the hits that a joined chain holds, located at the first piece.
func (d *Detector) joined(c *content, chains []joinChain, depth int) []Hit {
	w := 0
	for _, n := range d.window {
		w = max(w, n)
	}
	type region struct {
		s      span
		chains []joinChain
	}
	var regions []region
	for _, ch := range chains {
		s := c.linesSpan(c.lineOf(ch.start)-w, c.lineOf(ch.end-1)+w)
		s.start = max(s.start, ch.start-maxLineWindow)
		s.end = max(min(s.end, ch.end+maxLineWindow), ch.end)
		if n := len(regions); n > 0 && s.start <= regions[n-1].s.end {
			regions[n-1].s.end = max(regions[n-1].s.end, s.end)
			regions[n-1].chains = append(regions[n-1].chains, ch)
			continue
		}
		regions = append(regions, region{s, []joinChain{ch}})
	}
	var out []Hit
	for _, r := range regions {
		var edits []edit
		for _, ch := range r.chains {
			for _, e := range ch.edits {
				edits = append(edits, edit{start: e.start - r.s.start, end: e.end - r.s.start})
			}
		}
		v := rewrite(c.data[r.s.start:r.s.end], r.s.start, edits)
		for _, h := range d.hits(v.text, depth+1) {
			off := v.orig[h.Offset]
			endOff := v.orig[h.Offset+len(h.Value)-1] + 1
			var in *joinChain
			for i := range r.chains {
				if off < r.chains[i].end && endOff > r.chains[i].start {
					in = &r.chains[i]
				}
			}
			if in == nil || d.allowed(c, off) {
				continue // not a joined value: the plain scan has it
			}
			line := c.lineOf(off)
			if first := in.edits[0].start; off < first {
				endOff = first // the location is the first piece
			}
			col := off - c.lines()[line] + 1
			h.Offset, h.Line, h.Column, h.EndColumn = off, line+1, col, col+max(endOff-off, 1)
			out = append(out, h)
		}
	}
	return out
}
