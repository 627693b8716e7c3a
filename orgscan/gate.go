package orgscan

import (
	"context"
	"fmt"

	"golang.org/x/sync/semaphore"
)

// sizeGate bounds what one process fetches and scans at once: up to
// workers repositories, but a big one (GitHub's size at or over bigKB)
// alone, so that the git/git of an organisation is never held beside
// others and a worker's memory stays bounded.
type sizeGate struct {
	sem     *semaphore.Weighted
	workers int64
	bigKB   int
}

// defaultBigRepoKB is the size from which a repository runs alone.
const defaultBigRepoKB = 200 << 10

func newSizeGate(workers, bigKB int) *sizeGate {
	if workers < 1 {
		workers = 1
	}
	if bigKB <= 0 {
		bigKB = defaultBigRepoKB
	}
	return &sizeGate{sem: semaphore.NewWeighted(int64(workers)), workers: int64(workers), bigKB: bigKB}
}

// acquire waits for room for a repository of sizeKB and returns the
// function that gives it back.
func (g *sizeGate) acquire(ctx context.Context, sizeKB int) (func(), error) {
	n := int64(1)
	if sizeKB >= g.bigKB {
		n = g.workers
	}
	if err := g.sem.Acquire(ctx, n); err != nil {
		return nil, fmt.Errorf("wait for a free worker: %w", err)
	}
	return func() { g.sem.Release(n) }, nil
}
