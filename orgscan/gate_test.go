package orgscan

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sourcegraph/conc"
)

// A big repository runs alone; small ones share the workers.
func TestSizeGate(t *testing.T) {
	g := newSizeGate(3, 1000)
	ctx := context.Background()
	var running, peak, bigWithOthers atomic.Int64
	var bigRunning atomic.Bool
	var mu sync.Mutex
	run := func(size int) {
		release, err := g.acquire(ctx, size)
		if err != nil {
			t.Error(err)
			return
		}
		n := running.Add(1)
		mu.Lock()
		if n > peak.Load() {
			peak.Store(n)
		}
		mu.Unlock()
		if size >= 1000 {
			bigRunning.Store(true)
			if n != 1 {
				bigWithOthers.Add(1)
			}
		} else if bigRunning.Load() {
			bigWithOthers.Add(1)
		}
		time.Sleep(5 * time.Millisecond)
		if size >= 1000 {
			bigRunning.Store(false)
		}
		running.Add(-1)
		release()
	}
	var wg conc.WaitGroup
	for i := range 30 {
		size := 10
		if i%7 == 0 {
			size = 5000
		}
		wg.Go(func() { run(size) })
	}
	wg.Wait()
	if peak.Load() > 3 {
		t.Errorf("%d repositories at once, want at most 3", peak.Load())
	}
	if peak.Load() < 2 {
		t.Errorf("small repositories never ran together (peak %d)", peak.Load())
	}
	if bigWithOthers.Load() > 0 {
		t.Errorf("a big repository ran beside others %d time(s)", bigWithOthers.Load())
	}
}

func TestSizeGateCancelled(t *testing.T) {
	g := newSizeGate(1, 1000)
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
