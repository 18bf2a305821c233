package server

import (
	"context"
	"time"
)

func (s *server) statusLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.statusKick:
			s.publish()
		}
	}
}

// sweepLoop sweeps at start-up and every o.SweepEvery, and also when a
// frame a sweep left for being too young reaches sweep.minAge: a frame
// written while the server was down is delivered then, not a sweep
// interval later.
func (s *server) sweepLoop(ctx context.Context) {
	if s.sweep == nil {
		return
	}
	for {
		aged, err := s.sweep(ctx)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("sweep failed; trying again at the next interval", "err", err)
		}
		wait := s.o.SweepEvery
		if !aged.IsZero() {
			if d := max(time.Until(aged), minSweepGap); wait <= 0 || d < wait {
				wait = d
				s.log.Info("sweeping again when a frame left for being too young reaches sweep.minAge", "in", ms(d))
			}
		}
		if wait <= 0 {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// minSweepGap keeps sweeps for frames coming of age at least this far apart.
const minSweepGap = time.Second

func (s *server) retryLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.retryKick:
		}
		if err := s.d.RetryPending(ctx, s.o.Retry); err != nil && ctx.Err() == nil {
			s.log.Warn("retrying pending dispatches", "err", err)
		}
	}
}

// watchdogLoop pings systemd's watchdog, but only while every busy worker
// started its file within half of WatchdogSec: a worker hung on one file
// stops the pings, and systemd restarts the service. The pings come at a
// quarter of WatchdogSec, so that a file that takes a little longer than
// the limit skips one or two pings and never leaves systemd a whole
// WatchdogSec without one.
func (s *server) watchdogLoop(ctx context.Context) {
	limit := s.notify.WatchdogSec() / 2
	if limit <= 0 {
		return
	}
	t := time.NewTicker(max(limit/2, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.watchdogTick(now, limit)
		}
	}
}

// watchdogTick pings unless a worker has been on one file for longer than
// limit, and reports whether it pinged.
func (s *server) watchdogTick(now time.Time, limit time.Duration) bool {
	s.mu.Lock()
	var stuck busyWorker
	for _, b := range s.busy {
		if b.file != "" && now.Sub(b.since) > limit {
			stuck = b
			break
		}
	}
	report := stuck.file != "" && stuck.file != s.stuck
	s.stuck = stuck.file
	s.mu.Unlock()
	if report {
		s.log.Error("worker stuck; no more watchdog pings", "file", stuck.file, "for", ms(now.Sub(stuck.since)))
	}
	if stuck.file != "" {
		return false
	}
	if err := s.notify.Watchdog(); err != nil {
		s.log.Debug("systemd notify", "err", err)
	}
	return true
}
