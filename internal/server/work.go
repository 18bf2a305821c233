package server

import (
	"context"
	"errors"
	"time"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/internal/deliver"
)

func (s *server) work(ctx context.Context, slot int) {
	for {
		select {
		case <-s.stop:
			return
		case r := <-s.queue:
			if !s.take(slot, r) {
				return
			}
			out, err := s.process(ctx, r)
			s.done(slot, r, out, err)
		}
	}
}

func (s *server) take(slot int, r *request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false // r stays known: it is among the requests left over
	}
	s.queued--
	r.state = working
	s.busy[slot] = busyWorker{file: r.name.Base, since: time.Now()}
	return true
}

// outcome is how a worker finished with a request.
type outcome int

const (
	finished outcome = iota // delivered, or failed for the delivery path or the sweep to take up
	changed                 // the raw file changed after its check: watch it again
	cutShort                // the stop timeout ended the delivery
)

func (s *server) done(slot int, r *request, out outcome, err error) {
	s.mu.Lock()
	s.busy[slot] = busyWorker{}
	var log func()
	switch {
	case out == cutShort:
		r.state = cut
	case out == changed && !s.stopping:
		gone := s.enterWatch(r)
		after := s.later(r, err)
		log = func() { s.evicted(gone); after() }
	case out == finished && s.known[r.name.Base] == r:
		delete(s.known, r.name.Base)
	}
	s.mu.Unlock()
	if log != nil {
		log()
	}
	kick(s.statusKick)
}

// process takes one file through the delivery path. This is the one place
// a datagram's request reaches it.
func (s *server) process(ctx context.Context, r *request) (outcome, error) {
	log := s.log.With("file", r.name.Base)
	rep, err := s.d.Ensure(deliver.WithAnnounced(ctx, r.received), r.name.Base, deliver.Deliver|deliver.Announced)
	// check is the time the watcher took to find the raw file and read its
	// headers; reading the data is part of condition.
	timings := []any{"check", ms(r.check), "condition", ms(rep.Timings.Condition), "store", ms(rep.Timings.Store),
		"dispatch", ms(rep.Timings.Dispatch), "latency", ms(time.Since(r.received))}
	var latency time.Duration
	if err == nil {
		s.mu.Lock()
		s.last = r.name.Base
		if !rep.Already && r.from.IsValid() { // a datagram's, not one left by the last run
			latency = time.Since(r.received)
			s.latency = latency
		}
		s.mu.Unlock()
	}
	if !rep.Already {
		s.m.Step("check", r.check)
		s.m.Step("condition", rep.Timings.Condition)
		s.m.Step("store", rep.Timings.Store)
		s.m.Step("dispatch", rep.Timings.Dispatch)
	}
	switch {
	case err == nil && rep.Already:
		// A sender repeating datagrams controls how many of these come.
		s.limit.Info("already delivered", "file", r.name.Base, "from", r.sender())
	case err == nil:
		s.m.Delivered(r.name.Upper(), latency)
		log.Info("delivered", timings...)
	case errors.Is(err, deliver.ErrPending):
		s.m.Failed(r.name.Upper(), "dispatch")
		log.Warn("stored, dispatch pending", append(timings, "err", err)...)
		kick(s.retryKick)
	case ctx.Err() != nil:
		log.Warn("delivery cut short by the stop timeout", "err", err)
		return cutShort, err
	case errors.Is(err, fits.ErrTruncated):
		return changed, err
	default:
		s.m.Failed(r.name.Upper(), failedStep(rep, err))
		log.Error("delivery failed", append(timings, "err", err)...)
	}
	return finished, err
}

// failedStep names the step a failed delivery stopped at, as far as the
// report tells: the raw file refused (check), not conditioned (condition),
// or a later step (the last one that ran).
func failedStep(rep deliver.Report, err error) string {
	switch {
	case errors.Is(err, deliver.ErrRefused):
		return "check"
	case rep.Failed, errors.Is(err, deliver.ErrFailedBefore):
		return "condition"
	case rep.Timings.Dispatch > 0:
		return "dispatch"
	case rep.Timings.Store > 0:
		return "store"
	}
	return "condition"
}

func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
