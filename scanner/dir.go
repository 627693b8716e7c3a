package scanner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sourcegraph/conc/pool"
)

// Options control a scan.
type Options struct {
	// MaxFileSize skips files larger than this many bytes (0: default).
	MaxFileSize int64
	// Workers bounds parallelism (0: GOMAXPROCS).
	Workers int
	// Warn receives non-fatal problems (unreadable files, skipped files).
	Warn func(msg string)
}

// DefaultMaxFileSize is the default cap on one file or blob.
const DefaultMaxFileSize = 32 << 20

func (o Options) maxSize() int64 {
	if o.MaxFileSize > 0 {
		return o.MaxFileSize
	}
	return DefaultMaxFileSize
}

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
	Files         int64 `json:"files"`
	Bytes         int64 `json:"bytes"`
	SkippedBinary int64 `json:"skipped_binary"`
	SkippedLarge  int64 `json:"skipped_large"`
	SkippedOther  int64 `json:"skipped_other"`
	Symlinks      int64 `json:"skipped_symlinks"`
	Unreadable    int64 `json:"unreadable"`
	// Git sources fill these.
	Commits int64 `json:"commits,omitempty"`
	Blobs   int64 `json:"blobs,omitempty"`
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

// ScanDir scans a directory tree (or a single file) as one snapshot: a
// secret in one file pairs with a SID in another. It never follows
// symbolic links, skips .git directories, binary and oversized files, and
// survives unreadable files with a warning.
func ScanDir(ctx context.Context, d *Detector, root string, opts Options) (*Result, error) {
	info, err := os.Lstat(root)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", root, err)
	}
	res := &Result{}
	var mu sync.Mutex
	var files []FileHits
	p := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError().WithMaxGoroutines(opts.workers())
	scanFile := func(path, name string) {
		p.Go(func(ctx context.Context) error {
			fh, st := scanOneFile(d, path, name, opts)
			mu.Lock()
			defer mu.Unlock()
			addStats(&res.Stats, st)
			if len(fh.Hits) > 0 {
				files = append(files, fh)
			}
			return nil
		})
	}
	if !info.IsDir() {
		if info.Mode()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("scan %s: is a symbolic link; name its target", root)
		}
		scanFile(root, filepath.ToSlash(root))
	} else {
		walkErr := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rel, _ := filepath.Rel(root, path)
			rel = filepath.ToSlash(rel)
			if err != nil {
				opts.warn("cannot read %q: %v", rel, err)
				mu.Lock()
				res.Stats.Unreadable++
				mu.Unlock()
				if e != nil && e.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			switch t := e.Type(); {
			case t.IsDir():
				if e.Name() == ".git" && path != root {
					return fs.SkipDir
				}
				return nil
			case t&fs.ModeSymlink != 0:
				mu.Lock()
				res.Stats.Symlinks++
				mu.Unlock()
				return nil
			case !t.IsRegular():
				mu.Lock()
				res.Stats.SkippedOther++
				mu.Unlock()
				return nil
			}
			scanFile(path, rel)
			return nil
		})
		if walkErr != nil {
			_ = p.Wait()
			return nil, fmt.Errorf("walk %s: %w", root, walkErr)
		}
	}
	if err := p.Wait(); err != nil {
		return nil, err
	}
	c := NewCollector()
	c.Add(d.Pair(files)...)
	res.Findings = c.Findings()
	return res, nil
}

func addStats(dst *Stats, s Stats) {
	dst.Files += s.Files
	dst.Bytes += s.Bytes
	dst.SkippedBinary += s.SkippedBinary
	dst.SkippedLarge += s.SkippedLarge
	dst.SkippedOther += s.SkippedOther
	dst.Unreadable += s.Unreadable
}

func scanOneFile(d *Detector, path, name string, opts Options) (FileHits, Stats) {
	var st Stats
	f, err := os.Open(path)
	if err != nil {
		opts.warn("cannot read %q: %v", name, errors.Unwrap(err))
		st.Unreadable++
		return FileHits{}, st
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		opts.warn("cannot read %q: %v", name, err)
		st.Unreadable++
		return FileHits{}, st
	}
	if fi.Size() > opts.maxSize() {
		opts.warn("skipped %q: %d bytes is over the %d-byte limit (--max-file-size)", name, fi.Size(), opts.maxSize())
		st.SkippedLarge++
		return FileHits{}, st
	}
	data, err := io.ReadAll(io.LimitReader(f, opts.maxSize()+1))
	if err != nil {
		opts.warn("cannot read %q: %v", name, err)
		st.Unreadable++
		return FileHits{}, st
	}
	text := Text(data)
	if text == nil {
		st.SkippedBinary++
		return FileHits{}, st
	}
	st.Files++
	st.Bytes += int64(len(data))
	return FileHits{Path: name, Hits: d.Hits(text)}, st
}

// ScanReader scans one stream (stdin) as a file named name.
func ScanReader(ctx context.Context, d *Detector, name string, r io.Reader, opts Options) (*Result, error) {
	data, err := io.ReadAll(io.LimitReader(r, opts.maxSize()+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > opts.maxSize() {
		return nil, fmt.Errorf("read %s: input is over the %d-byte limit (--max-file-size)", name, opts.maxSize())
	}
	res := &Result{}
	text := Text(data)
	if text == nil {
		res.Stats.SkippedBinary++
		return res, nil
	}
	res.Stats.Files, res.Stats.Bytes = 1, int64(len(data))
	c := NewCollector()
	c.Add(d.Pair([]FileHits{{Path: name, Hits: d.Hits(text)}})...)
	res.Findings = c.Findings()
	return res, ctx.Err()
}
