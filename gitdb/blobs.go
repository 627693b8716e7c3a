package gitdb

import (
	"context"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/sourcegraph/conc/pool"
)

// BlobFunc receives the content of one blob. It is called concurrently
// and must not keep data after it returns.
type BlobFunc func(h Hash, data []byte)

// EachBlob reads every blob of the repository once, packed and loose, in
// parallel on up to workers goroutines, and passes it to fn. A blob held
// by several packs is passed once. The packs stay mapped for IndexTrees
// until Close. A pack or object that cannot be read is an error.
func (db *DB) EachBlob(ctx context.Context, workers int, fn BlobFunc) error {
	dirs, err := objectDirs(db.path)
	if err != nil {
		return fmt.Errorf("read objects: %w", err)
	}
	db.blobs = map[Hash]struct{}{}
	if err := db.openPacks(dirs); err != nil {
		return fmt.Errorf("read objects: %w", err)
	}
	err = db.decodePacks(ctx, workers, func(t uint8) bool { return t == objBlob }, func(_ uint8, h plumbing.Hash, data []byte) error {
		db.blob(h, data, fn)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read objects: %w", err)
	}
	if err := db.eachLooseBlob(ctx, workers, dirs, fn); err != nil {
		return fmt.Errorf("read objects: %w", err)
	}
	return nil
}

// blob passes a blob on unless another pack already held it.
func (db *DB) blob(h Hash, data []byte, fn BlobFunc) {
	db.mu.Lock()
	_, dup := db.blobs[h]
	if !dup {
		db.blobs[h] = struct{}{}
	}
	db.mu.Unlock()
	if !dup {
		fn(h, data)
	}
}

// ReadBlobs reads the given blobs by point reads, in parallel on up to
// workers goroutines, and passes each to fn.
func (db *DB) ReadBlobs(ctx context.Context, workers int, hs []Hash, fn BlobFunc) error {
	p := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError().WithMaxGoroutines(max(workers, 1))
	for _, h := range hs {
		p.Go(func(ctx context.Context) error {
			data, err := db.ReadTyped(plumbing.BlobObject, h)
			if err != nil {
				return fmt.Errorf("read blob %s: %w", h, err)
			}
			fn(h, data)
			return nil
		})
	}
	return p.Wait()
}
