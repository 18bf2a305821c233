package server

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/obsdata/dataman/internal/control"
	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/internal/ledger"
	"github.com/obsdata/dataman/internal/logx"
	"github.com/obsdata/dataman/internal/metrics"
	"github.com/obsdata/dataman/internal/sdnotify"
	"github.com/obsdata/dataman/internal/udp"
)

// Options are the server's settings, from the config and the flags.
type Options struct {
	Addr        string // host:port to bind
	HTTP        string // host:port of /metrics and /healthz (TCP); "": no HTTP server
	Jobs        int
	Queue       int // files found complete waiting for a worker, at most
	Watch       int // requests waiting for a check of their raw file, at most; 0: DefaultWatch
	QuitPeers   []string
	DataDir     string
	StateDir    string
	StopTimeout time.Duration
	SweepEvery  time.Duration // 0: sweep at start-up only
	Retry       deliver.Backoff
	Incomplete  Backoff
}

// Backoff paces the checks of a raw file that is not complete yet.
type Backoff struct {
	Initial, Max time.Duration
	GiveUp       time.Duration // report the file after waiting this long in all
}

// delay is the wait before retry number tries+1: Initial, doubling up to Max.
func (b Backoff) delay(tries int) time.Duration {
	d := b.Initial
	for i := 0; i < tries && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// DefaultIncomplete gives a camera server or an NFS attribute cache two
// minutes to show the whole file; azcam announces a file only after closing
// it, so this is for the odd case.
var DefaultIncomplete = Backoff{Initial: 500 * time.Millisecond, Max: 10 * time.Second, GiveUp: 2 * time.Minute}

// Deliverer is what the server needs of the delivery path.
type Deliverer interface {
	Ensure(ctx context.Context, rawName string, how deliver.Mode) (deliver.Report, error)
	RetryPending(ctx context.Context, b deliver.Backoff) error
}

// Deps are what the server runs on.
type Deps struct {
	Deliverer Deliverer
	Notify    *sdnotify.Notifier // nil: not under systemd
	// Reconcile sweeps once; nil means no sweeping. It returns when a raw
	// file it left alone for being too young is old enough for a sweep
	// (zero: none was), and the server sweeps again then.
	Reconcile func(context.Context) (time.Time, error)
	// Metrics counts what the server does; nil: nothing is counted, unless
	// Options.HTTP is set, which serves metrics of its own.
	Metrics *metrics.Metrics
	// Pages are served beside /metrics and /healthz on Options.HTTP (the
	// night log); nil: none.
	Pages http.Handler
}

// Run serves until ctx ends (SIGTERM, SIGINT) or an allowed peer sends
// quit, then stops gracefully and returns nil. It returns an error if the
// server cannot start (exit status Locked if another one holds the state
// directory) or its socket fails.
func Run(ctx context.Context, o Options, deps Deps) error {
	log := logx.From(ctx)
	ctl, err := control.Acquire(o.StateDir)
	if err != nil {
		var running *control.RunningError
		if errors.As(err, &running) {
			return exitcode.New(exitcode.Locked, err,
				"stop it first (quit datagram, SIGTERM or systemctl stop), or give this one its own paths.stateDir")
		}
		return fmt.Errorf("state directory %s: %w", o.StateDir, err)
	}
	defer ctl.Release()
	if err := ctl.SetStatus(control.Status{State: control.Starting}); err != nil {
		return fmt.Errorf("state directory %s: %w", o.StateDir, err)
	}
	// A ledger of an earlier version is split into nights before anything
	// reads it, so that no part of the server ever holds years of it.
	if err := ledger.MigrateAll(o.StateDir); err != nil {
		return fmt.Errorf("state directory %s: %w", o.StateDir, err)
	}
	conn, err := udp.Listen(ctx, o.Addr)
	if err != nil {
		return err
	}
	if o.Watch <= 0 {
		o.Watch = DefaultWatch
	}
	if deps.Metrics == nil && o.HTTP != "" {
		deps.Metrics = metrics.New(metrics.Options{StateDir: o.StateDir})
	}
	s := newServer(o, deps, log, ctl, conn.Addr().String())
	// Nothing but the configured address is bound, and only when one is.
	if o.HTTP != "" {
		hs, err := metrics.Listen(o.HTTP, httpHandler(deps.Metrics, deps.Pages), log)
		if err != nil {
			conn.Close()
			return err
		}
		defer func() {
			if err := hs.Close(); err != nil {
				log.Warn("http server", "addr", hs.Addr(), "err", err)
			}
		}()
		s.http = hs.Addr()
	}
	s.restore()
	// .status before READY: it is where a script that started listen on
	// port 0 finds the port.
	if err := ctl.SetStatus(s.status("")); err != nil {
		log.Warn("status file", "err", err)
	}
	if err := deps.Notify.Ready("listening on " + s.addr); err != nil {
		log.Warn("systemd notify", "err", err)
	}
	log.Info("dataman listen started", "addr", s.addr, "http", s.http, "pid", os.Getpid(), "jobs", o.Jobs, "queue", o.Queue)
	return s.run(ctx, conn)
}

// httpHandler serves the metrics and, at every other path, the pages.
func httpHandler(m *metrics.Metrics, pages http.Handler) http.Handler {
	if pages == nil {
		return m.Handler()
	}
	mux := http.NewServeMux()
	mh := m.Handler()
	mux.Handle("/metrics", mh)
	mux.Handle("/healthz", mh)
	mux.Handle("/", pages)
	return mux
}

// busyWorker is what one worker is doing, for the watchdog and the status.
type busyWorker struct {
	file  string
	since time.Time
}

// server is the running daemon.
type server struct {
	o      Options
	d      Deliverer
	log    *slog.Logger
	notify *sdnotify.Notifier
	ctl    *control.Files
	sweep  func(context.Context) (time.Time, error)
	addr   string
	http   string           // the bound address of /metrics, "" without
	m      *metrics.Metrics // nil: none
	limit  *limiter         // for the lines a sender can repeat at will

	// queue has room for o.Queue requests, as many as may be queued, so
	// sending to it never blocks.
	queue chan *request
	stop  chan struct{} // closed when stopping: workers take nothing more
	quitc chan netip.AddrPort
	fatal chan error
	// kicks, each with room for one: a kick pending covers all later ones.
	statusKick, retryKick, dueKick chan struct{}

	mu       sync.Mutex
	known    map[string]*request // every request not finished, by file
	watch    list.List           // watched requests, first entered first: at most o.Watch
	due      []*request          // watched requests whose check is due, first due first
	queued   int                 // requests in queue: at most o.Queue
	busy     []busyWorker        // by worker slot; file "" when idle
	last     string
	latency  time.Duration // the last delivered frame's, from its datagram
	stopping bool
	stuck    string // the file the watchdog last found stuck
}

func newServer(o Options, deps Deps, log *slog.Logger, ctl *control.Files, addr string) *server {
	s := &server{
		o: o, d: deps.Deliverer, log: log, notify: deps.Notify, ctl: ctl, sweep: deps.Reconcile, addr: addr,
		m:          deps.Metrics,
		limit:      newLimiter(log, logBurst, logEvery),
		queue:      make(chan *request, o.Queue),
		stop:       make(chan struct{}),
		quitc:      make(chan netip.AddrPort, 1),
		fatal:      make(chan error, 1),
		statusKick: make(chan struct{}, 1),
		retryKick:  make(chan struct{}, 1),
		dueKick:    make(chan struct{}, 1),
		known:      map[string]*request{},
		busy:       make([]busyWorker, o.Jobs),
	}
	s.retryKick <- struct{}{} // the ledger may hold dispatches left pending by the last run
	s.m.SetQueueDepth(s.queueDepth)
	return s
}

func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (s *server) run(ctx context.Context, conn *udp.Conn) error {
	// Files in progress get until the stop timeout, whatever ended ctx; the
	// sweeps and retries stop at once, since the next run redoes them.
	work, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	bg, stopBg := context.WithCancel(ctx)
	defer stopBg()

	var workers, others sync.WaitGroup
	for slot := range s.o.Jobs {
		workers.Go(func() { s.work(work, slot) })
	}
	others.Go(func() { s.read(conn) })
	others.Go(func() { s.watchLoop(bg) })
	others.Go(func() { s.statusLoop(bg) })
	others.Go(func() { s.sweepLoop(bg) })
	others.Go(func() { s.retryLoop(bg) })
	others.Go(func() { s.watchdogLoop(bg) })

	var failure error
	why := "signal"
	select {
	case <-ctx.Done():
	case from := <-s.quitc:
		why = "quit from " + from.String()
	case failure = <-s.fatal:
		why = failure.Error()
	}

	inFlight := s.beginStop()
	conn.Close()
	stopBg()
	if err := s.ctl.SetStatus(s.status(control.Stopping)); err != nil {
		s.log.Warn("status file", "err", err)
	}
	if err := s.notify.Stopping("stopping: " + why); err != nil {
		s.log.Warn("systemd notify", "err", err)
	}
	s.log.Info("stopping", "why", why, "in_progress", strings.Join(inFlight, ","))
	if !waitFor(&workers, s.o.StopTimeout) {
		s.log.Warn("stop timeout: abandoning the files in progress; the next start takes them up again",
			"files", strings.Join(s.inProgress(), ","), "timeout", s.o.StopTimeout)
		abandon()
		// Ensure returns promptly once its context ends, even with a file
		// operation hung on a dead mount; the grace only bounds the exit.
		waitFor(&workers, stopGrace)
	}
	waitFor(&others, stopGrace)
	s.stopTimers()
	s.save(s.leftOver())
	s.limit.Close()
	s.log.Info("dataman listen stopped", "why", why)
	return failure
}

// stopGrace bounds the wait for goroutines that were told to stop.
const stopGrace = 5 * time.Second

func waitFor(wg *sync.WaitGroup, limit time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// beginStop stops new work and returns the files in progress.
func (s *server) beginStop() []string {
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	close(s.stop)
	return s.inProgress()
}

func (s *server) inProgress() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var files []string
	for _, b := range s.busy {
		if b.file != "" {
			files = append(files, b.file)
		}
	}
	return files
}

// queueDepth is the requests waiting: watched or queued.
func (s *server) queueDepth() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queued + s.watch.Len()
}

func (s *server) status(state string) control.Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := control.Status{State: state, Last: s.last, Addr: s.addr, HTTP: s.http, Queue: s.queued + s.watch.Len(),
		Latency: s.latency}
	for _, b := range s.busy {
		if b.file != "" {
			st.Busy++
		}
	}
	if st.State == "" {
		st.State = control.Idle
		if st.Busy > 0 || st.Queue > 0 {
			st.State = control.Running
		}
	}
	return st
}

// publish writes .status and tells systemd.
func (s *server) publish() {
	st := s.status("")
	if err := s.ctl.SetStatus(st); err != nil {
		s.log.Warn("status file", "err", err)
	}
	text := fmt.Sprintf("%s on %s: %d in progress, %d queued", strings.ToLower(st.State), s.addr, st.Busy, st.Queue)
	if st.Last != "" {
		text += "; last " + st.Last
	}
	if err := s.notify.Status(text); err != nil {
		s.log.Debug("systemd notify", "err", err)
	}
}

// leftOver lists the requests not finished, once the workers are done or
// abandoned: those a worker still holds were cut short all the same.
func (s *server) leftOver() []*request {
	s.mu.Lock()
	defer s.mu.Unlock()
	left := make([]*request, 0, len(s.known))
	for _, name := range slices.Sorted(maps.Keys(s.known)) {
		left = append(left, s.known[name])
	}
	return left
}
