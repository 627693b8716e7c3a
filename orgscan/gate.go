package orgscan

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/semaphore"
)

// sizeGate bounds the size of what one process fetches and scans at
// once, so that a worker's memory stays bounded whatever the
// organisation holds: repositories share a budget of GitHub's sizes (a
// scan's peak memory grows with the pack it reads), each counting at
// least minRepoKB and at most the whole budget. A repository as big as
// the budget — a git/git — runs alone; small ones run beside each
// other, as many as the queue's workers.
type sizeGate struct {
	sem      *semaphore.Weighted
	budgetKB int64
}

const (
	// defaultBudgetKB is the default budget: 128 MiB of repositories.
	// Scanning a 154 MiB pack (a git/git-sized history) peaks at about
	// 270 MiB, a 37 MiB one at about 100 MiB (bench/clonemem.sh).
	defaultBudgetKB = 128 << 10
	// minRepoKB is the least a repository counts for.
	minRepoKB = 1 << 10
)

func newSizeGate(budgetKB int) *sizeGate {
	b := int64(budgetKB)
	if b <= 0 {
		b = defaultBudgetKB
	}
	if b < minRepoKB {
		b = minRepoKB
	}
	return &sizeGate{sem: semaphore.NewWeighted(b), budgetKB: b}
}

// weight is what a repository of sizeKB counts for.
func (g *sizeGate) weight(sizeKB int) int64 {
	return min(max(int64(sizeKB), minRepoKB), g.budgetKB)
}

// acquire waits for room for a repository of sizeKB and returns the
// function that gives it back.
func (g *sizeGate) acquire(ctx context.Context, sizeKB int) (func(), error) {
	n := g.weight(sizeKB)
	if err := g.sem.Acquire(ctx, n); err != nil {
		return nil, fmt.Errorf("wait for room to scan: %w", err)
	}
	return func() { g.sem.Release(n) }, nil
}

// forkGate holds forks back while repositories that are not forks are
// being scanned in this process: the queue hands out forks last, and a
// fork scanned after its parent finds its inherited blobs known clean
// and reads almost nothing, where one scanned beside it reads them all.
type forkGate struct {
	mu      sync.Mutex
	running int
	idle    chan struct{} // closed when running drops to 0
}

func newForkGate() *forkGate {
	g := &forkGate{idle: make(chan struct{})}
	close(g.idle)
	return g
}

// enter marks a repository that is not a fork as being scanned and
// returns the function that marks it done.
func (g *forkGate) enter() func() {
	g.mu.Lock()
	if g.running == 0 {
		g.idle = make(chan struct{})
	}
	g.running++
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		g.running--
		if g.running == 0 {
			close(g.idle)
		}
		g.mu.Unlock()
	}
}

// waitIdle waits until no repository that is not a fork is being
// scanned.
func (g *forkGate) waitIdle(ctx context.Context) error {
	for {
		g.mu.Lock()
		idle, running := g.idle, g.running
		g.mu.Unlock()
		if running == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("wait for parents to be scanned: %w", context.Cause(ctx))
		}
	}
}
