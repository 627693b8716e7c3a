package gitdb

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/klauspost/compress/zlib"
	"github.com/sourcegraph/conc/pool"
)

// eachLooseBlob reads the loose objects under dirs and passes the blobs
// to fn.
func (db *DB) eachLooseBlob(ctx context.Context, workers int, dirs []string, fn BlobFunc) error {
	var files []string
	for _, dir := range dirs {
		m, err := filepath.Glob(filepath.Join(dir, "[0-9a-f][0-9a-f]", "*"))
		if err != nil {
			return err
		}
		files = append(files, m...)
	}
	p := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError().WithMaxGoroutines(max(workers, 1))
	for _, f := range files {
		name := filepath.Base(filepath.Dir(f)) + filepath.Base(f)
		if !plumbing.IsHash(name) {
			continue // a temporary file
		}
		h := plumbing.NewHash(name)
		p.Go(func(ctx context.Context) error {
			typ, data, err := db.readLoose(h, f)
			if err != nil {
				return fmt.Errorf("read object %s: %w", h, err)
			}
			if typ == "blob" && data != nil {
				db.blob(h, data, fn)
			}
			return nil
		})
	}
	return p.Wait()
}

// readLoose reads a loose object; only a blob's content is returned. A
// blob over the large-blob size (SetLargeBlobStream) is streamed to the
// large-blob function instead, and nil data returned.
func (db *DB) readLoose(h Hash, path string) (string, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	zr, err := zlib.NewReader(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return "", nil, err
	}
	defer zr.Close()
	var hdr [64]byte
	n, err := io.ReadAtLeast(zr, hdr[:], 1)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", nil, err
	}
	for n < len(hdr) && bytes.IndexByte(hdr[:n], 0) < 0 {
		m, err := zr.Read(hdr[n:])
		n += m
		if err != nil {
			break
		}
	}
	nul := bytes.IndexByte(hdr[:n], 0)
	typ, sz, ok := strings.Cut(string(hdr[:max(nul, 0)]), " ")
	if nul < 0 || !ok {
		return "", nil, fmt.Errorf("%w: bad loose object header", ErrCorrupt)
	}
	if typ != "blob" {
		return typ, nil, nil
	}
	var size int64
	if _, err := fmt.Sscan(sz, &size); err != nil || size < 0 || size > 1<<34 {
		return "", nil, fmt.Errorf("%w: bad loose object size", ErrCorrupt)
	}
	checkEnd := func() error {
		var one [1]byte
		if m, err := zr.Read(one[:]); m != 0 || err != io.EOF {
			return fmt.Errorf("%w: loose object size mismatch or bad checksum", ErrCorrupt)
		}
		return nil
	}
	if db.large != nil && size > db.largeSize {
		if !db.claim(h) {
			return typ, nil, nil // passed on from a pack
		}
		cr := &countReader{r: io.MultiReader(bytes.NewReader(hdr[nul+1:n]), zr)}
		if err := db.large(h, io.LimitReader(cr, size), size); err != nil {
			return "", nil, err
		}
		if cr.n != size {
			return "", nil, fmt.Errorf("%w: loose object size mismatch", ErrCorrupt)
		}
		return typ, nil, checkEnd()
	}
	data := make([]byte, size)
	k := copy(data, hdr[nul+1:n])
	if _, err := io.ReadFull(zr, data[k:]); err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return typ, data, checkEnd()
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// BlobStreamFunc receives the content of one large blob as a stream of
// size bytes. It is called concurrently; an error stops the pass.
type BlobStreamFunc func(h Hash, r io.Reader, size int64) error

// SetLargeBlobStream makes EachBlob pass the blobs of more than size
// bytes to fn as streams, in bounded memory, instead of whole to its
// BlobFunc: loose blobs, and packed blobs stored whole that no delta is
// based on. A packed blob stored as a delta, or the base of one, is
// still passed whole (its delta chain needs it in memory).
func (db *DB) SetLargeBlobStream(size int64, fn BlobStreamFunc) {
	db.largeSize, db.large = size, fn
}

// claim records h as passed on, and reports whether it was not yet.
func (db *DB) claim(h Hash) bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	if _, dup := db.blobs[h]; dup {
		return false
	}
	db.blobs[h] = struct{}{}
	return true
}

// readLooseAll reads a whole loose object.
func readLooseAll(path string) (plumbing.ObjectType, []byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return plumbing.InvalidObject, nil, err
	}
	zr, err := zlib.NewReader(bytes.NewReader(raw))
	if err != nil {
		return plumbing.InvalidObject, nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	defer zr.Close()
	all, err := io.ReadAll(zr)
	if err != nil {
		return plumbing.InvalidObject, nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	nul := bytes.IndexByte(all, 0)
	if nul < 0 {
		return plumbing.InvalidObject, nil, fmt.Errorf("%w: bad loose object header", ErrCorrupt)
	}
	typName, size, _ := bytes.Cut(all[:nul], []byte{' '})
	t, err := plumbing.ParseObjectType(string(typName))
	if err != nil {
		return plumbing.InvalidObject, nil, fmt.Errorf("%w: bad loose object type", ErrCorrupt)
	}
	if fmt.Sprint(len(all)-nul-1) != string(size) {
		return plumbing.InvalidObject, nil, fmt.Errorf("%w: loose object size mismatch", ErrCorrupt)
	}
	return t, all[nul+1:], nil
}
