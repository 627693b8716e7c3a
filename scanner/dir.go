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

	"github.com/sourcegraph/conc/pool"
)

// DirSource is a directory tree (or a single file) scanned as one
// snapshot: a secret in one file pairs with a SID in another. It never
// follows symbolic links, skips .git directories, binary and oversized
// files, and survives unreadable files with a warning.
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
			fh, st := scanOneFile(d, path, name, opts)
			mu.Lock()
			defer mu.Unlock()
			addStats(&sum.Stats, st)
			if len(fh.Hits) > 0 {
				files = append(files, fh)
			}
			return nil
		})
	}
	if !info.IsDir() {
		if info.Mode()&fs.ModeSymlink != 0 {
			return Summary{}, fmt.Errorf("scan %s: is a symbolic link; name its target", root)
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
				sum.Stats.Unreadable++
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
				sum.Stats.Symlinks++
				mu.Unlock()
				return nil
			case !t.IsRegular():
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

// ReaderSource is one stream (stdin) scanned as a file named Name. A
// stream over Options.MaxFileSize is an error.
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
	data, err := io.ReadAll(io.LimitReader(s.R, opts.maxSize()+1))
	if err != nil {
		return Summary{}, fmt.Errorf("read %s: %w", name, err)
	}
	if int64(len(data)) > opts.maxSize() {
		return Summary{}, fmt.Errorf("read %s: input is over the %d-byte limit (--max-file-size)", name, opts.maxSize())
	}
	var sum Summary
	text := Text(data)
	if text == nil {
		sum.Stats.SkippedBinary++
		return sum, nil
	}
	sum.Stats.Files, sum.Stats.Bytes = 1, int64(len(data))
	if found := d.Pair([]FileHits{{Path: name, Hits: d.Hits(text)}}); len(found) > 0 {
		if err := emit(found); err != nil {
			return Summary{}, err
		}
	}
	return sum, nil
}
