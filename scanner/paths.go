package scanner

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/sourcegraph/conc/pool"
)

// PathsSource is a list of files, scanned as one snapshot as DirSource
// scans a directory: a secret in one file pairs with a SID in another.
// It is what a hook framework hands over ("pre-commit run --files",
// "--all-files"). Paths relative to Root are read from Root and named
// as given; each must be a regular file. A path that is missing, is not
// a regular file or cannot be read is an error, never a skip: the caller
// named it, so a clean result would claim it was looked at.
type PathsSource struct {
	Root  string
	Paths []string
	Options
}

// Scan implements Source.
func (s PathsSource) Scan(ctx context.Context, d *Detector, emit func([]Finding) error) (Summary, error) {
	type named struct{ path, name string }
	files := make([]named, 0, len(s.Paths))
	for _, p := range s.Paths {
		path := p
		if !filepath.IsAbs(path) && s.Root != "" {
			path = filepath.Join(s.Root, path)
		}
		// Lstat, and refuse anything but a regular file up front: a FIFO
		// would block the read forever, a directory is not a file list.
		info, err := os.Lstat(path)
		if err != nil {
			return Summary{}, fmt.Errorf("scan %s: %w", p, err)
		}
		if !info.Mode().IsRegular() {
			return Summary{}, fmt.Errorf("scan %s: is %s, not a regular file", p, fileKind(info.Mode()))
		}
		files = append(files, named{path, filepath.ToSlash(p)})
	}
	var (
		sum  Summary
		mu   sync.Mutex
		hits []FileHits
	)
	p := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError().WithMaxGoroutines(s.workers())
	for _, f := range files {
		p.Go(func(ctx context.Context) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var warned string
			opts := s.Options
			opts.Warn = func(msg string) { warned = msg }
			fh, st, err := scanOneFile(ctx, d, f.path, f.name, opts)
			if err != nil {
				return err
			}
			if st.Unreadable > 0 {
				return fmt.Errorf("scan %s: %s", f.name, warned)
			}
			if st.SkippedLarge > 0 || st.SkippedOther > 0 {
				s.Options.warn("%s", warned) // as a directory scan says it; the summary counts it
			}
			mu.Lock()
			defer mu.Unlock()
			addStats(&sum.Stats, st)
			if len(fh.Hits) > 0 {
				hits = append(hits, fh)
			}
			return nil
		})
	}
	if err := p.Wait(); err != nil {
		return Summary{}, err
	}
	if found := d.Pair(hits); len(found) > 0 {
		if err := emit(found); err != nil {
			return Summary{}, err
		}
	}
	return sum, nil
}

// fileKind names a mode that is not a regular file's.
func fileKind(m fs.FileMode) string {
	switch t := m.Type(); {
	case t&fs.ModeDir != 0:
		return "a directory"
	case t&fs.ModeSymlink != 0:
		return "a symbolic link"
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file: " + m.String()
}
