package stall

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// A hung operation costs its limit once: while it stays blocked, later
// operations in the same folder fail at once and start no goroutine.
func TestStuckFolderCostsOnce(t *testing.T) {
	var w Watcher
	release := make(chan struct{})
	hang := func(ctx context.Context, tick func()) (int, error) {
		<-release
		return 1, nil
	}
	_, err := Do(context.Background(), &w, "/mnt/newdata", 20*time.Millisecond, hang)
	if !errors.Is(err, ErrTimeout) || !w.IsStuck("/mnt/newdata/") {
		t.Fatalf("first call: %v, stuck %v", err, w.IsStuck("/mnt/newdata"))
	}
	before := runtime.NumGoroutine()
	for range 100 {
		start := time.Now()
		if _, err := Do(context.Background(), &w, "/mnt/newdata", time.Hour, hang); !errors.Is(err, ErrTimeout) || time.Since(start) > time.Second {
			t.Fatalf("call on a stuck folder: %v after %s", err, time.Since(start))
		}
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("goroutines grew from %d to %d", before, after)
	}
	// Another folder is not affected.
	if v, err := Do(context.Background(), &w, "/home/data", time.Second, func(context.Context, func()) (int, error) { return 2, nil }); v != 2 || err != nil {
		t.Fatalf("other folder: %v %v", v, err)
	}
	close(release)
	w.BG.Wait()
	if w.IsStuck("/mnt/newdata") {
		t.Fatal("still stuck after the operation returned")
	}
}

// Progress restarts the limit: a slow but live operation is not cut short.
func TestProgressIsNotAStall(t *testing.T) {
	var w Watcher
	v, err := Do(context.Background(), &w, "/d", 30*time.Millisecond, func(ctx context.Context, tick func()) (int, error) {
		for range 10 {
			time.Sleep(10 * time.Millisecond)
			tick()
		}
		return 7, nil
	})
	if v != 7 || err != nil {
		t.Fatalf("%v %v", v, err)
	}
}
