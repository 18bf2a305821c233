package commands

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/internal/config"
	"github.com/obsdata/dataman/internal/control"
	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/dmlog"
	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/logx"
	"github.com/obsdata/dataman/internal/sdnotify"
	"github.com/obsdata/dataman/internal/udp"
	"github.com/obsdata/dataman/sweep"
)

func listenCommand(version string) *cli.Command {
	return &cli.Command{
		Name:      "listen",
		Usage:     "deliver each frame the camera server announces over UDP (the dataMan server)",
		ArgsUsage: " ",
		Description: "Receives the camera server's datagrams on server.ipAddr:server.ipPort (UDP, default port\n" +
			"10301): \"proc <path>\" delivers the raw file dataDir/<chan>/<base name of path> through the\n" +
			"shared delivery path (condition, store, dispatch, <CHAN>.new); \"quit\", accepted only from\n" +
			"server.quitPeers, stops the server like SIGTERM. At most the config's jobs files are processed at\n" +
			"once and its queue of requests wait; a request for a file queued, in progress or already delivered does\n" +
			"nothing, and a request that finds the queue full is dropped with a warning. A raw file still\n" +
			"being written is retried with backoff. At start-up and every sweep.every the server sweeps\n" +
			"the recent nights in-process, so frames whose datagrams were lost are delivered all the same.\n" +
			"\n" +
			"Under systemd (Type=notify) it sends READY=1 once the socket is bound, STATUS= with the last file\n" +
			"and the queue, WATCHDOG=1 while no worker has been on one file for more than half of\n" +
			"WatchdogSec, and STOPPING=1 on the way out. In paths.stateDir it keeps .pid and .status (the\n" +
			"state, the last file and the bound address) while it runs; a second listen on the same state\n" +
			"directory refuses to start. With log.file it also writes dataMan's log file in paths.logDir.\n" +
			"\n" +
			"On quit, SIGTERM or SIGINT it stops reading, finishes the files in progress (for at most\n" +
			"--stop-timeout; the ledger records what was cut short and the next sweep finishes it) and exits 0.",
		Flags: []cli.Flag{
			configFlag, setFlag, logLevelFlag, jobsFlag,
			&cli.StringFlag{Name: "addr", Usage: "listen on `HOST:PORT` instead of server.ipAddr:server.ipPort (port 0: any free port, see .status)"},
			&cli.DurationFlag{Name: "stop-timeout", Value: 30 * time.Second, Usage: "longest wait for files in progress when stopping"},
			&cli.StringSliceFlag{Name: "night", Usage: "also sweep observing night `CCYYMMDD` (repeatable; the recent nights always are)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return exitcode.Usagef("listen takes no arguments")
			}
			ctx, cfg, err := setup(c)
			if err != nil {
				return err
			}
			o, err := listenOptionsFrom(c, cfg)
			if err != nil {
				return err
			}
			log := logx.From(ctx)
			if cfg.Log.File {
				file := dmLogHandler(cfg, log)
				defer file.Close()
				log = slog.New(dmlog.Tee(log.Handler(), file))
			}
			if err := makeDefaultDirs(cfg); err != nil {
				return err
			}
			d, err := newDeliverer(cfg, version, log, true)
			if err != nil {
				return exitcode.New(exitcode.Usage, err)
			}
			defer d.Close()
			notify, err := sdnotify.FromEnv(os.LookupEnv)
			if err != nil {
				log.Warn("not notifying systemd", "err", err)
			}
			return runListen(logx.With(ctx, log), o, listenDeps{
				Deliverer: d,
				Notify:    notify,
				Reconcile: reconciler(d, cfg, version, c.StringSlice("night"), log),
			})
		},
	}
}

var listenStatuses = []exitStatus{
	{exitcode.OK, "stopped by quit, SIGTERM or SIGINT"},
	{exitcode.Failure, "could not start (socket, state directory) or the socket failed"},
	statusUsage,
	{exitcode.Locked, "another listen is running on the same state directory"},
}

// listenOptions are listen's settings, from the config and the flags.
type listenOptions struct {
	Addr        string // host:port to bind
	Jobs        int
	Queue       int
	QuitPeers   []string
	DataDir     string
	StateDir    string
	StopTimeout time.Duration
	SweepEvery  time.Duration // 0: sweep at start-up only
	Retry       deliver.Backoff
	Incomplete  backoff
}

// backoff paces the retries of a raw file that is not complete yet.
type backoff struct {
	Initial, Max time.Duration
	GiveUp       time.Duration // report the file after waiting this long in all
}

// delay is the wait before retry number tries+1: Initial, doubling up to Max.
func (b backoff) delay(tries int) time.Duration {
	d := b.Initial
	for i := 0; i < tries && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// defaultIncomplete gives a camera server or an NFS attribute cache two
// minutes to show the whole file; azcam announces a file only after closing
// it, so this is for the odd case.
var defaultIncomplete = backoff{Initial: 500 * time.Millisecond, Max: 10 * time.Second, GiveUp: 2 * time.Minute}

func listenOptionsFrom(c *cli.Context, cfg *config.Config) (listenOptions, error) {
	addr := net.JoinHostPort(cfg.Server.IPAddr, strconv.Itoa(cfg.Server.IPPort))
	if c.IsSet("addr") {
		addr = c.String("addr")
		if _, port, err := net.SplitHostPort(addr); err != nil {
			return listenOptions{}, exitcode.Usagef("--addr %q: %v", addr, err)
		} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			return listenOptions{}, exitcode.Usagef("--addr %q: bad port", addr)
		}
	}
	if c.Duration("stop-timeout") <= 0 {
		return listenOptions{}, exitcode.Usagef("--stop-timeout must be positive")
	}
	for _, n := range c.StringSlice("night") {
		if _, err := frame.ParseNight(n); err != nil {
			return listenOptions{}, exitcode.Usagef("--night: %v", err)
		}
	}
	return listenOptions{
		Addr:        addr,
		Jobs:        cfg.Jobs,
		Queue:       cfg.Queue,
		QuitPeers:   cfg.Server.QuitPeers,
		DataDir:     cfg.Paths.DataDir,
		StateDir:    cfg.Paths.StateDir,
		StopTimeout: c.Duration("stop-timeout"),
		SweepEvery:  cfg.Sweep.Every,
		Retry:       deliver.Backoff{Initial: cfg.Retry.Initial, Max: cfg.Retry.Max},
		Incomplete:  defaultIncomplete,
	}, nil
}

func dmLogHandler(cfg *config.Config, log *slog.Logger) *dmlog.Handler {
	host, err := os.Hostname()
	if err != nil {
		host = "local"
	}
	level := slog.LevelInfo
	if cfg.Debug {
		level = slog.LevelDebug
	}
	return dmlog.New(dmlog.Options{
		Dir: cfg.Paths.LogDir, Host: host, Level: level,
		OnError: func(err error) { log.Error("log file", "err", err) },
	})
}

// reconciler is listen's in-process sweep: the sweep command's code, lock
// and delivery path, over the recent nights and any named with --night.
func reconciler(d *deliver.Deliverer, cfg *config.Config, version string, nights []string, log *slog.Logger) func(context.Context) error {
	lock := sweep.NewLock(cfg.Paths.StateDir)
	return func(ctx context.Context) error {
		scope := append(frame.DefaultNights(time.Now(), frame.Arizona), nights...)
		slices.Sort(scope)
		sum, err := sweep.Run(ctx, sweep.Options{
			Deliverer: d,
			Nights:    slices.Compact(scope),
			MinAge:    cfg.Sweep.MinAge,
			// One action at a time: the datagrams come first.
			Jobs:        1,
			Lock:        lock,
			RepoTimeout: cfg.Repo.Timeout,
			Version:     version,
			Log:         log,
		})
		var held *sweep.HeldError
		if errors.As(err, &held) {
			log.Info("sweep skipped: another sweep is running", "pid", held.PID)
			return nil
		}
		if err != nil {
			return err
		}
		log.Info("sweep finished", "nights", strings.Join(sum.Nights, ","), "actions", len(sum.Actions), "failed", sum.Failed,
			"deferred", len(sum.Deferred))
		return nil
	}
}

// listenDeliverer is what listen needs of the delivery path.
type listenDeliverer interface {
	Ensure(ctx context.Context, rawName string, how deliver.Mode) (deliver.Report, error)
	RetryPending(ctx context.Context, b deliver.Backoff) error
}

type listenDeps struct {
	Deliverer listenDeliverer
	Notify    *sdnotify.Notifier // nil: not under systemd
	// Reconcile sweeps once; nil means no sweeping.
	Reconcile func(context.Context) error
}

// runListen serves until ctx ends (SIGTERM, SIGINT) or an allowed peer
// sends quit, then stops gracefully and returns nil.
func runListen(ctx context.Context, o listenOptions, deps listenDeps) error {
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
	conn, err := udp.Listen(ctx, o.Addr)
	if err != nil {
		return err
	}
	l := newListener(o, deps, log, ctl, conn.Addr().String())
	// .status before READY: it is where a script that started listen on
	// port 0 finds the port.
	if err := ctl.SetStatus(l.status("")); err != nil {
		log.Warn("status file", "err", err)
	}
	if err := deps.Notify.Ready("listening on " + l.addr); err != nil {
		log.Warn("systemd notify", "err", err)
	}
	log.Info("dataman listen started", "addr", l.addr, "pid", os.Getpid(), "jobs", o.Jobs, "queue", o.Queue)
	return l.run(ctx, conn)
}

func (l *listener) run(ctx context.Context, conn *udp.Conn) error {
	// Files in progress get until the stop timeout, whatever ended ctx; the
	// sweeps and retries stop at once, since the next run redoes them.
	work, abandon := context.WithCancel(context.WithoutCancel(ctx))
	defer abandon()
	bg, stopBg := context.WithCancel(ctx)
	defer stopBg()

	var workers, others sync.WaitGroup
	for slot := range l.o.Jobs {
		workers.Go(func() { l.work(work, slot) })
	}
	others.Go(func() { l.read(conn) })
	others.Go(func() { l.statusLoop(bg) })
	others.Go(func() { l.sweepLoop(bg) })
	others.Go(func() { l.retryLoop(bg) })
	others.Go(func() { l.watchdogLoop(bg) })

	var failure error
	why := "signal"
	select {
	case <-ctx.Done():
	case from := <-l.quitc:
		why = "quit from " + from.String()
	case failure = <-l.fatal:
		why = failure.Error()
	}

	inFlight := l.beginStop()
	conn.Close()
	stopBg()
	if err := l.ctl.SetStatus(l.status(control.Stopping)); err != nil {
		l.log.Warn("status file", "err", err)
	}
	if err := l.notify.Stopping("stopping: " + why); err != nil {
		l.log.Warn("systemd notify", "err", err)
	}
	l.log.Info("stopping", "why", why, "in_progress", strings.Join(inFlight, ","))
	if !waitFor(&workers, l.o.StopTimeout) {
		l.log.Warn("stop timeout: abandoning the files in progress; the ledger records them and the next sweep finishes them",
			"files", strings.Join(l.inProgress(), ","), "timeout", l.o.StopTimeout)
		abandon()
		// Ensure returns promptly once its context ends, even with a file
		// operation hung on a dead mount; the grace only bounds the exit.
		waitFor(&workers, stopGrace)
	}
	waitFor(&others, stopGrace)
	if left := l.leftOver(); len(left) > 0 {
		l.log.Info("requests left for the next sweep", "count", len(left), "files", strings.Join(left, ","))
	}
	l.log.Info("dataman listen stopped", "why", why)
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

// listenJob is one requested file on its way through the queue.
type listenJob struct {
	name     frame.Name
	from     netip.AddrPort
	received time.Time
	tries    int           // times found incomplete
	waited   time.Duration // backoff so far
}

// busyWorker is what one worker is doing, for the watchdog and the status.
type busyWorker struct {
	file  string
	since time.Time
}

// listener is the running server.
type listener struct {
	o      listenOptions
	d      listenDeliverer
	log    *slog.Logger
	notify *sdnotify.Notifier
	ctl    *control.Files
	sweep  func(context.Context) error
	addr   string

	// queue has room for every request that holds a slot, so sending to
	// it never blocks.
	queue chan *listenJob
	stop  chan struct{} // closed when stopping: workers take nothing more
	quitc chan netip.AddrPort
	fatal chan error
	// kicks, each with room for one: a kick pending covers all later ones.
	statusKick, retryKick chan struct{}

	mu       sync.Mutex
	known    map[string]*listenJob // queued, waiting to retry, or in progress
	waiting  int                   // queued or waiting to retry: at most o.Queue
	busy     []busyWorker          // by worker slot; file "" when idle
	last     string
	stopping bool
	stuck    string // the file the watchdog last found stuck
}

func newListener(o listenOptions, deps listenDeps, log *slog.Logger, ctl *control.Files, addr string) *listener {
	l := &listener{
		o: o, d: deps.Deliverer, log: log, notify: deps.Notify, ctl: ctl, sweep: deps.Reconcile, addr: addr,
		queue:      make(chan *listenJob, o.Queue),
		stop:       make(chan struct{}),
		quitc:      make(chan netip.AddrPort, 1),
		fatal:      make(chan error, 1),
		statusKick: make(chan struct{}, 1),
		retryKick:  make(chan struct{}, 1),
		known:      map[string]*listenJob{},
		busy:       make([]busyWorker, o.Jobs),
	}
	l.retryKick <- struct{}{} // the ledger may hold dispatches left pending by the last run
	return l
}

func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// read is the receiving loop: parse, then queue; the work is the workers'.
func (l *listener) read(conn *udp.Conn) {
	for {
		from, b, err := conn.Read()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			l.fatal <- fmt.Errorf("udp %s: %w", l.addr, err)
			return
		}
		if l.handle(from, b, time.Now()) {
			return
		}
	}
}

// handle acts on one datagram and reports whether it was an accepted quit.
func (l *listener) handle(from netip.AddrPort, b []byte, at time.Time) bool {
	req, err := udp.Parse(b)
	if err != nil {
		l.log.Warn("datagram dropped", "from", from, "err", err, "datagram", udp.Quote(b))
		return false
	}
	if req.Cmd == udp.Quit {
		if !udp.Allowed(l.o.QuitPeers, from) {
			l.log.Warn("quit refused: sender not in server.quitPeers", "from", from)
			return false
		}
		l.log.Info("quit received", "from", from)
		l.quitc <- from
		return true
	}
	l.log.Debug("proc received", "file", req.Name.Base, "path", req.Path, "from", from)
	l.admit(&listenJob{name: req.Name, from: from, received: at})
	return false
}

// admit queues a request unless the file is already queued, waiting or in
// progress, or the queue is full.
func (l *listener) admit(j *listenJob) {
	l.mu.Lock()
	if l.stopping {
		l.mu.Unlock()
		return
	}
	if _, dup := l.known[j.name.Base]; dup {
		l.mu.Unlock()
		l.log.Info("already queued or in progress", "file", j.name.Base, "from", j.from)
		return
	}
	if l.waiting >= l.o.Queue {
		l.mu.Unlock()
		l.log.Warn("queue full: request dropped; the next sweep delivers the file", "file", j.name.Base,
			"from", j.from, "queue", l.o.Queue)
		return
	}
	l.known[j.name.Base] = j
	l.waiting++
	l.mu.Unlock()
	l.queue <- j
	kick(l.statusKick)
}

func (l *listener) work(ctx context.Context, slot int) {
	for {
		select {
		case <-l.stop:
			return
		case j := <-l.queue:
			if !l.take(slot, j) {
				return
			}
			retried := l.process(ctx, j)
			l.done(slot, j, retried)
		}
	}
}

func (l *listener) take(slot int, j *listenJob) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopping {
		return false // j stays known: it is counted among the requests left over
	}
	l.waiting--
	l.busy[slot] = busyWorker{file: j.name.Base, since: time.Now()}
	return true
}

func (l *listener) done(slot int, j *listenJob, retried bool) {
	l.mu.Lock()
	l.busy[slot] = busyWorker{}
	if !retried {
		delete(l.known, j.name.Base)
	}
	l.mu.Unlock()
	kick(l.statusKick)
}

// process takes one file through the delivery path, and reports whether it
// was put back to be tried later.
func (l *listener) process(ctx context.Context, j *listenJob) (retried bool) {
	log := l.log.With("file", j.name.Base)
	start := time.Now()
	path, err := resolveRaw(l.o.DataDir, j.name)
	if errors.Is(err, fs.ErrNotExist) {
		// Also what a stale NFS attribute cache shows for a new file.
		return l.retryLater(j, err)
	}
	if err != nil {
		log.Warn("proc refused", "from", j.from, "err", err)
		return false
	}
	if err := checkRaw(path); errors.Is(err, errIncomplete) {
		return l.retryLater(j, err)
	}
	// Any other problem with the raw file is the delivery path's to record.
	// check is the time to find the raw file and read its headers; reading
	// the data is part of condition.
	check := time.Since(start)
	rep, err := l.d.Ensure(ctx, j.name.Base, deliver.Deliver)
	timings := []any{"check", ms(check), "condition", ms(rep.Timings.Condition), "store", ms(rep.Timings.Store),
		"dispatch", ms(rep.Timings.Dispatch), "latency", ms(time.Since(j.received))}
	if err == nil {
		l.mu.Lock()
		l.last = j.name.Base
		l.mu.Unlock()
	}
	switch {
	case err == nil && rep.Already:
		log.Debug("request for a delivered file", "from", j.from) // the delivery path logs it
	case err == nil:
		log.Info("delivered", timings...)
	case errors.Is(err, deliver.ErrPending):
		log.Warn("stored, dispatch pending", append(timings, "err", err)...)
		kick(l.retryKick)
	case errors.Is(err, fits.ErrTruncated):
		return l.retryLater(j, err) // it changed after the check
	default:
		log.Error("delivery failed", append(timings, "err", err)...)
	}
	return false
}

func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// retryLater puts j back after a backoff, keeping its slot in the queue
// meanwhile, or gives up on it once it has waited long enough.
func (l *listener) retryLater(j *listenJob, why error) bool {
	b := l.o.Incomplete
	delay := b.delay(j.tries)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.stopping:
		l.log.Info("not complete at shutdown; left for the next sweep", "file", j.name.Base, "err", why)
	case j.waited+delay > b.GiveUp:
		l.log.Error("raw file still missing or incomplete; giving up, the next sweep tries again", "file", j.name.Base,
			"waited", j.waited, "err", why)
	case l.waiting >= l.o.Queue:
		l.log.Warn("queue full: not retrying; the next sweep delivers the file", "file", j.name.Base, "err", why)
	default:
		l.log.Info("raw file not complete yet; retrying", "file", j.name.Base, "in", delay, "err", why)
		j.tries++
		j.waited += delay
		l.waiting++
		time.AfterFunc(delay, func() { l.requeue(j) })
		return true
	}
	return false
}

func (l *listener) requeue(j *listenJob) {
	l.mu.Lock()
	stopping := l.stopping
	l.mu.Unlock()
	if !stopping {
		l.queue <- j
	}
}

// beginStop stops new work and returns the files in progress.
func (l *listener) beginStop() []string {
	l.mu.Lock()
	l.stopping = true
	l.mu.Unlock()
	close(l.stop)
	return l.inProgress()
}

func (l *listener) inProgress() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var files []string
	for _, b := range l.busy {
		if b.file != "" {
			files = append(files, b.file)
		}
	}
	return files
}

// leftOver lists the requests never started, once the workers are gone.
func (l *listener) leftOver() []string {
	busy := l.inProgress()
	l.mu.Lock()
	defer l.mu.Unlock()
	var left []string
	for f := range l.known {
		if !slices.Contains(busy, f) {
			left = append(left, f)
		}
	}
	slices.Sort(left)
	return left
}

func (l *listener) status(state string) control.Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := control.Status{State: state, Last: l.last, Addr: l.addr, Queue: l.waiting}
	for _, b := range l.busy {
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
func (l *listener) publish() {
	st := l.status("")
	if err := l.ctl.SetStatus(st); err != nil {
		l.log.Warn("status file", "err", err)
	}
	text := fmt.Sprintf("%s on %s: %d in progress, %d queued", strings.ToLower(st.State), l.addr, st.Busy, st.Queue)
	if st.Last != "" {
		text += "; last " + st.Last
	}
	if err := l.notify.Status(text); err != nil {
		l.log.Debug("systemd notify", "err", err)
	}
}

func (l *listener) statusLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.statusKick:
			l.publish()
		}
	}
}

func (l *listener) sweepLoop(ctx context.Context) {
	if l.sweep == nil {
		return
	}
	for {
		if err := l.sweep(ctx); err != nil && ctx.Err() == nil {
			l.log.Warn("sweep failed; trying again at the next interval", "err", err)
		}
		if l.o.SweepEvery <= 0 {
			return
		}
		t := time.NewTimer(l.o.SweepEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (l *listener) retryLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.retryKick:
		}
		if err := l.d.RetryPending(ctx, l.o.Retry); err != nil && ctx.Err() == nil {
			l.log.Warn("retrying pending dispatches", "err", err)
		}
	}
}

// watchdogLoop pings systemd's watchdog, but only while every busy worker
// started its file within half of WatchdogSec: a worker hung on one file
// stops the pings, and systemd restarts the service. The pings come at a
// quarter of WatchdogSec, so that a file that takes a little longer than
// the limit skips one or two pings and never leaves systemd a whole
// WatchdogSec without one.
func (l *listener) watchdogLoop(ctx context.Context) {
	limit := l.notify.WatchdogSec() / 2
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
			l.watchdogTick(now, limit)
		}
	}
}

// watchdogTick pings unless a worker has been on one file for longer than
// limit, and reports whether it pinged.
func (l *listener) watchdogTick(now time.Time, limit time.Duration) bool {
	l.mu.Lock()
	var stuck busyWorker
	for _, b := range l.busy {
		if b.file != "" && now.Sub(b.since) > limit {
			stuck = b
			break
		}
	}
	report := stuck.file != "" && stuck.file != l.stuck
	l.stuck = stuck.file
	l.mu.Unlock()
	if report {
		l.log.Error("worker stuck; no more watchdog pings", "file", stuck.file, "for", ms(now.Sub(stuck.since)))
	}
	if stuck.file != "" {
		return false
	}
	if err := l.notify.Watchdog(); err != nil {
		l.log.Debug("systemd notify", "err", err)
	}
	return true
}

// resolveRaw returns the raw file n in dataDir/<chan>/ after checking that
// it is a regular file there, even through symbolic links: a datagram names
// a file, never a place. A missing file gives an error wrapping
// fs.ErrNotExist.
func resolveRaw(dataDir string, n frame.Name) (string, error) {
	dir := filepath.Join(dataDir, n.Chan)
	path := filepath.Join(dir, n.Base)
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(realDir, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s leads to %s, outside %s", path, real, dir)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	return path, nil
}

// errIncomplete marks a raw file that is still being written, or that looks
// so through a stale NFS cache.
var errIncomplete = errors.New("raw file not complete")

// rawHDUs is the HDU count of a raw MODS file: the primary, IM1..IM4 and
// CONPARS. NEXTEND cannot say it, as azcam leaves it at 4.
const rawHDUs = 6

// checkRaw tells a complete raw file from one still being written: shorter
// than its headers say, fewer HDUs than a raw file has, or changing while
// looked at. It reads only the headers.
func checkRaw(path string) error {
	before, err := os.Stat(path)
	if err != nil {
		return err
	}
	if before.Size() < fits.BlockLen {
		return fmt.Errorf("%w: %d bytes", errIncomplete, before.Size())
	}
	f, err := fits.Open(path)
	if errors.Is(err, fits.ErrTruncated) {
		return fmt.Errorf("%w: %w", errIncomplete, err)
	}
	if err != nil {
		return err
	}
	hdus := len(f.HDUs)
	f.Close()
	after, err := os.Stat(path)
	if err != nil {
		return err
	}
	if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		return fmt.Errorf("%w: changing (%d then %d bytes)", errIncomplete, before.Size(), after.Size())
	}
	if hdus < rawHDUs {
		return fmt.Errorf("%w: %d of %d HDUs", errIncomplete, hdus, rawHDUs)
	}
	return nil
}
