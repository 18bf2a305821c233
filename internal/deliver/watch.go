package deliver

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// watch runs fn, the file operations on one destination folder, in a
// goroutine, and gives up when fn makes no progress for limit (fn calls tick
// after each step and each chunk it copies) or when ctx is done. A timeout
// measures stalls, not total time, so a large copy to a slow but live disk
// is not cut short.
//
// A process cannot interrupt a system call blocked on a dead NFS mount, so
// on a timeout the goroutine is left behind, blocked, with its context
// cancelled so that it commits nothing if it ever wakes. Until it does, the
// folder counts as stuck and later calls fail at once instead of piling up
// more blocked goroutines and threads.
func watch[T any](ctx context.Context, d *Deliverer, dir string, limit time.Duration, fn func(ctx context.Context, tick func()) (T, error)) (T, error) {
	var zero T
	if d.isStuck(dir) {
		return zero, fmt.Errorf("%s: %w: an earlier file operation there is still blocked", dir, ErrTimeout)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	start := time.Now()
	var last atomic.Int64 // time of the latest progress, as an offset from start
	tick := func() { last.Store(int64(time.Since(start))) }

	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	var mu sync.Mutex
	finished, abandoned := false, false
	d.bg.Add(1)
	go func() {
		defer d.bg.Done()
		v, err := fn(ctx, tick)
		mu.Lock()
		finished = true
		if abandoned {
			d.unstick(dir)
		}
		mu.Unlock()
		done <- result{v, err}
	}()
	// giveUp returns fn's result if it finished meanwhile, else marks dir stuck.
	giveUp := func(err error) (T, error) {
		mu.Lock()
		if finished {
			mu.Unlock()
			r := <-done
			return r.v, r.err
		}
		abandoned = true
		d.stick(dir)
		mu.Unlock()
		return zero, err
	}

	var timeout <-chan time.Time
	if limit > 0 {
		t := time.NewTimer(limit)
		defer t.Stop()
		timeout = t.C
		for {
			select {
			case r := <-done:
				return r.v, r.err
			case <-ctx.Done():
				return giveUp(fmt.Errorf("%s: %w", dir, ctx.Err()))
			case <-timeout:
				idle := time.Since(start) - time.Duration(last.Load())
				if idle < limit {
					t.Reset(limit - idle)
					continue
				}
				return giveUp(fmt.Errorf("%s: %w: no progress for %s (unresponsive disk or NFS mount?)", dir, ErrTimeout, limit))
			}
		}
	}
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return giveUp(fmt.Errorf("%s: %w", dir, ctx.Err()))
	}
}

func (d *Deliverer) isStuck(dir string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stuck[dir] > 0
}

func (d *Deliverer) stick(dir string) {
	d.mu.Lock()
	d.stuck[dir]++
	d.mu.Unlock()
}

func (d *Deliverer) unstick(dir string) {
	d.mu.Lock()
	if d.stuck[dir]--; d.stuck[dir] <= 0 {
		delete(d.stuck, dir)
	}
	d.mu.Unlock()
}
