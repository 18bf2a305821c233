package workers

import (
	"context"
	"sync"
)

// ForEach runs fn(0..n-1) on at most jobs goroutines (at least one), and
// starts no new item once ctx is done. It returns when every item started
// has finished.
func ForEach(ctx context.Context, n, jobs int, fn func(i int)) {
	jobs = max(1, min(jobs, n))
	next := make(chan int)
	var wg sync.WaitGroup
	for range jobs {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
}
