package gitdb

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/klauspost/compress/zlib"
	"github.com/sourcegraph/conc/pool"
)

// The fast path of a full pass reads every pack file directly, once, in
// offset order: object headers are parsed without inflating anything, the
// delta graph is built from them, and then each delta tree whose objects
// are of the wanted types is decoded depth first — every object inflated
// once, every delta applied once, base contents held only along the
// current chain — with the trees spread over the workers. EachBlob wants
// blobs only; IndexTrees then wants trees and commits only. Objects come
// straight out of the mapped pack: no object.Blob, no io.Reader per
// object, no copy beyond inflation.

// openPacks maps and parses every pack under dirs.
func (db *DB) openPacks(dirs []string) error {
	for _, dir := range dirs {
		m, err := filepath.Glob(filepath.Join(dir, "pack", "*.pack"))
		if err != nil {
			return err
		}
		for _, pp := range m {
			p, err := openPack(pp)
			if err != nil {
				return fmt.Errorf("read pack %s: %w", filepath.Base(pp), err)
			}
			db.mu.Lock()
			db.packs = append(db.packs, p)
			db.mu.Unlock()
		}
	}
	return nil
}

// packVisit receives each decoded object of the wanted types.
type packVisit func(typ uint8, h plumbing.Hash, data []byte) error

// decodePacks decodes, in parallel, every object of the wanted types in
// every pack, each once, and passes it to visit (from several goroutines).
func (db *DB) decodePacks(ctx context.Context, workers int, want func(typ uint8) bool, visit packVisit) error {
	for _, p := range db.packs {
		if err := db.decodePack(ctx, p, workers, want, visit); err != nil {
			return fmt.Errorf("read pack %s: %w", filepath.Base(p.path), err)
		}
	}
	return nil
}

func (db *DB) decodePack(ctx context.Context, p *pack, workers int, want func(typ uint8) bool, visit packVisit) error {
	// Roots of delta trees of the wanted types: whole objects, and ref
	// deltas on outside bases (typed when the base is read).
	var roots []int32
	for i, o := range p.objs {
		switch {
		case o.base == -1 && want(o.typ):
			roots = append(roots, int32(i))
		case o.base == -2:
			roots = append(roots, int32(i))
		}
	}
	// Big trees first, so the workers finish together.
	weight := func(i int32) int32 { return p.kidStart[i+1] - p.kidStart[i] }
	slices.SortStableFunc(roots, func(a, b int32) int { return int(weight(b) - weight(a)) })
	var next, read atomic.Int64
	wp := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError()
	for range min(max(workers, 1), max(1, len(roots))) {
		wp.Go(func(ctx context.Context) error {
			w := &packWorker{db: db, p: p, want: want, fn: visit}
			for {
				k := int(next.Add(1) - 1)
				if k >= len(roots) {
					return nil
				}
				if k%64 == 0 && ctx.Err() != nil {
					return ctx.Err()
				}
				if err := w.root(roots[k]); err != nil {
					return err
				}
				// Release the mapped pages read so far, now and then.
				if r := read.Add(w.p.treeBytes(roots[k])); r >= dropEvery {
					if read.CompareAndSwap(r, 0) {
						dropPages(w.p.data)
					}
				}
			}
		})
	}
	return wp.Wait()
}

type packWorker struct {
	db   *DB
	p    *pack
	f    inflater
	want func(uint8) bool
	fn   packVisit
	// free holds buffers to reuse: objects are visited depth first, so a
	// buffer is free again once its object and deltas are done.
	free [][]byte
}

// maxPooledBuf bounds the buffers a worker keeps for reuse.
const maxPooledBuf = 4 << 20

func (w *packWorker) get(n int64) []byte {
	for k := len(w.free) - 1; k >= 0; k-- {
		if b := w.free[k]; int64(cap(b)) >= n {
			w.free = append(w.free[:k], w.free[k+1:]...)
			return b[:n]
		}
	}
	return make([]byte, n, max(n, 4096))
}

func (w *packWorker) put(b []byte) {
	if cap(b) > maxPooledBuf {
		return
	}
	if len(w.free) >= 16 {
		w.free = w.free[1:]
	}
	w.free = append(w.free, b[:0])
}

var objTypes = map[plumbing.ObjectType]uint8{
	plumbing.CommitObject: objCommit, plumbing.TreeObject: objTree,
	plumbing.BlobObject: objBlob, plumbing.TagObject: objTag,
}

// root decodes the delta tree under object i.
func (w *packWorker) root(i int32) error {
	o := &w.p.objs[i]
	if o.base == -2 {
		h := w.p.extBase[i]
		t, base, err := w.db.Read(h)
		if err != nil {
			return fmt.Errorf("delta base %s: %w", h, err)
		}
		typ := objTypes[t]
		if !w.want(typ) {
			return nil
		}
		return w.delta(typ, i, base)
	}
	if w.db.large != nil && w.db.blobs != nil && o.typ == objBlob && o.size > w.db.largeSize &&
		w.p.kidStart[i] == w.p.kidStart[i+1] {
		return w.stream(i)
	}
	data, err := w.f.inflate(w.p, int(i), w.get(o.size))
	if err != nil {
		return err
	}
	err = w.visit(o.typ, i, data)
	w.put(data)
	return err
}

// stream passes blob i, stored whole and no delta's base, to the
// large-blob function as a stream (SetLargeBlobStream).
func (w *packWorker) stream(i int32) error {
	o := &w.p.objs[i]
	h := w.p.idx.name(int(o.name))
	if !w.db.claim(h) {
		return nil
	}
	if o.size < 0 || o.size > 1<<34 {
		return fmt.Errorf("%w: object at %d: size %d", ErrCorrupt, o.off, o.size)
	}
	zr, err := zlib.NewReader(bytes.NewReader(w.p.data[o.data:w.p.compressedEnd(int(i))]))
	if err != nil {
		return fmt.Errorf("%w: object at %d: %v", ErrCorrupt, o.off, err)
	}
	defer zr.Close()
	cr := &countReader{r: zr}
	if err := w.db.large(h, io.LimitReader(cr, o.size), o.size); err != nil {
		return err
	}
	var one [1]byte
	if n, err := zr.Read(one[:]); cr.n != o.size || n != 0 || err != io.EOF {
		return fmt.Errorf("%w: object at %d: size mismatch or bad checksum", ErrCorrupt, o.off)
	}
	return nil
}

// visit passes object i, whose content is data, on, then its deltas.
func (w *packWorker) visit(typ uint8, i int32, data []byte) error {
	if err := w.fn(typ, w.p.idx.name(int(w.p.objs[i].name)), data); err != nil {
		return err
	}
	for _, k := range w.p.kids[w.p.kidStart[i]:w.p.kidStart[i+1]] {
		if err := w.delta(typ, k, data); err != nil {
			return err
		}
	}
	return nil
}

// delta applies object i (a delta) to base and visits the result.
func (w *packWorker) delta(typ uint8, i int32, base []byte) error {
	o := &w.p.objs[i]
	d, err := w.f.inflate(w.p, int(i), w.get(o.size))
	if err != nil {
		return err
	}
	data, err := applyDelta(base, d, w.get)
	w.put(d)
	if err != nil {
		return fmt.Errorf("%w: object at %d: %v", ErrCorrupt, o.off, err)
	}
	err = w.visit(typ, i, data)
	w.put(data)
	return err
}
