package scanner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/sourcegraph/conc/pool"
)

// DirSource is a directory tree (or a single file) scanned as one
// snapshot: a secret in one file pairs with a SID in another. It never
// follows symbolic links and skips .git directories. Every regular file
// is scanned whatever its size (streamed in bounded memory) or content
// (binary: its printable runs), unless MaxFileSize says otherwise. A
// file or folder that cannot be read is an error (*UnreadableError)
// unless SkipUnreadable; a FIFO, socket or device inside the tree is
// never opened for reading: it is skipped by type with a warning (it
// holds no content to scan). A root that is not a regular file or a
// directory is an error.
type DirSource struct {
	Root string
	Options
}

// ScanDir scans a directory tree (or a single file): see DirSource.
func ScanDir(ctx context.Context, d *Detector, root string, opts Options) (*Result, error) {
	return Collect(ctx, d, DirSource{Root: root, Options: opts})
}

// Scan implements Source.
func (s DirSource) Scan(ctx context.Context, d *Detector, emit func([]Finding) error) (Summary, error) {
	root, opts := s.Root, s.Options
	info, err := os.Lstat(root)
	if err != nil {
		return Summary{}, fmt.Errorf("scan %s: %w", root, err)
	}
	var sum Summary
	var mu sync.Mutex
	var files []FileHits
	p := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError().WithMaxGoroutines(opts.workers())
	scanFile := func(path, name string) {
		p.Go(func(ctx context.Context) error {
			fh, st, err := scanOneFile(ctx, d, path, name, opts)
			mu.Lock()
			defer mu.Unlock()
			addStats(&sum.Stats, st)
			if len(fh.Hits) > 0 {
				files = append(files, fh)
			}
			return err
		})
	}
	if !info.IsDir() {
		if info.Mode()&fs.ModeSymlink != 0 {
			return Summary{}, fmt.Errorf("scan %s: is a symbolic link; name its target", root)
		}
		if !info.Mode().IsRegular() {
			return Summary{}, fmt.Errorf("scan %s: %w (%s)", root, errNotRegular, info.Mode().Type())
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
				mu.Lock()
				err = opts.unreadable(&sum.Stats, rel, err)
				mu.Unlock()
				if err != nil {
					return err
				}
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
				sum.Stats.Symlinks++
				mu.Unlock()
				return nil
			case !t.IsRegular():
				opts.warn("skipped %q: not a regular file (%s)", rel, t)
				mu.Lock()
				sum.Stats.SkippedOther++
				mu.Unlock()
				return nil
			}
			scanFile(path, rel)
			return nil
		})
		if walkErr != nil {
			_ = p.Wait()
			if ue, ok := errors.AsType[*UnreadableError](walkErr); ok {
				return Summary{}, ue
			}
			return Summary{}, fmt.Errorf("walk %s: %w", root, walkErr)
		}
	}
	if err := p.Wait(); err != nil {
		return Summary{}, err
	}
	if found := d.Pair(files); len(found) > 0 {
		if err := emit(found); err != nil {
			return Summary{}, err
		}
	}
	return sum, nil
}

func addStats(dst *Stats, s Stats) {
	dst.Files += s.Files
	dst.Bytes += s.Bytes
	dst.SkippedBinary += s.SkippedBinary
	dst.SkippedLarge += s.SkippedLarge
	dst.SkippedOther += s.SkippedOther
	dst.Unreadable += s.Unreadable
	dst.Binary += s.Binary
}

// UnreadableError is a file or folder that a scan was asked to read and
// could not (Options.SkipUnreadable not set).
type UnreadableError struct {
	Path string
	Err  error
}

func (e *UnreadableError) Error() string {
	return fmt.Sprintf("cannot read %q: %v (pass --skip-unreadable to scan the rest and report it)", e.Path, e.Err)
}

func (e *UnreadableError) Unwrap() error { return e.Err }

// errNotRegular is a path that is a FIFO, socket or device, found where
// a regular file was.
var errNotRegular = errors.New("not a regular file")

// unreadable records what could not be read: an error, or with
// SkipUnreadable a warning and a count.
func (o Options) unreadable(st *Stats, name string, err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		err = pe.Err
	}
	if !o.SkipUnreadable {
		return &UnreadableError{Path: name, Err: err}
	}
	o.warn("skipped %q: cannot read it: %v (--skip-unreadable)", name, err)
	st.Unreadable++
	return nil
}

// scanOneFile streams one file through the detector. It opens without
// blocking and reads only a regular file: a FIFO, socket or device put
// where a file was is never read from (skipped by type, with a warning).
func scanOneFile(ctx context.Context, d *Detector, path, name string, opts Options) (FileHits, Stats, error) {
	var st Stats
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return FileHits{}, st, opts.unreadable(&st, name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return FileHits{}, st, opts.unreadable(&st, name, err)
	}
	if !fi.Mode().IsRegular() {
		opts.warn("skipped %q: not a regular file (%s)", name, fi.Mode().Type())
		st.SkippedOther++
		return FileHits{}, st, nil
	}
	if max := opts.MaxFileSize; max > 0 && fi.Size() > max {
		opts.warn("skipped %q: %d bytes is over the %d-byte limit (--max-file-size)", name, fi.Size(), max)
		st.SkippedLarge++
		return FileHits{}, st, nil
	}
	hits, ss, err := d.streamHits(ctxReader{ctx, f}, fi.Size())
	if err != nil {
		return FileHits{}, st, opts.unreadable(&st, name, err)
	}
	st.Files++
	st.Bytes += ss.bytes
	if ss.binary {
		st.Binary++
	}
	return FileHits{Path: name, Hits: hits, Binary: ss.binary}, st, nil
}

// ReaderSource is one stream (stdin) scanned as a file named Name,
// streamed in bounded memory. A stream over Options.MaxFileSize (when
// set) is an error.
type ReaderSource struct {
	Name string
	R    io.Reader
	Options
}

// ScanReader scans one stream (stdin) as a file named name.
func ScanReader(ctx context.Context, d *Detector, name string, r io.Reader, opts Options) (*Result, error) {
	res, err := Collect(ctx, d, ReaderSource{Name: name, R: r, Options: opts})
	if err != nil {
		return nil, err
	}
	return res, ctx.Err()
}

// Scan implements Source.
func (s ReaderSource) Scan(ctx context.Context, d *Detector, emit func([]Finding) error) (Summary, error) {
	name, opts := s.Name, s.Options
	r := s.R
	if opts.MaxFileSize > 0 {
		r = io.LimitReader(r, opts.MaxFileSize+1)
	}
	hits, ss, err := d.streamHits(ctxReader{ctx, r}, -1)
	if err != nil {
		return Summary{}, fmt.Errorf("read %s: %w", name, err)
	}
	if opts.MaxFileSize > 0 && ss.bytes > opts.MaxFileSize {
		return Summary{}, fmt.Errorf("read %s: input is over the %d-byte limit (--max-file-size)", name, opts.MaxFileSize)
	}
	var sum Summary
	sum.Stats.Files, sum.Stats.Bytes = 1, ss.bytes
	if ss.binary {
		sum.Stats.Binary = 1
	}
	if found := d.Pair([]FileHits{{Path: name, Hits: hits, Binary: ss.binary}}); len(found) > 0 {
		if err := emit(found); err != nil {
			return Summary{}, err
		}
	}
	return sum, nil
}

// ctxReader stops reading when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
