package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/udp"
)

// request is one requested file on its way through the queue.
type request struct {
	name     frame.Name
	from     netip.AddrPort
	received time.Time
	tries    int           // times found incomplete
	waited   time.Duration // backoff so far
}

// read is the receiving loop: parse, then queue; the work is the workers'.
func (s *server) read(conn *udp.Conn) {
	for {
		from, b, err := conn.Read()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			s.fatal <- fmt.Errorf("udp %s: %w", s.addr, err)
			return
		}
		if s.handle(from, b, time.Now()) {
			return
		}
	}
}

// handle acts on one datagram and reports whether it was an accepted quit.
func (s *server) handle(from netip.AddrPort, b []byte, at time.Time) bool {
	req, err := udp.Parse(b)
	if err != nil {
		s.log.Warn("datagram dropped", "from", from, "err", err, "datagram", udp.Quote(b))
		return false
	}
	if req.Cmd == udp.Quit {
		if !udp.Allowed(s.o.QuitPeers, from) {
			s.log.Warn("quit refused: sender not in server.quitPeers", "from", from)
			return false
		}
		s.log.Info("quit received", "from", from)
		s.quitc <- from
		return true
	}
	s.log.Debug("proc received", "file", req.Name.Base, "path", req.Path, "from", from)
	s.admit(&request{name: req.Name, from: from, received: at})
	return false
}

// admit queues a request unless the file is already queued, waiting or in
// progress, or the queue is full.
func (s *server) admit(r *request) {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return
	}
	if _, dup := s.known[r.name.Base]; dup {
		s.mu.Unlock()
		s.log.Info("already queued or in progress", "file", r.name.Base, "from", r.from)
		return
	}
	if s.waiting >= s.o.Queue {
		s.mu.Unlock()
		s.log.Warn("queue full: request dropped; the next sweep delivers the file", "file", r.name.Base,
			"from", r.from, "queue", s.o.Queue)
		return
	}
	s.known[r.name.Base] = r
	s.waiting++
	s.mu.Unlock()
	s.queue <- r
	kick(s.statusKick)
}

func (s *server) work(ctx context.Context, slot int) {
	for {
		select {
		case <-s.stop:
			return
		case r := <-s.queue:
			if !s.take(slot, r) {
				return
			}
			retried := s.process(ctx, r)
			s.done(slot, r, retried)
		}
	}
}

func (s *server) take(slot int, r *request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return false // r stays known: it is counted among the requests left over
	}
	s.waiting--
	s.busy[slot] = busyWorker{file: r.name.Base, since: time.Now()}
	return true
}

func (s *server) done(slot int, r *request, retried bool) {
	s.mu.Lock()
	s.busy[slot] = busyWorker{}
	if !retried {
		delete(s.known, r.name.Base)
	}
	s.mu.Unlock()
	kick(s.statusKick)
}

// process takes one file through the delivery path, and reports whether it
// was put back to be tried later.
func (s *server) process(ctx context.Context, r *request) (retried bool) {
	log := s.log.With("file", r.name.Base)
	start := time.Now()
	path, err := resolveRaw(s.o.DataDir, r.name)
	if errors.Is(err, fs.ErrNotExist) {
		// Also what a stale NFS attribute cache shows for a new file.
		return s.retryLater(r, err)
	}
	if err != nil {
		log.Warn("proc refused", "from", r.from, "err", err)
		return false
	}
	if err := checkRaw(path); errors.Is(err, errIncomplete) {
		return s.retryLater(r, err)
	}
	// Any other problem with the raw file is the delivery path's to record.
	// check is the time to find the raw file and read its headers; reading
	// the data is part of condition.
	check := time.Since(start)
	rep, err := s.d.Ensure(ctx, r.name.Base, deliver.Deliver)
	timings := []any{"check", ms(check), "condition", ms(rep.Timings.Condition), "store", ms(rep.Timings.Store),
		"dispatch", ms(rep.Timings.Dispatch), "latency", ms(time.Since(r.received))}
	if err == nil {
		s.mu.Lock()
		s.last = r.name.Base
		s.mu.Unlock()
	}
	switch {
	case err == nil && rep.Already:
		log.Debug("request for a delivered file", "from", r.from) // the delivery path logs it
	case err == nil:
		log.Info("delivered", timings...)
	case errors.Is(err, deliver.ErrPending):
		log.Warn("stored, dispatch pending", append(timings, "err", err)...)
		kick(s.retryKick)
	case errors.Is(err, fits.ErrTruncated):
		return s.retryLater(r, err) // it changed after the check
	default:
		log.Error("delivery failed", append(timings, "err", err)...)
	}
	return false
}

func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// retryLater puts r back after a backoff, keeping its slot in the queue
// meanwhile, or gives up on it once it has waited long enough.
func (s *server) retryLater(r *request, why error) bool {
	b := s.o.Incomplete
	delay := b.delay(r.tries)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.stopping:
		s.log.Info("not complete at shutdown; left for the next sweep", "file", r.name.Base, "err", why)
	case r.waited+delay > b.GiveUp:
		s.log.Error("raw file still missing or incomplete; giving up, the next sweep tries again", "file", r.name.Base,
			"waited", r.waited, "err", why)
	case s.waiting >= s.o.Queue:
		s.log.Warn("queue full: not retrying; the next sweep delivers the file", "file", r.name.Base, "err", why)
	default:
		s.log.Info("raw file not complete yet; retrying", "file", r.name.Base, "in", delay, "err", why)
		r.tries++
		r.waited += delay
		s.waiting++
		time.AfterFunc(delay, func() { s.requeue(r) })
		return true
	}
	return false
}

func (s *server) requeue(r *request) {
	s.mu.Lock()
	stopping := s.stopping
	s.mu.Unlock()
	if !stopping {
		s.queue <- r
	}
}

// leftOver lists the requests never started, once the workers are gone.
func (s *server) leftOver() []string {
	busy := s.inProgress()
	s.mu.Lock()
	defer s.mu.Unlock()
	var left []string
	for f := range s.known {
		if !slices.Contains(busy, f) {
			left = append(left, f)
		}
	}
	slices.Sort(left)
	return left
}
