package gitdb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/klauspost/compress/zlib"
)

// Point reads of objects (trees, commits, tags, the few blobs of a
// --staged or --range scan) go through the mapped packs too: go-git's
// object layer loads and hashes a pack's whole index and builds an
// offset map on first use, which costs more than a pre-commit scan.

var objTypeNames = [...]plumbing.ObjectType{
	objCommit: plumbing.CommitObject, objTree: plumbing.TreeObject,
	objBlob: plumbing.BlobObject, objTag: plumbing.TagObject,
}

// lookupPacks maps the packs (indexes only) for point reads.
func (db *DB) lookupPacks() ([]*pack, error) {
	db.lookupOnce.Do(func() {
		dirs, err := objectDirs(db.path)
		if err != nil {
			db.lookupErr = err
			return
		}
		db.objDirs = dirs
		for _, dir := range dirs {
			m, err := filepath.Glob(filepath.Join(dir, "pack", "*.pack"))
			if err != nil {
				db.lookupErr = err
				return
			}
			for _, pp := range m {
				p, err := openPackIndex(pp)
				if err != nil {
					db.lookupErr = fmt.Errorf("read pack %s: %w", filepath.Base(pp), err)
					return
				}
				db.lookup = append(db.lookup, p)
			}
		}
	})
	return db.lookup, db.lookupErr
}

// Read returns the type and content of object h: from the packs' indexes
// (mapped once), a loose object, or go-git for other storage layouts.
func (db *DB) Read(h Hash) (plumbing.ObjectType, []byte, error) {
	packs, err := db.lookupPacks()
	if err != nil {
		return plumbing.InvalidObject, nil, err
	}
	for _, p := range packs {
		if i := p.idx.find(h); i >= 0 {
			t, data, err := p.readAt(db, p.idx.offsets[i], 0)
			if err != nil {
				return plumbing.InvalidObject, nil, fmt.Errorf("read object %s: %w", h, err)
			}
			return objTypeNames[t], data, nil
		}
	}
	hex := h.String()
	for _, dir := range db.objDirs {
		typ, data, err := readLooseAll(filepath.Join(dir, hex[:2], hex[2:]))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return plumbing.InvalidObject, nil, fmt.Errorf("read object %s: %w", h, err)
		}
		return typ, data, nil
	}
	// Last resort: go-git (other storage layouts).
	obj, err := db.st.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return plumbing.InvalidObject, nil, fmt.Errorf("read object %s: %w", h, err)
	}
	r, err := obj.Reader()
	if err != nil {
		return plumbing.InvalidObject, nil, fmt.Errorf("read object %s: %w", h, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return plumbing.InvalidObject, nil, fmt.Errorf("read object %s: %w", h, err)
	}
	return obj.Type(), data, nil
}

// ReadTyped reads object h, which must be of type t.
func (db *DB) ReadTyped(t ObjectType, h Hash) ([]byte, error) {
	typ, data, err := db.Read(h)
	if err != nil {
		return nil, err
	}
	if typ != t {
		return nil, fmt.Errorf("object %s is a %s, not a %s", h, typ, t)
	}
	return data, nil
}

// maxDeltaDepth bounds delta chains in point reads.
const maxDeltaDepth = 4096

// readAt decodes the object at off, resolving its delta chain.
func (p *pack) readAt(db *DB, off int64, depth int) (uint8, []byte, error) {
	if depth > maxDeltaDepth {
		return 0, nil, fmt.Errorf("%w: delta chain too long", ErrCorrupt)
	}
	hd, err := p.header(off)
	if err != nil {
		return 0, nil, err
	}
	raw, err := inflateStream(p.data[hd.data:len(p.data)-20], hd.size)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: object at %d: %v", ErrCorrupt, off, err)
	}
	var typ uint8
	var base []byte
	switch hd.typ {
	case objOfsDelta:
		typ, base, err = p.readBase(db, hd.baseOff, depth+1)
	case objRefDelta:
		var t plumbing.ObjectType
		t, base, err = db.Read(hd.baseHash)
		typ = objTypes[t]
	default:
		return hd.typ, raw, nil
	}
	if err != nil {
		return 0, nil, err
	}
	data, err := applyDelta(base, raw, func(n int64) []byte { return make([]byte, n) })
	if err != nil {
		return 0, nil, fmt.Errorf("%w: object at %d: %v", ErrCorrupt, off, err)
	}
	return typ, data, nil
}

// baseCacheBudget bounds the delta bases a pack keeps for point reads.
const baseCacheBudget = 32 << 20

type cachedBase struct {
	typ  uint8
	data []byte
}

// readBase reads a delta base through a small cache: the trees a range
// scan reads share their chains.
func (p *pack) readBase(db *DB, off int64, depth int) (uint8, []byte, error) {
	p.cacheMu.Lock()
	if c, ok := p.cache[off]; ok {
		p.cacheMu.Unlock()
		return c.typ, c.data, nil
	}
	p.cacheMu.Unlock()
	typ, data, err := p.readAt(db, off, depth)
	if err != nil {
		return 0, nil, err
	}
	p.cacheMu.Lock()
	if p.cache == nil || p.cacheSize+len(data) > baseCacheBudget {
		p.cache, p.cacheSize = map[int64]cachedBase{}, 0
	}
	if len(data) <= baseCacheBudget/4 {
		p.cache[off] = cachedBase{typ, data}
		p.cacheSize += len(data)
	}
	p.cacheMu.Unlock()
	return typ, data, nil
}

func inflateStream(b []byte, size int64) ([]byte, error) {
	if size < 0 || size > 1<<34 {
		return nil, errors.New("bad size")
	}
	zr, err := getZlib(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer putZlib(zr)
	out := make([]byte, size)
	if _, err := io.ReadFull(zr, out); err != nil {
		return nil, err
	}
	var one [1]byte
	if n, err := zr.Read(one[:]); n != 0 || err != io.EOF {
		return nil, errors.New("size mismatch or bad checksum")
	}
	return out, nil
}

// zlibPool recycles zlib readers: each holds a 32 KiB window, and point
// reads (a staged scan, a tree walk) inflate many small objects.
var zlibPool sync.Pool

func getZlib(r io.Reader) (io.ReadCloser, error) {
	if zr, ok := zlibPool.Get().(io.ReadCloser); ok {
		if err := zr.(zlib.Resetter).Reset(r, nil); err != nil {
			return nil, err
		}
		return zr, nil
	}
	return zlib.NewReader(r)
}

func putZlib(zr io.ReadCloser) {
	zr.Close()
	zlibPool.Put(zr)
}
