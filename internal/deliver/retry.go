package deliver

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/obsdata/dataman/internal/ledger"
)

// Backoff paces RetryPending: Initial after the first failed round, doubling
// up to Max, and back to Initial after any delivery succeeds.
type Backoff struct {
	Initial, Max time.Duration
	// Sleep waits d or until ctx is done; nil uses a timer. Tests pass their
	// own to run the schedule without waiting.
	Sleep func(ctx context.Context, d time.Duration) error
}

// PendingWindow is how far back Pending looks: the nights whose ledger
// changed in the last week. An older pending dispatch is a sweep's, with
// --night.
const PendingWindow = 7 * 24 * time.Hour

// Pending lists the files whose latest dispatch is pending, in the nights
// of every channel's ledger that changed within PendingWindow.
func (d *Deliverer) Pending() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(d.opts.StateDir, "ledger"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		ch := strings.TrimSuffix(e.Name(), ".ledger")
		if strings.Contains(ch, ".") {
			continue // <CHAN>.ledger.migrated
		}
		l, err := d.ledger(ch)
		if err != nil {
			continue // not a channel's ledger
		}
		nights, err := l.NightsSince(d.now().Add(-PendingWindow))
		if err != nil {
			return nil, err
		}
		for _, night := range nights {
			for f, h := range l.Night(night) {
				// Any exposure of the name: an earlier one left pending
				// when azcam reused its number is delivered too.
				for _, g := range h.Generations {
					if g.Steps[ledger.StepDispatch].Status == ledger.StatusPending {
						files = append(files, f)
						break
					}
				}
			}
		}
	}
	slices.Sort(files)
	return slices.Compact(files), nil
}

// RetryPending delivers the pending dispatches, trying again with backoff
// until none is left (it returns nil) or ctx is done (it returns ctx.Err()).
// A dispatch that fails for good (a checksum mismatch, a collision under
// PolicyError) is no longer pending and is not retried.
func (d *Deliverer) RetryPending(ctx context.Context, b Backoff) error {
	sleep := b.Sleep
	if sleep == nil {
		sleep = sleepTimer
	}
	if b.Initial <= 0 {
		b.Initial = time.Second
	}
	b.Max = max(b.Max, b.Initial)
	delay := b.Initial
	for {
		files, err := d.Pending()
		if err != nil || len(files) == 0 {
			return err
		}
		progress := false
		for _, f := range files {
			if _, err := d.Ensure(ctx, f, Deliver); err == nil {
				progress = true
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if left, err := d.Pending(); err != nil || len(left) == 0 {
			return err
		}
		if progress {
			delay = b.Initial
		}
		d.log.Info("dispatch pending, retrying", "in", delay)
		if err := sleep(ctx, delay); err != nil {
			return err
		}
		delay = min(2*delay, b.Max)
	}
}

func sleepTimer(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
