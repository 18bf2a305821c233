package server

import (
	"container/list"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/metrics"
	"github.com/obsdata/dataman/internal/udp"
)

// request is one requested file on its way: watched until its raw file is
// there and complete, then queued, then in a worker's hands. Its fields
// other than name, from and received belong to s.mu.
type request struct {
	name     frame.Name
	from     netip.AddrPort // the sender
	received time.Time
	state    state
	tries    int           // checks that found the raw file missing or incomplete
	waited   time.Duration // backoff so far
	check    time.Duration // how long the last check took
	entry    *list.Element // its place in s.watch while watched; nil once forgotten
	timer    *time.Timer   // its next check, while it waits for one
}

// sender is where the request came from, for the log.
func (r *request) sender() any {
	if r.from.IsValid() {
		return r.from
	}
	return RequestsFile // left by the last run
}

type state int

const (
	watched state = iota // its raw file is to be checked
	queued               // waiting for a worker
	working              // a worker has it
	cut                  // the stop timeout cut its delivery short
)

// read is the receiving loop: parse, then hand on; the checks are the
// watcher's, the work the workers'.
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
// What a sender can repeat at will is logged through the limiter.
func (s *server) handle(from netip.AddrPort, b []byte, at time.Time) bool {
	req, err := udp.Parse(b)
	if err != nil {
		s.m.Datagram(metrics.KindInvalid)
		s.limit.Warn("datagram dropped", "from", from, "err", err, "datagram", udp.Quote(b))
		return false
	}
	if req.Cmd == udp.Quit {
		if !udp.Allowed(s.o.QuitPeers, from) {
			s.m.Datagram(metrics.KindQuitRefused)
			s.limit.Warn("quit refused: sender not in server.quitPeers", "from", from)
			return false
		}
		s.m.Datagram(metrics.KindQuit)
		s.log.Info("quit received", "from", from)
		s.quitc <- from
		return true
	}
	s.m.Datagram(metrics.KindProc)
	s.log.Debug("proc received", "file", req.Name.Base, "path", req.Path, "from", from)
	s.admit(&request{name: req.Name, from: from, received: at})
	return false
}

// admit hands a request to the watcher for a first check of its raw file,
// unless the file is already requested.
func (s *server) admit(r *request) {
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return
	}
	if _, dup := s.known[r.name.Base]; dup {
		s.mu.Unlock()
		s.limit.Info("already queued or in progress", "file", r.name.Base, "from", r.sender())
		return
	}
	s.known[r.name.Base] = r
	gone := s.enterWatch(r)
	s.due = append(s.due, r)
	s.mu.Unlock()
	s.evicted(gone)
	kick(s.dueKick)
	kick(s.statusKick)
}
