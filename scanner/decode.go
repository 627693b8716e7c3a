package scanner

import (
	"bytes"
	"encoding/base64"
	"regexp"
	"unicode/utf8"
)

// Secrets hide in encoded values: Kubernetes Secret data and HTTP Basic
// headers are base64, URLs are percent-encoded, JSON strings use \u and \"
// escapes. For every line where a keyword stands, the detector rewrites
// each encoded run in place, scans the rewritten line, and maps what it
// finds back to the original offsets.

var base64Run = regexp.MustCompile(`[A-Za-z0-9+/_-]{16,}={0,2}`)

// edit replaces data[start:end] with repl.
type edit struct {
	start, end int
	repl       []byte
	encoding   string
}

// rewritten is a variant of a span of content with its offset map.
type rewritten struct {
	text []byte
	// orig[i] is the offset in the original content of text[i].
	orig []int
	// enc[i] is the encoding that produced text[i], "" when unchanged.
	enc []string
}

func rewrite(data []byte, base int, edits []edit) rewritten {
	var r rewritten
	pos := 0
	for _, e := range edits {
		for i := pos; i < e.start; i++ {
			r.text = append(r.text, data[i])
			r.orig = append(r.orig, base+i)
			r.enc = append(r.enc, "")
		}
		for range e.repl {
			r.orig = append(r.orig, base+e.start)
			r.enc = append(r.enc, e.encoding)
		}
		r.text = append(r.text, e.repl...)
		pos = e.end
	}
	for i := pos; i < len(data); i++ {
		r.text = append(r.text, data[i])
		r.orig = append(r.orig, base+i)
		r.enc = append(r.enc, "")
	}
	return r
}

// decoded scans the decoded variants of spans and returns hits mapped to
// the original content.
func (d *Detector) decoded(c *content, spans []span, depth int) []Hit {
	var out []Hit
	for _, s := range spans {
		text := c.data[s.start:s.end]
		for _, edits := range [][]edit{base64Edits(text), escapeEdits(text)} {
			if len(edits) == 0 {
				continue
			}
			v := rewrite(text, s.start, edits)
			for _, h := range d.hits(v.text, depth+1) {
				end := h.Offset + len(h.Value)
				// A value at the edge of the span may be a piece of a
				// longer run that the span cut through.
				if h.Rule.Boundary && (h.Offset == 0 && s.start > 0 && isAlnum(c.data[s.start-1]) ||
					end == len(v.text) && s.end < len(c.data) && isAlnum(c.data[s.end])) {
					continue
				}
				enc := v.enc[h.Offset]
				if enc == "" {
					enc = v.enc[end-1]
				}
				// enc stays "" when the value itself was not encoded but
				// its surroundings were (AC…%3Atoken); exact repeats of
				// plain hits are removed by dedupeHits.
				off := v.orig[h.Offset]
				line := c.lineOf(off)
				col := off - c.lines()[line] + 1
				endOff := v.orig[end-1] + 1
				if endOff <= off {
					endOff = off + 1
				}
				h.Offset = off
				h.Line = line + 1
				h.Column = col
				h.EndColumn = col + (endOff - off)
				if h.Encoding == "" {
					h.Encoding = enc
				}
				if !d.allowed(c, off) {
					out = append(out, h)
				}
			}
		}
	}
	return out
}

// base64Edits decodes every base64 run in text that decodes to printable
// text.
func base64Edits(text []byte) []edit {
	var edits []edit
	for _, m := range base64Run.FindAllIndex(text, -1) {
		run := text[m[0]:m[1]]
		dec := decodeBase64(run)
		if dec == nil {
			continue
		}
		edits = append(edits, edit{start: m[0], end: m[1], repl: dec, encoding: "base64"})
	}
	return edits
}

func decodeBase64(run []byte) []byte {
	trimmed := bytes.TrimRight(run, "=")
	var enc *base64.Encoding
	if bytes.ContainsAny(trimmed, "-_") {
		enc = base64.RawURLEncoding
	} else {
		enc = base64.RawStdEncoding
	}
	dec := make([]byte, enc.DecodedLen(len(trimmed)))
	n, err := enc.Decode(dec, trimmed)
	if err != nil || n < 12 {
		return nil
	}
	dec = dec[:n]
	if !printable(dec) {
		return nil
	}
	return dec
}

// printable reports whether b is valid UTF-8 text with no control bytes
// other than whitespace.
func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// escapeEdits undoes percent-encoding and JSON/JavaScript string escapes.
func escapeEdits(text []byte) []edit {
	var edits []edit
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '%':
			if i+2 < len(text) && isHex(text[i+1]) && isHex(text[i+2]) {
				b := unhex(text[i+1])<<4 | unhex(text[i+2])
				edits = append(edits, edit{start: i, end: i + 3, repl: []byte{b}, encoding: "url"})
				i += 2
			}
		case '\\':
			if i+1 >= len(text) {
				continue
			}
			switch n := text[i+1]; n {
			case 'u':
				if i+5 < len(text) && isHex(text[i+2]) && isHex(text[i+3]) && isHex(text[i+4]) && isHex(text[i+5]) {
					r := rune(unhex(text[i+2]))<<12 | rune(unhex(text[i+3]))<<8 | rune(unhex(text[i+4]))<<4 | rune(unhex(text[i+5]))
					edits = append(edits, edit{start: i, end: i + 6, repl: utf8.AppendRune(nil, r), encoding: "json"})
					i += 5
				}
			case 'x':
				if i+3 < len(text) && isHex(text[i+2]) && isHex(text[i+3]) {
					edits = append(edits, edit{start: i, end: i + 4, repl: []byte{unhex(text[i+2])<<4 | unhex(text[i+3])}, encoding: "json"})
					i += 3
				}
			case '"', '/', '\\', '\'':
				edits = append(edits, edit{start: i, end: i + 2, repl: []byte{n}, encoding: "json"})
				i++
			case 'n':
				edits = append(edits, edit{start: i, end: i + 2, repl: []byte{'\n'}, encoding: "json"})
				i++
			}
		}
	}
	return edits
}

func isHex(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'
}

func unhex(b byte) byte {
	switch {
	case b >= '0' && b <= '9':
		return b - '0'
	case b >= 'a' && b <= 'f':
		return b - 'a' + 10
	default:
		return b - 'A' + 10
	}
}
