package scanner

import (
	"bytes"
	"errors"
	"io"
)

// Content of any size goes through the detector in windows of
// streamWindow bytes that overlap by streamOverlap: each hit is kept by
// the one window whose core (the window less half the overlap at each
// inner edge) holds its offset, so a value cut by a window edge is whole
// in the next window, and every hit kept has at least streamOverlap/2
// bytes of context on each side — far more than the detector looks at
// around a value (maxLineWindow). Pairing runs on a file's hits, with
// absolute lines and offsets, after the last window: an identifier and a
// secret in different windows pair as in one buffer.
const (
	streamWindow  = 8 << 20
	streamOverlap = 256 << 10
)

// minPrintableRun is the shortest run of printable bytes of binary
// content that is scanned; shorter runs are blanked.
const minPrintableRun = 8

// streamStats is what scanning one stream read.
type streamStats struct {
	bytes  int64
	binary bool
}

// streamHits scans r in overlapping windows and returns its hits with
// lines, columns and offsets of the whole stream. Binary content (a NUL
// byte in the first 8000 bytes) is scanned as its printable runs: ASCII
// runs in place, with every other byte blanked, and UTF-16LE runs
// decoded; its hits carry byte offsets (lines are counted on the raw
// bytes, and mean little). Text with a UTF-16 byte-order mark that fits
// one window is converted, as Text does; a larger one is scanned as
// binary.
func (d *Detector) streamHits(r io.Reader) ([]Hit, streamStats, error) {
	return d.streamHitsSized(r, streamWindow, streamOverlap)
}

// streamHitsSized is streamHits with windows of window bytes overlapping
// by overlap (even, at least 2*maxLineWindow plus the longest value).
func (d *Detector) streamHitsSized(r io.Reader, window, overlap int) ([]Hit, streamStats, error) {
	var st streamStats
	buf := make([]byte, 0, window+overlap)
	var out []Hit
	base := int64(0)    // stream offset of buf[0]
	lineBase := 0       // lines before buf[0]
	lastNL := int64(-1) // stream offset of the last newline before buf[0]
	first := true
	for {
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		st.bytes += int64(n)
		eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !eof {
			return nil, st, err
		}
		if first {
			first = false
			if eof && (bytes.HasPrefix(buf, []byte{0xff, 0xfe}) || bytes.HasPrefix(buf, []byte{0xfe, 0xff})) {
				return d.Hits(Text(buf)), st, nil
			}
			st.binary = bytes.IndexByte(buf[:min(len(buf), sniffLen)], 0) >= 0 ||
				bytes.HasPrefix(buf, []byte{0xff, 0xfe}) || bytes.HasPrefix(buf, []byte{0xfe, 0xff})
		}
		coreStart, coreEnd := 0, len(buf)
		if base > 0 {
			coreStart = overlap / 2
		}
		if !eof {
			coreEnd = len(buf) - overlap/2
		}
		var hits []Hit
		if st.binary {
			hits = d.binaryHits(buf)
		} else {
			hits = d.Hits(buf)
		}
		for _, h := range hits {
			if h.Offset < coreStart || h.Offset >= coreEnd {
				continue
			}
			if st.binary {
				h.Line, h.Column = lineCol(buf, h.Offset)
				h.EndColumn = h.Column + len(h.Value)
			}
			if h.Line == 1 {
				shift := int(base - (lastNL + 1))
				h.Column += shift
				h.EndColumn += shift
			}
			h.Line += lineBase
			h.Offset += int(base)
			out = append(out, h)
		}
		if eof || n == 0 {
			break
		}
		keep := len(buf) - overlap
		done := buf[:keep]
		lineBase += bytes.Count(done, []byte{'\n'})
		if i := bytes.LastIndexByte(done, '\n'); i >= 0 {
			lastNL = base + int64(i)
		}
		base += int64(keep)
		buf = buf[:copy(buf, buf[keep:])]
	}
	if len(out) > 1 {
		out = dedupeHits(out)
	}
	return out, st, nil
}

// lineCol returns the 1-based line and column of off in data.
func lineCol(data []byte, off int) (int, int) {
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	col := off + 1
	if i := bytes.LastIndexByte(data[:off], '\n'); i >= 0 {
		col = off - i
	}
	return line, col
}

// binaryHits scans the printable runs of binary data: ASCII runs of at
// least minPrintableRun bytes in place (a copy with every other byte a
// newline, so offsets are those of data), and UTF-16LE runs decoded to
// ASCII, their hits placed at the run's bytes. Lines and columns are
// left to the caller.
func (d *Detector) binaryHits(data []byte) []Hit {
	text := printableRuns(data)
	hits := d.Hits(text)
	for _, r := range utf16Runs(data) {
		ascii := make([]byte, 0, (r.end-r.start)/2)
		for i := r.start; i+1 < r.end; i += 2 {
			ascii = append(ascii, data[i])
		}
		for _, h := range d.Hits(ascii) {
			h.Offset = r.start + 2*h.Offset
			h.Encoding = joinEncoding("utf-16le", h.Encoding)
			hits = append(hits, h)
		}
	}
	return hits
}

func joinEncoding(outer, inner string) string {
	if inner == "" {
		return outer
	}
	return outer + "+" + inner
}

func printableByte(b byte) bool { return b >= 0x20 && b < 0x7f || b == '\t' }

// printableRuns copies data with every byte outside a printable run of
// minPrintableRun or more blanked to a newline.
func printableRuns(data []byte) []byte {
	out := make([]byte, len(data))
	for i := 0; i < len(data); {
		j := i
		for j < len(data) && printableByte(data[j]) {
			j++
		}
		if j-i >= minPrintableRun {
			copy(out[i:j], data[i:j])
		} else {
			for k := i; k < j; k++ {
				out[k] = '\n'
			}
		}
		if j < len(data) {
			out[j] = '\n'
			j++
		}
		i = j
	}
	return out
}

// utf16Runs finds runs of printable ASCII encoded as UTF-16LE (each
// character followed by a NUL byte), minPrintableRun characters or more.
func utf16Runs(data []byte) []span {
	var out []span
	for off := 0; off < 2; off++ {
		start := -1
		for i := off; i+1 < len(data); i += 2 {
			if printableByte(data[i]) && data[i+1] == 0 {
				if start < 0 {
					start = i
				}
				continue
			}
			if start >= 0 && (i-start)/2 >= minPrintableRun {
				out = append(out, span{start, i})
			}
			start = -1
		}
		if end := len(data) - (len(data)-off)%2; start >= 0 && (end-start)/2 >= minPrintableRun {
			out = append(out, span{start, end})
		}
	}
	return out
}
