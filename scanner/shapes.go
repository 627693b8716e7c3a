package scanner

import "bytes"

// shapes is what one pass over content finds: runs of ASCII letters and
// digits long enough to hold a value, and stretches that may be encoded.
type shapes struct {
	runs    []span
	encoded []span
	// joins are chains of short literals that join into a run (join.go).
	joins []joinChain
}

// minBase64Run is the shortest base64 stretch worth decoding: a token's
// 32 characters encode to 44.
const minBase64Run = 20

// Byte classes for classify.
const (
	clsOther  = 0
	clsAlnum  = 1 // letters and digits
	clsB64    = 2 // '+' and '/': base64 but not alphanumeric
	clsEscape = 3 // '%' and '\\': may start an escape
	clsQuote  = 4 // quotes: may close a piece of a split literal
)

var byteClass [256]uint8

func init() {
	for c := 0; c < 256; c++ {
		b := byte(c)
		switch {
		case isAlnum(b):
			byteClass[c] = clsAlnum
		case b == '+' || b == '/':
			byteClass[c] = clsB64
		case b == '%' || b == '\\':
			byteClass[c] = clsEscape
		case isQuote(b):
			byteClass[c] = clsQuote
		}
	}
}

// classify finds alphanumeric runs of at least minRun bytes (none when
// minRun is 0) and encoded stretches: base64 runs with a character outside
// hex, %XX escapes and backslash escapes. It is the one pass every byte of
// content gets, so it is written for speed.
func classify(data []byte, minRun int) shapes {
	var sh shapes
	n := len(data)
	i := 0
	lastStart, lastEnd := -1, -1 // the last alphanumeric run
	for i < n {
		// Skip what is neither base64 nor an escape.
		for i < n && byteClass[data[i]] == clsOther {
			i++
		}
		if i >= n {
			break
		}
		switch byteClass[data[i]] {
		case clsEscape:
			sh.escape(data, i)
			i++
			continue
		case clsQuote:
			// The closing quote of a literal of letters and digits only:
			// the first piece of a split literal?
			if minRun > 0 && i == lastEnd && lastEnd > lastStart && lastStart > 0 && data[lastStart-1] == data[i] {
				if ch, ok := chainAt(data, lastStart-1, i, minRun); ok {
					sh.joins = append(sh.joins, ch)
					i = ch.end
					continue
				}
			}
			i++
			continue
		}
		// A base64 stretch, made of alphanumeric runs joined by + and /.
		start := i
		for i < n {
			runStart := i
			for i < n && byteClass[data[i]] == clsAlnum {
				i++
			}
			lastStart, lastEnd = runStart, i
			if minRun > 0 && i-runStart >= minRun {
				sh.runs = append(sh.runs, span{runStart, i})
			}
			if i < n && byteClass[data[i]] == clsB64 {
				i++
				continue
			}
			break
		}
		if i-start >= minBase64Run && !allHex(data[start:i]) {
			sh.encoded = addSpan(sh.encoded, span{start, i})
		}
	}
	return sh
}

func (sh *shapes) escape(data []byte, i int) {
	n := len(data)
	if data[i] == '%' {
		if i+2 < n && isHex(data[i+1]) && isHex(data[i+2]) {
			sh.encoded = addSpan(sh.encoded, span{i, i + 3})
		}
		return
	}
	if i+1 < n {
		switch data[i+1] {
		case 'u', 'x', '"', '/', '\\':
			sh.encoded = addSpan(sh.encoded, span{i, i + 2})
		}
	}
}

func allHex(b []byte) bool {
	for _, c := range b {
		if !isHex(c) {
			return false
		}
	}
	return true
}

// longestIn returns the length of the longest run inside s.
func (sh *shapes) longestIn(s span) int {
	best := 0
	// runs are sorted by start; find the first that may overlap s.
	lo, hi := 0, len(sh.runs)
	for lo < hi {
		m := (lo + hi) / 2
		if sh.runs[m].end <= s.start {
			lo = m + 1
		} else {
			hi = m
		}
	}
	for _, r := range sh.runs[lo:] {
		if r.start >= s.end {
			break
		}
		best = max(best, min(r.end, s.end)-max(r.start, s.start))
	}
	return best
}

// lowerASCII appends the ASCII-lower-cased src to dst.
func lowerASCII(dst, src []byte) []byte {
	for _, c := range src {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// containsAny reports whether text holds one of the (lower-case) words.
func containsAny(text []byte, words []string) bool {
	for _, w := range words {
		if bytes.Contains(text, []byte(w)) {
			return true
		}
	}
	return false
}
