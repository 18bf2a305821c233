package sweep

import (
	"context"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// Clock is what Every waits with; tests pass one that does not wait.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx is done, and then returns ctx.Err().
	Sleep(ctx context.Context, d time.Duration) error
}

// SystemClock is the real clock.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// Sleep waits on a timer.
func (SystemClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return ctx.Err()
}

// Every calls run at each time sched gives, until ctx is done, and then
// returns nil. The next time is taken after run returns, so a sweep that
// outlasts its interval skips the ticks it missed instead of piling up
// behind itself.
func Every(ctx context.Context, sched cron.Schedule, clock Clock, run func(context.Context)) error {
	for {
		now := clock.Now()
		next := sched.Next(now)
		if next.IsZero() {
			return fmt.Errorf("schedule: no next time after %s", now.Format(time.RFC3339))
		}
		if clock.Sleep(ctx, next.Sub(now)) != nil {
			return nil
		}
		run(ctx)
	}
}
