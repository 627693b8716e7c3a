package scanner

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"unicode/utf16"
	"unicode/utf8"
)

// Options control a scan.
type Options struct {
	// MaxFileSize skips files and blobs larger than this many bytes, with
	// a warning and a count (0: no limit; content of any size is
	// streamed through the detector in bounded memory).
	MaxFileSize int64
	// SkipUnreadable turns a file or folder that cannot be read from an
	// error into a warning and a count (Stats.Unreadable).
	SkipUnreadable bool
	// Workers bounds parallelism (0: GOMAXPROCS).
	Workers int
	// Warn receives non-fatal problems (unreadable files, skipped files).
	Warn func(msg string)
	// Trace, when not nil, receives the duration of each phase of a git
	// scan, one line each. Libraries read no environment: the command
	// sets it (LEAKSTOP_GIT_TRACE).
	Trace io.Writer
}

// DefaultMaxFileSize is the default cap on one file or blob: none.
const DefaultMaxFileSize = 0

func (o Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return runtime.GOMAXPROCS(0)
}

func (o Options) warn(format string, a ...any) {
	if o.Warn != nil {
		o.Warn(fmt.Sprintf(format, a...))
	}
}

// Stats counts what a scan read and skipped.
type Stats struct {
	Files int64 `json:"files"`
	Bytes int64 `json:"bytes"`
	// SkippedBinary is always 0: binary content is scanned (Binary).
	SkippedBinary int64 `json:"skipped_binary"`
	SkippedLarge  int64 `json:"skipped_large"`
	SkippedOther  int64 `json:"skipped_other"`
	Symlinks      int64 `json:"skipped_symlinks"`
	Unreadable    int64 `json:"unreadable"`
	// Binary counts the files and blobs scanned as binary content (their
	// printable runs); they are in Files too.
	Binary int64 `json:"binary,omitempty"`
	// Git sources fill these.
	Commits int64 `json:"commits,omitempty"`
	Blobs   int64 `json:"blobs,omitempty"`
	// WorktreeSource fills these: the files staged (differing from
	// HEAD), modified in the work tree (differing from the index) and
	// untracked (not ignored) — counted whether or not they were read.
	Staged    int64 `json:"staged,omitempty"`
	Modified  int64 `json:"modified,omitempty"`
	Untracked int64 `json:"untracked,omitempty"`
}

// Result is the outcome of a scan.
type Result struct {
	Findings []Finding
	Stats    Stats
	// Notes are facts the user should know (a shallow history, …).
	Notes []string
}

// sniffLen is how much of a file decides whether it is binary.
const sniffLen = 8000

// Text returns data as UTF-8 text to scan, or nil when it is binary.
// UTF-16 with a byte-order mark is converted; other data with a NUL byte
// in its first 8000 bytes is binary.
func Text(data []byte) []byte {
	switch {
	case bytes.HasPrefix(data, []byte{0xff, 0xfe}):
		return utf16ToUTF8(data[2:], false)
	case bytes.HasPrefix(data, []byte{0xfe, 0xff}):
		return utf16ToUTF8(data[2:], true)
	}
	if bytes.IndexByte(data[:min(len(data), sniffLen)], 0) >= 0 {
		return nil
	}
	return data
}

func utf16ToUTF8(b []byte, bigEndian bool) []byte {
	u := make([]uint16, len(b)/2)
	for i := range u {
		if bigEndian {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			u[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
		}
	}
	out := make([]byte, 0, len(u))
	for _, r := range utf16.Decode(u) {
		out = utf8.AppendRune(out, r)
	}
	return out
}
