package orgscan

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sourcegraph/conc"
)

// Repositories share the size budget: small ones run together, one as big
// as the budget runs alone, and the sizes running at once never exceed
// the budget.
func TestSizeGate(t *testing.T) {
	const budget = 100 << 10
	g := newSizeGate(budget)
	ctx := context.Background()
	var mu sync.Mutex
	var inUse, peakUse int64
	running, peakRunning, bigWithOthers := 0, 0, 0
	bigRunning := false
	run := func(size int) {
		release, err := g.acquire(ctx, size)
		if err != nil {
			t.Error(err)
			return
		}
		w := g.weight(size)
		mu.Lock()
		inUse += w
		running++
		peakUse, peakRunning = max(peakUse, inUse), max(peakRunning, running)
		big := w == budget
		if big {
			bigRunning = true
		}
		if bigRunning && running > 1 {
			bigWithOthers++
		}
		mu.Unlock()
		time.Sleep(3 * time.Millisecond)
		mu.Lock()
		inUse -= w
		running--
		if big {
			bigRunning = false
		}
		mu.Unlock()
		release()
	}
	var wg conc.WaitGroup
	for i := range 40 {
		size := 2 << 10 // 2 MiB
		switch i % 8 {
		case 0:
			size = 300 << 10 // bigger than the budget
		case 4:
			size = 60 << 10
		}
		wg.Go(func() { run(size) })
	}
	wg.Wait()
	if peakUse > budget {
		t.Errorf("%d KiB of repositories at once, budget %d", peakUse, budget)
	}
	if peakRunning < 3 {
		t.Errorf("small repositories never ran together (at most %d at once)", peakRunning)
	}
	if bigWithOthers > 0 {
		t.Errorf("a repository as big as the budget ran beside others %d time(s)", bigWithOthers)
	}
	if g.weight(0) != minRepoKB || g.weight(1<<30) != budget {
		t.Errorf("weights: empty %d, huge %d", g.weight(0), g.weight(1<<30))
	}
}

func TestSizeGateCancelled(t *testing.T) {
	g := newSizeGate(minRepoKB)
	release, err := g.acquire(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.acquire(ctx, 1); err == nil {
		t.Fatal("acquire on a cancelled context succeeded while the gate was full")
	}
}

// A fork waits while a repository that is not a fork is being scanned.
func TestForkGate(t *testing.T) {
	g := newForkGate()
	if err := g.waitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := g.enter()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := g.waitIdle(ctx); err == nil {
		t.Fatal("a fork went ahead while a parent was being scanned")
	}
	released := make(chan error, 1)
	var wg conc.WaitGroup
	wg.Go(func() { released <- g.waitIdle(context.Background()) })
	time.Sleep(10 * time.Millisecond)
	done()
	wg.Wait()
	if err := <-released; err != nil {
		t.Fatal(err)
	}
	// Again, after it went idle once.
	done = g.enter()
	if err := g.waitIdle(ctx); err == nil {
		t.Fatal("a fork went ahead while a second parent was being scanned")
	}
	done()
}
