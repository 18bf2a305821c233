package server

import (
	"context"
	"errors"
	"log/slog"
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
// lock makes it skip a round.
func Sweeper(o sweep.Options, extra []string) func(context.Context) error {
	o.Jobs = 1
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context) error {
		scope := append(frame.DefaultNights(time.Now(), frame.Arizona), extra...)
		slices.Sort(scope)
		o.Nights = slices.Compact(scope)
		sum, err := sweep.Run(ctx, o)
		var held *sweep.HeldError
		if errors.As(err, &held) {
			o.Log.Info("sweep skipped: another sweep is running", "pid", held.PID)
			return nil
		}
		if err != nil {
			return err
		}
		o.Log.Info("sweep finished", "nights", strings.Join(sum.Nights, ","), "actions", len(sum.Actions), "failed", sum.Failed,
			"deferred", len(sum.Deferred))
		return nil
	}
}
