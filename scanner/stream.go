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
// binary. size is what r is expected to hold (-1: unknown): a small
// stream gets a small buffer.
func (d *Detector) streamHits(r io.Reader, size int64) ([]Hit, streamStats, error) {
	return d.streamHitsSized(r, size, streamWindow, streamOverlap)
}

// windows is the state of one windowed scan.
type windows struct {
	d               *Detector
	overlap         int
	st              streamStats
	out             []Hit
	base            int64 // offset of the current window
	lineBase        int   // lines before it
	lastNL          int64 // offset of the last newline before it
	started, single bool
}

// scan scans the window buf at w.base (last: the content ends with it)
// and returns how many of its bytes the next window starts after.
func (w *windows) scan(buf []byte, last bool) int {
	d := w.d
	if !w.started {
		w.started = true
		bom := bytes.HasPrefix(buf, []byte{0xff, 0xfe}) || bytes.HasPrefix(buf, []byte{0xfe, 0xff})
		if last && bom {
			w.out, w.single = d.Hits(Text(buf)), true
			return len(buf)
		}
		w.st.binary = bom || bytes.IndexByte(buf[:min(len(buf), sniffLen)], 0) >= 0
	}
	coreStart, coreEnd := 0, len(buf)
	if w.base > 0 {
		coreStart = w.overlap / 2
	}
	if !last {
		coreEnd = len(buf) - w.overlap/2
	}
	var hits []Hit
	if w.st.binary {
		hits = d.binaryHits(buf)
	} else {
		hits = d.Hits(buf)
	}
	for _, h := range hits {
		if h.Offset < coreStart || h.Offset >= coreEnd {
			continue
		}
		if w.st.binary {
			h.Line, h.Column = lineCol(buf, h.Offset)
			h.EndColumn = h.Column + len(h.Value)
		}
		if h.Line == 1 {
			shift := int(w.base - (w.lastNL + 1))
			h.Column += shift
			h.EndColumn += shift
		}
		h.Line += w.lineBase
		h.Offset += int(w.base)
		w.out = append(w.out, h)
	}
	if last {
		return len(buf)
	}
	keep := len(buf) - w.overlap
	done := buf[:keep]
	w.lineBase += bytes.Count(done, []byte{'\n'})
	if i := bytes.LastIndexByte(done, '\n'); i >= 0 {
		w.lastNL = w.base + int64(i)
	}
	w.base += int64(keep)
	return keep
}

func (w *windows) hits() []Hit {
	if len(w.out) > 1 && !w.single {
		w.out = dedupeHits(w.out)
	}
	return w.out
}

// streamHitsSized is streamHits with windows of window bytes overlapping
// by overlap (even, at least 2*maxLineWindow plus the longest value).
func (d *Detector) streamHitsSized(r io.Reader, size int64, window, overlap int) ([]Hit, streamStats, error) {
	w := &windows{d: d, overlap: overlap, lastNL: -1}
	full := window + overlap
	c := full
	if size >= 0 && size < int64(full) {
		c = int(size) + 1 // room to see the end
	}
	buf := make([]byte, 0, c)
	for {
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		w.st.bytes += int64(n)
		eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !eof {
			return nil, w.st, err
		}
		if !eof && cap(buf) < full {
			// Longer than it said: read on in full windows.
			buf = append(make([]byte, 0, full), buf...)
			continue
		}
		keep := w.scan(buf, eof)
		if eof {
			break
		}
		buf = buf[:copy(buf, buf[keep:])]
	}
	return w.hits(), w.st, nil
}

// ContentHits returns the hits in one file's content held in memory, read
// as every source reads it: text in overlapping windows, or the printable
// runs of binary content. A caller that rescans a blob a source scanned
// (the Action's head and base snapshots) gets the same hits.
func (d *Detector) ContentHits(data []byte) []Hit {
	hits, _ := d.sliceHits(data)
	return hits
}

// sliceHits is streamHits over content in memory, without copying it.
func (d *Detector) sliceHits(data []byte) ([]Hit, streamStats) {
	return d.sliceHitsSized(data, streamWindow, streamOverlap)
}

func (d *Detector) sliceHitsSized(data []byte, window, overlap int) ([]Hit, streamStats) {
	w := &windows{d: d, overlap: overlap, lastNL: -1}
	w.st.bytes = int64(len(data))
	for start := 0; ; {
		end := min(len(data), start+window+overlap)
		last := end == len(data)
		start += w.scan(data[start:end], last)
		if last {
			break
		}
	}
	return w.hits(), w.st
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
