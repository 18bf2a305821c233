package stall

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// ErrTimeout is the error of an operation that made no progress for its
// limit, or of one refused because an earlier one in its folder is still
// blocked.
var ErrTimeout = errors.New("timed out")

// Watcher runs operations per folder. One Watcher should serve a whole
// process, so that every part of it knows which folders are stuck. The zero
// value is ready to use.
type Watcher struct {
	mu    sync.Mutex
	stuck map[string]int // folders with operations still blocked after a timeout
	// BG counts goroutines doing file operations, which can outlive Do.
	BG sync.WaitGroup
}

// Do runs fn, the file operations on folder dir, in a goroutine, and gives
// up when fn makes no progress for limit (fn calls tick after each step and
// each chunk it reads or writes) or when ctx is done. A timeout measures
// stalls, not total time, so a large copy to a slow but live disk is not
// cut short. limit 0 waits for ever, still stopping at ctx.
//
// A process cannot interrupt a system call blocked on a dead NFS mount, so
// on a timeout the goroutine is left behind, blocked, with its context
// cancelled so that it commits nothing if it ever wakes. Until it does, the
// folder counts as stuck and later calls fail at once instead of piling up
// more blocked goroutines and threads.
func Do[T any](ctx context.Context, w *Watcher, dir string, limit time.Duration, fn func(ctx context.Context, tick func()) (T, error)) (T, error) {
	var zero T
	dir = filepath.Clean(dir)
	if w.IsStuck(dir) {
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
	w.BG.Add(1)
	go func() {
		defer w.BG.Done()
		v, err := fn(ctx, tick)
		mu.Lock()
		finished = true
		if abandoned {
			w.unstick(dir)
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
		w.stick(dir)
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

// IsStuck reports whether an operation in dir is still blocked.
func (w *Watcher) IsStuck(dir string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stuck[filepath.Clean(dir)] > 0
}

func (w *Watcher) stick(dir string) {
	w.mu.Lock()
	if w.stuck == nil {
		w.stuck = map[string]int{}
	}
	w.stuck[dir]++
	w.mu.Unlock()
}

func (w *Watcher) unstick(dir string) {
	w.mu.Lock()
	if w.stuck[dir]--; w.stuck[dir] <= 0 {
		delete(w.stuck, dir)
	}
	w.mu.Unlock()
}
