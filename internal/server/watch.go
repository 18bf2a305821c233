package server

import (
	"context"
	"log/slog"
	"time"
)

// The watch set holds the requests whose raw file is to be checked: new
// ones, and those whose file was missing or incomplete, each with a timer
// for its next check. One goroutine does the checks, so a request for a
// file that is not there holds neither a worker nor a place in the queue;
// only a file found complete is queued. The set is bounded by o.Watch:
// when it is full, the request that entered it first gives way, since a
// real frame is there when announced and leaves the set at its first check.

// DefaultWatch bounds the watch set. An entry is a name and a timer, so the
// bound is generous: no burst of requests for files that are not there can
// crowd out a real frame's request before its first check.
const DefaultWatch = 4096

// enterWatch adds r to the watch set and returns the request it pushed out,
// if the set was full. s.mu is held.
func (s *server) enterWatch(r *request) (gone *request) {
	if s.watch.Len() >= s.o.Watch {
		gone = s.watch.Front().Value.(*request)
		s.forget(gone)
	}
	r.state = watched
	r.entry = s.watch.PushBack(r)
	return gone
}

// leaveWatch takes r out of the watch set. s.mu is held.
func (s *server) leaveWatch(r *request) {
	if r.entry != nil {
		s.watch.Remove(r.entry)
		r.entry = nil
	}
	if r.timer != nil {
		r.timer.Stop()
		r.timer = nil
	}
}

// forget drops r altogether: a later datagram for its file is a new
// request. s.mu is held.
func (s *server) forget(r *request) {
	s.leaveWatch(r)
	if s.known[r.name.Base] == r {
		delete(s.known, r.name.Base)
	}
}

func (s *server) evicted(gone *request) {
	if gone != nil {
		s.limit.Warn("too many requests for raw files not there: forgetting the oldest; the next sweep delivers it",
			"file", gone.name.Base, "from", gone.sender(), "waited", ms(time.Since(gone.received)), "watch", s.o.Watch)
	}
}

// watchLoop checks the raw files of the requests as they come due.
func (s *server) watchLoop(ctx context.Context) {
	for ctx.Err() == nil {
		r := s.nextDue()
		if r == nil {
			select {
			case <-ctx.Done():
			case <-s.dueKick:
			}
			continue
		}
		start := time.Now()
		v, err := inspect(s.o.DataDir, r.name)
		s.inspected(r, v, err, time.Since(start))
	}
}

// nextDue returns the first watched request whose check is due, or nil.
func (s *server) nextDue() *request {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.due) > 0 {
		r := s.due[0]
		s.due[0] = nil
		s.due = s.due[1:]
		if r.entry != nil { // not forgotten meanwhile
			return r
		}
	}
	return nil
}

// inspected acts on what a check of r's raw file found: queue it, wait for
// it, or refuse it.
func (s *server) inspected(r *request, v verdict, err error, took time.Duration) {
	s.mu.Lock()
	if r.entry == nil || s.stopping {
		// Forgotten while looked at, or left as it is for the next start.
		s.mu.Unlock()
		return
	}
	r.check = took
	var log func()
	switch v {
	case complete:
		s.leaveWatch(r)
		if s.queued >= s.o.Queue {
			s.forget(r)
			log = func() {
				s.limit.Warn("queue full: request dropped; the next sweep delivers the file", "file", r.name.Base,
					"from", r.sender(), "queue", s.o.Queue)
			}
			break
		}
		r.state = queued
		s.queued++
		s.queue <- r // never blocks: the queue has room for o.Queue
	case refused:
		s.forget(r)
		log = func() { s.limit.Warn("proc refused", "file", r.name.Base, "from", r.sender(), "err", err) }
	case notYet:
		log = s.later(r, err)
	}
	s.mu.Unlock()
	if log != nil {
		log()
	}
	kick(s.statusKick)
}

// later sets the timer of r's next check, or gives up on r once it has
// waited long enough. It returns the logging to do once s.mu is released.
// s.mu is held.
func (s *server) later(r *request, why error) func() {
	b := s.o.Incomplete
	delay := b.delay(r.tries)
	if r.waited+delay > b.GiveUp {
		s.forget(r)
		waited := r.waited
		return func() {
			s.limit.Log(slog.LevelError, "raw file still missing or incomplete; giving up, the next sweep tries again",
				"file", r.name.Base, "waited", waited, "err", why)
		}
	}
	first := r.tries == 0
	r.tries++
	r.waited += delay
	r.timer = time.AfterFunc(delay, func() { s.checkAgain(r) })
	return func() {
		// Only the first is worth a line: the others say nothing new.
		args := []any{"file", r.name.Base, "in", delay, "err", why}
		if first {
			s.limit.Info("raw file not complete yet; retrying", args...)
		} else {
			s.log.Debug("raw file not complete yet; retrying", args...)
		}
	}
}

// checkAgain makes r due when its timer fires.
func (s *server) checkAgain(r *request) {
	s.mu.Lock()
	if r.entry == nil || r.timer == nil {
		s.mu.Unlock()
		return // forgotten, or the server is stopping
	}
	r.timer = nil
	s.due = append(s.due, r)
	s.mu.Unlock()
	kick(s.dueKick)
}

// stopTimers stops the timers of the watched requests, which stay known.
func (s *server) stopTimers() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for e := s.watch.Front(); e != nil; e = e.Next() {
		if r := e.Value.(*request); r.timer != nil {
			r.timer.Stop()
			r.timer = nil
		}
	}
}
