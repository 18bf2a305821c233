package server

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/sweep"
)

// Sweeper is the server's in-process sweep, for Deps.Reconcile: the sweep
// command's code, lock and delivery path over the recent nights and the
// extra ones, one action at a time so that the datagrams come first. o
// gives everything but the nights and the jobs; a sweep command holding the
// lock makes it skip a round. It returns when the first raw file it left
// for being younger than o.MinAge reaches that age.
func Sweeper(o sweep.Options, extra []string) func(context.Context) (time.Time, error) {
	o.Jobs = 1
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context) (time.Time, error) {
		scope := append(frame.DefaultNights(time.Now(), frame.Arizona), extra...)
		slices.Sort(scope)
		o.Nights = slices.Compact(scope)
		sum, err := sweep.Run(ctx, o)
		var held *sweep.HeldError
		if errors.As(err, &held) {
			o.Log.Info("sweep skipped: another sweep is running", "pid", held.PID)
			return time.Time{}, nil
		}
		if err != nil {
			return time.Time{}, err
		}
		o.Log.Info("sweep finished", "nights", strings.Join(sum.Nights, ","), "actions", len(sum.Actions), "failed", sum.Failed,
			"deferred", len(sum.Deferred))
		return agedAt(o.Deliverer.Layout(), sum.Deferred, o.MinAge), nil
	}
}

// agedAt is when the first of the deferred raw files reaches minAge, by its
// modification time as the sweep judged it, or zero if none is left. Files
// that come of age less than minSweepGap after the first wait for the last
// of them, so that a burst of frames is swept up by one sweep, not one each.
func agedAt(lay frame.Layout, deferred []string, minAge time.Duration) time.Time {
	var ages []time.Time
	for _, base := range deferred {
		n, err := frame.ParseName(base)
		if err != nil {
			continue
		}
		fi, err := os.Stat(lay.Raw(n))
		if err != nil {
			continue // gone: nothing to come back for
		}
		ages = append(ages, fi.ModTime().Add(minAge))
	}
	if len(ages) == 0 {
		return time.Time{}
	}
	slices.SortFunc(ages, time.Time.Compare)
	last := ages[0]
	for _, t := range ages[1:] {
		if t.Sub(ages[0]) < minSweepGap {
			last = t
		}
	}
	return last
}
