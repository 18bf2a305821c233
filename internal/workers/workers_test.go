package workers

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

func TestForEachRunsEveryItemOnce(t *testing.T) {
	for _, jobs := range []int{0, 1, 3, 100} {
		var mu sync.Mutex
		seen := map[int]int{}
		ForEach(context.Background(), 10, jobs, func(i int) {
			mu.Lock()
			seen[i]++
			mu.Unlock()
		})
		for i := range 10 {
			if seen[i] != 1 {
				t.Errorf("jobs %d: item %d ran %d times", jobs, i, seen[i])
			}
		}
	}
}

func TestForEachBoundsTheGoroutines(t *testing.T) {
	var running, most atomic.Int32
	release := make(chan struct{})
	go func() {
		for range 20 {
			release <- struct{}{}
		}
	}()
	ForEach(context.Background(), 20, 3, func(int) {
		n := running.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-release
		running.Add(-1)
	})
	if most.Load() > 3 {
		t.Errorf("%d items ran at once, want at most 3", most.Load())
	}
}

func TestForEachStartsNothingOnceCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var ran atomic.Int32
	ForEach(ctx, 100, 1, func(i int) {
		ran.Add(1)
		if i == 4 {
			cancel()
		}
	})
	// Once ctx is done, each further item is fed or not as select picks
	// at random between two ready cases, so only "far fewer" is certain.
	if n := ran.Load(); n < 5 || n > 50 {
		t.Errorf("%d items ran after a cancel at the 5th, want far fewer than 100", n)
	}
}
