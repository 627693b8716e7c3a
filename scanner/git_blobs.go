package scanner

import (
	"context"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/sourcegraph/conc/pool"
)

// scanBlobsByHash reads and scans the given blobs in parallel.
func (g *gitScan) scanBlobsByHash(ctx context.Context, hs []plumbing.Hash) error {
	p := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError().WithMaxGoroutines(g.opts.workers())
	for _, h := range hs {
		p.Go(func(ctx context.Context) error {
			data, err := g.readTyped(plumbing.BlobObject, h)
			if err != nil {
				return fmt.Errorf("read blob %s: %w", h, err)
			}
			g.scanBlob(h, data, int64(len(data)))
			return nil
		})
	}
	return p.Wait()
}

// scanAllBlobs reads every blob of the repository once, packed and loose,
// and scans them in parallel.
func (g *gitScan) scanAllBlobs(ctx context.Context) error {
	dirs, err := gitObjectDirs(g.path)
	if err != nil {
		return fmt.Errorf("read objects: %w", err)
	}
	if err := g.openPacks(dirs); err != nil {
		return fmt.Errorf("read objects: %w", err)
	}
	err = g.decodePacks(ctx, func(t uint8) bool { return t == objBlob }, func(_ uint8, h plumbing.Hash, data []byte) error {
		g.scanPackedBlob(h, data)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read objects: %w", err)
	}
	if err := g.scanLoose(ctx, dirs); err != nil {
		return fmt.Errorf("read objects: %w", err)
	}
	return nil
}

// scanAllBlobsStorer is the slow path through go-git's object iteration.
func (g *gitScan) scanAllBlobsStorer(ctx context.Context) error {
	iter, err := g.st.IterEncodedObjects(plumbing.BlobObject)
	if err != nil {
		return fmt.Errorf("read objects: %w", err)
	}
	defer iter.Close()
	p := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError().WithMaxGoroutines(g.opts.workers())
	err = iter.ForEach(func(obj plumbing.EncodedObject) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		h := obj.Hash()
		if obj.Size() > g.opts.maxSize() {
			g.scanBlob(h, nil, obj.Size())
			return nil
		}
		r, err := obj.Reader()
		if err != nil {
			return fmt.Errorf("read blob %s: %w", h, err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			return fmt.Errorf("read blob %s: %w", h, err)
		}
		p.Go(func(ctx context.Context) error {
			g.scanBlob(h, data, int64(len(data)))
			return nil
		})
		return nil
	})
	if werr := p.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("read objects: %w", err)
	}
	return nil
}
