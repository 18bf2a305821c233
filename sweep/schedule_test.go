package sweep

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/obsdata/dataman/internal/schedule"
)

// fakeClock runs Every without waiting: Sleep moves the clock on, and each
// run may take time too.
type fakeClock struct {
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func TestEvery(t *testing.T) {
	s, err := schedule.Parse("CRON_TZ=UTC */15 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: time.Date(2026, 1, 19, 10, 7, 0, 0, time.UTC)}
	ctx, cancel := context.WithCancel(context.Background())
	var runs []time.Time
	err = Every(ctx, s, clock, func(context.Context) {
		runs = append(runs, clock.now)
		if len(runs) == 2 {
			// A sweep that outlasts its interval: 10:30 to 10:50. The 10:45
			// tick is skipped rather than run late.
			clock.now = clock.now.Add(20 * time.Minute)
		}
		if len(runs) == 3 {
			cancel()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Time{
		time.Date(2026, 1, 19, 10, 15, 0, 0, time.UTC),
		time.Date(2026, 1, 19, 10, 30, 0, 0, time.UTC),
		time.Date(2026, 1, 19, 11, 0, 0, 0, time.UTC),
	}
	if !slices.EqualFunc(runs, want, time.Time.Equal) {
		t.Errorf("runs at %v, want %v", runs, want)
	}
	if wantSleeps := []time.Duration{8 * time.Minute, 15 * time.Minute, 10 * time.Minute, 15 * time.Minute}; !slices.Equal(clock.sleeps, wantSleeps) {
		t.Errorf("sleeps %v, want %v", clock.sleeps, wantSleeps)
	}
}

// Every returns as soon as ctx ends, without running again.
func TestEveryStops(t *testing.T) {
	s, _ := schedule.Parse("@every 1h")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	if err := Every(ctx, s, &fakeClock{now: time.Now()}, func(context.Context) { ran = true }); err != nil || ran {
		t.Fatalf("Every after cancel: err %v, ran %v", err, ran)
	}
}
