package server

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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obsdata/dataman/fits/synth"
	"github.com/obsdata/dataman/internal/control"
	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/internal/logx"
	"github.com/obsdata/dataman/internal/sdnotify"
)

// listenPatience bounds every wait in these tests, so that a broken server
// fails the test instead of hanging it. Nothing is timed.
const listenPatience = 60 * time.Second

// listenFake is the delivery path as listen sees it, recording the calls.
type listenFake struct {
	mu      sync.Mutex
	calls   map[string]int
	gates   map[string]chan struct{} // Ensure of the file waits for the gate to close, or ctx
	errs    map[string]error
	started chan string // one send per Ensure, when it starts
	aborted chan string // Ensure calls that ended because ctx did
	retries chan struct{}
}

func newListenFake() *listenFake {
	return &listenFake{
		calls:   map[string]int{},
		gates:   map[string]chan struct{}{},
		errs:    map[string]error{},
		started: make(chan string, 1000),
		aborted: make(chan string, 1000),
		retries: make(chan struct{}, 1000),
	}
}

func (f *listenFake) Ensure(ctx context.Context, name string, how deliver.Mode) (deliver.Report, error) {
	f.mu.Lock()
	f.calls[name]++
	gate, err := f.gates[name], f.errs[name]
	f.mu.Unlock()
	f.started <- name
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			f.aborted <- name
			return deliver.Report{}, ctx.Err()
		}
	}
	return deliver.Report{File: name}, err
}

func (f *listenFake) RetryPending(ctx context.Context, b deliver.Backoff) error {
	f.retries <- struct{}{}
	return nil
}

func (f *listenFake) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[name]
}

// listenLog collects log records so a test can wait for one.
type listenLog struct {
	mu      sync.Mutex
	records []slog.Record
	changed chan struct{}
}

func newListenLog() *listenLog { return &listenLog{changed: make(chan struct{}, 1)} }

func (h *listenLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *listenLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *listenLog) WithGroup(string) slog.Handler            { return h }
func (h *listenLog) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.records = append(h.records, r.Clone())
	h.mu.Unlock()
	kick(h.changed)
	return nil
}

func (h *listenLog) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.records {
		if r.Message == msg {
			n++
		}
	}
	return n
}

// waitFor waits until msg has been logged n times.
func (h *listenLog) waitFor(t *testing.T, msg string, n int) {
	t.Helper()
	deadline := time.NewTimer(listenPatience)
	defer deadline.Stop()
	for h.count(msg) < n {
		select {
		case <-h.changed:
		case <-deadline.C:
			t.Fatalf("%q logged %d times, want %d", msg, h.count(msg), n)
		}
	}
}

func receive[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(listenPatience):
		t.Fatalf("no %s", what)
		panic("unreachable")
	}
}

// listenRig is a server running in the test process on a loopback port.
type listenRig struct {
	o    Options
	fake *listenFake
	log  *listenLog
	addr netip.AddrPort
	stop context.CancelFunc
	errc chan error
}

func testListenOptions(t *testing.T) Options {
	dir := t.TempDir()
	for _, d := range []string{"raw/mods1b", "state"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return Options{
		Addr: "127.0.0.1:0", Jobs: 2, Queue: 16, QuitPeers: []string{"127.0.0.1", "::1"},
		DataDir: filepath.Join(dir, "raw"), StateDir: filepath.Join(dir, "state"),
		StopTimeout: listenPatience,
		Incomplete:  Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond, GiveUp: listenPatience},
	}
}

func startListen(t *testing.T, o Options, fake *listenFake, deps Deps) *listenRig {
	t.Helper()
	r := &listenRig{o: o, fake: fake, log: newListenLog(), errc: make(chan error, 1)}
	deps.Deliverer = fake
	ctx, cancel := context.WithCancel(logx.With(context.Background(), slog.New(r.log)))
	r.stop = cancel
	go func() { r.errc <- Run(ctx, o, deps) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.errc:
		case <-time.After(listenPatience):
			t.Error("listen did not stop")
		}
	})
	r.addr = waitListening(t, o.StateDir, r.errc)
	return r
}

// waitListening reads the bound address from .status once the server has
// written it.
func waitListening(t *testing.T, stateDir string, errc chan error) netip.AddrPort {
	t.Helper()
	deadline := time.Now().Add(listenPatience)
	for time.Now().Before(deadline) {
		select {
		case err := <-errc:
			t.Fatalf("listen ended at start-up: %v", err)
		default:
		}
		b, err := os.ReadFile(filepath.Join(stateDir, control.StatusFile))
		if err == nil {
			if _, f, err := control.ParseStatus(string(b)); err == nil && f["addr"] != "" {
				return netip.MustParseAddrPort(f["addr"])
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("listen never wrote its address to .status")
	return netip.AddrPort{}
}

// send sends msg as the camera server does: a new socket per message.
func (r *listenRig) send(t *testing.T, msgs ...string) {
	t.Helper()
	for _, m := range msgs {
		c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(r.addr))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
}

func (r *listenRig) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.errc:
		r.errc <- err // for the cleanup
		return err
	case <-time.After(listenPatience):
		t.Fatal("listen did not stop")
		return nil
	}
}

func writeRaw(t *testing.T, dataDir string, seq int) string {
	t.Helper()
	path, err := synth.WriteFile(filepath.Join(dataDir, "mods1b"), synth.Default("mods1b", seq, "1k-2x2"))
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Base(path)
}

// A datagram for a file that is queued or in progress does nothing; quit
// from loopback stops the server, which removes its control files.
func TestListenDuplicatesWhileInProgress(t *testing.T) {
	o := testListenOptions(t)
	a, b := writeRaw(t, o.DataDir, 1), writeRaw(t, o.DataDir, 2)
	fake := newListenFake()
	gate := make(chan struct{})
	fake.gates[a] = gate
	r := startListen(t, o, fake, Deps{})

	r.send(t, "proc /home/data/"+a)
	if got := receive(t, fake.started, "Ensure"); got != a {
		t.Fatalf("Ensure(%s), want %s", got, a)
	}
	r.send(t, "proc /home/data/"+a, "PROC "+a, "proc /elsewhere/"+a)
	r.log.waitFor(t, "already queued or in progress", 3)
	r.send(t, "proc "+b)
	if got := receive(t, fake.started, "Ensure"); got != b {
		t.Fatalf("Ensure(%s), want %s", got, b)
	}
	close(gate)
	r.log.waitFor(t, "delivered", 2)
	if n := fake.count(a); n != 1 {
		t.Errorf("%s ensured %d times, want 1", a, n)
	}

	r.send(t, "quit")
	if err := r.wait(t); err != nil {
		t.Fatalf("listen after quit: %v", err)
	}
	for _, f := range []string{control.StatusFile, control.PidFile} {
		if _, err := os.Stat(filepath.Join(o.StateDir, f)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after a graceful stop: %v", f, err)
		}
	}
}

// quit from a peer not in server.quitPeers is ignored.
func TestListenQuitOnlyFromPeers(t *testing.T) {
	o := testListenOptions(t)
	o.QuitPeers = []string{"192.0.2.1"}
	r := startListen(t, o, newListenFake(), Deps{})
	r.send(t, "quit")
	r.log.waitFor(t, "quit refused: sender not in server.quitPeers", 1)
	select {
	case err := <-r.errc:
		t.Fatalf("listen stopped after a refused quit: %v", err)
	default:
	}
	r.stop()
	if err := r.wait(t); err != nil {
		t.Fatalf("listen after SIGTERM: %v", err)
	}
}

// Garbage is logged and dropped and the server carries on.
func TestListenDropsGarbage(t *testing.T) {
	o := testListenOptions(t)
	good := writeRaw(t, o.DataDir, 1)
	fake := newListenFake()
	r := startListen(t, o, fake, Deps{})
	garbage := []string{"", "   ", "\xff\xfeproc", "hello world", "proc", "proc ../../etc/passwd",
		"proc /home/data/mods1b.20260119.0001.fits.bak", strings.Repeat("proc ", 5000), "quitx"}
	r.send(t, garbage...)
	r.send(t, "proc "+good)
	r.log.waitFor(t, "delivered", 1)
	if n := r.log.count("datagram dropped"); n != len(garbage) {
		t.Errorf("%d datagrams dropped, want %d", n, len(garbage))
	}
	if len(fake.started) != 1 {
		t.Errorf("%d Ensure calls, want 1", len(fake.started))
	}
}

// The queue is bounded: with the workers busy, requests beyond it are
// dropped (the sweep recovers them), not held in memory.
func TestListenQueueBounded(t *testing.T) {
	o := testListenOptions(t)
	o.Jobs, o.Queue = 1, 3
	var names []string
	for i := 1; i <= 6; i++ {
		names = append(names, writeRaw(t, o.DataDir, i))
	}
	fake := newListenFake()
	gate := make(chan struct{})
	fake.gates[names[0]] = gate
	r := startListen(t, o, fake, Deps{})
	r.send(t, "proc "+names[0])
	receive(t, fake.started, "Ensure")
	for _, n := range names[1:] {
		r.send(t, "proc "+n)
	}
	r.log.waitFor(t, "queue full: request dropped; the next sweep delivers the file", 2)
	if len(r.fake.started) != 0 {
		t.Fatal("a second file started with one worker busy")
	}
	close(gate)
	r.log.waitFor(t, "delivered", 4)
	for i, n := range names {
		want := 1
		if i >= 4 {
			want = 0
		}
		if got := fake.count(n); got != want {
			t.Errorf("%s ensured %d times, want %d", n, got, want)
		}
	}
}

// A raw file still being written is retried, not failed, and delivered
// once it is complete.
func TestListenIncompleteRetried(t *testing.T) {
	o := testListenOptions(t)
	name := writeRaw(t, o.DataDir, 1)
	path := filepath.Join(o.DataDir, "mods1b", name)
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, whole[:len(whole)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	fake := newListenFake()
	r := startListen(t, o, fake, Deps{})
	r.send(t, "proc "+name)
	r.log.waitFor(t, "raw file not complete yet; retrying", 3)
	if n := fake.count(name); n != 0 {
		t.Fatalf("an incomplete file was ensured %d times", n)
	}
	if err := os.WriteFile(path, whole, 0o644); err != nil {
		t.Fatal(err)
	}
	r.log.waitFor(t, "delivered", 1)
	if n := fake.count(name); n != 1 {
		t.Errorf("ensured %d times, want 1", n)
	}
}

// A file that stays incomplete is reported, and its request forgotten.
func TestListenIncompleteReported(t *testing.T) {
	o := testListenOptions(t)
	o.Incomplete = Backoff{Initial: time.Millisecond, Max: time.Millisecond, GiveUp: 5 * time.Millisecond}
	name := writeRaw(t, o.DataDir, 1)
	path := filepath.Join(o.DataDir, "mods1b", name)
	if err := os.Truncate(path, 3*2880); err != nil {
		t.Fatal(err)
	}
	fake := newListenFake()
	r := startListen(t, o, fake, Deps{})
	r.send(t, "proc "+name, "proc mods1b.20260119.0042.fits") // the second does not exist at all
	r.log.waitFor(t, "raw file still missing or incomplete; giving up, the next sweep tries again", 2)
	if len(fake.started) != 0 {
		t.Error("an incomplete or missing file was ensured")
	}
	// Forgotten means a new datagram is a new request.
	r.send(t, "proc "+name)
	r.log.waitFor(t, "raw file still missing or incomplete; giving up, the next sweep tries again", 3)
}

// On a stop the file in progress gets the stop timeout, then is abandoned
// (its context ends); the server still exits cleanly.
func TestListenStopTimeout(t *testing.T) {
	o := testListenOptions(t)
	o.StopTimeout = time.Millisecond
	name := writeRaw(t, o.DataDir, 1)
	fake := newListenFake()
	fake.gates[name] = make(chan struct{}) // never opens
	r := startListen(t, o, fake, Deps{})
	r.send(t, "proc "+name)
	receive(t, fake.started, "Ensure")
	r.stop()
	if err := r.wait(t); err != nil {
		t.Fatalf("listen: %v", err)
	}
	if got := receive(t, fake.aborted, "abandoned Ensure"); got != name {
		t.Errorf("abandoned %s", got)
	}
	if r.log.count("stop timeout: abandoning the files in progress; the next start takes them up again") != 1 {
		t.Error("the abandoned file was not reported")
	}
}

// Without a stop timeout in play the file in progress is finished, and
// requests still queued are saved for the next start.
func TestListenStopFinishesInProgress(t *testing.T) {
	o := testListenOptions(t)
	o.Jobs = 1
	a, b := writeRaw(t, o.DataDir, 1), writeRaw(t, o.DataDir, 2)
	fake := newListenFake()
	gate := make(chan struct{})
	fake.gates[a] = gate
	r := startListen(t, o, fake, Deps{})
	r.send(t, "proc "+a, "proc "+b)
	receive(t, fake.started, "Ensure")
	r.send(t, "quit")
	r.log.waitFor(t, "stopping", 1)
	close(gate)
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	if fake.count(a) != 1 || fake.count(b) != 0 {
		t.Errorf("ensured %s %d times and %s %d times, want 1 and 0", a, fake.count(a), b, fake.count(b))
	}
	if len(fake.aborted) != 0 {
		t.Error("the file in progress was abandoned")
	}
	if r.log.count("requests saved for the next start") != 1 {
		t.Error("the queued request was not reported as left over")
	}
	if got := savedRequests(t, o.StateDir); strings.Join(got, " ") != b {
		t.Errorf("requests saved %q, want %q", got, b)
	}
}

// A pending dispatch wakes the retry loop, which also runs once at start-up;
// the sweep runs at start-up.
func TestListenRetriesAndSweeps(t *testing.T) {
	o := testListenOptions(t)
	name := writeRaw(t, o.DataDir, 1)
	fake := newListenFake()
	fake.errs[name] = fmt.Errorf("%s: dispatch: %w", name, deliver.ErrPending)
	swept := make(chan struct{}, 10)
	r := startListen(t, o, fake, Deps{Reconcile: func(context.Context) (time.Time, error) {
		swept <- struct{}{}
		return time.Time{}, nil
	}})
	receive(t, swept, "start-up sweep")
	receive(t, fake.retries, "start-up retry of pending dispatches")
	r.send(t, "proc "+name)
	r.log.waitFor(t, "stored, dispatch pending", 1)
	receive(t, fake.retries, "retry after a pending dispatch")
}

// A second listen on the same state directory refuses to start and names
// the first.
func TestListenSecondInstance(t *testing.T) {
	o := testListenOptions(t)
	startListen(t, o, newListenFake(), Deps{})
	err := Run(context.Background(), o, Deps{Deliverer: newListenFake()})
	if exitcode.Code(err) != exitcode.Locked || !strings.Contains(err.Error(), fmt.Sprintf("(pid %d)", os.Getpid())) {
		t.Fatalf("second listen: %v (exit %d)", err, exitcode.Code(err))
	}
}

// The systemd conversation: READY=1 after the bind, STATUS= with the last
// file, STOPPING=1 at the end.
func TestListenNotifiesSystemd(t *testing.T) {
	sock, msgs := notifySocket(t)
	notify, err := sdnotify.FromEnv(func(k string) (string, bool) {
		if k == "NOTIFY_SOCKET" {
			return sock, true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}

	o := testListenOptions(t)
	name := writeRaw(t, o.DataDir, 1)
	r := startListen(t, o, newListenFake(), Deps{Notify: notify})
	first := receive(t, msgs, "notify message")
	if want := "READY=1\nSTATUS=listening on " + r.addr.String() + "\n"; first != want {
		t.Fatalf("first message %q, want %q", first, want)
	}
	r.send(t, "proc "+name)
	for m := ""; !strings.Contains(m, "last "+name); {
		m = receive(t, msgs, "STATUS naming the last file")
		if !strings.HasPrefix(m, "STATUS=") {
			t.Fatalf("unexpected message %q", m)
		}
	}
	r.send(t, "quit")
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	// The socket holds what was sent before runListen returned.
	for m := ""; !strings.HasPrefix(m, "STOPPING=1\n"); {
		m = receive(t, msgs, "STOPPING=1")
		if !strings.HasPrefix(m, "STATUS=") && !strings.HasPrefix(m, "STOPPING=1\nSTATUS=stopping: quit from 127.0.0.1:") {
			t.Fatalf("unexpected message %q", m)
		}
	}
}

// notifySocket listens as systemd does and returns the messages received.
func notifySocket(t *testing.T) (string, <-chan string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "dmn") // a socket path must fit in 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "notify")
	srv, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	msgs := make(chan string, 100000)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := srv.Read(buf)
			if err != nil {
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	return sock, msgs
}

func waitMessage(t *testing.T, msgs <-chan string, want string) {
	t.Helper()
	for m := ""; m != want; {
		m = receive(t, msgs, want)
	}
}

// The running server pings the watchdog, notices a worker stuck on one file
// (the pings stop: TestListenWatchdogTick), and pings again once it moves on.
func TestListenWatchdog(t *testing.T) {
	sock, msgs := notifySocket(t)
	notify, err := sdnotify.FromEnv(func(k string) (string, bool) {
		v, ok := map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "20000"}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	o := testListenOptions(t)
	name := writeRaw(t, o.DataDir, 1)
	fake := newListenFake()
	gate := make(chan struct{})
	fake.gates[name] = gate
	r := startListen(t, o, fake, Deps{Notify: notify})
	waitMessage(t, msgs, "WATCHDOG=1\n")
	r.send(t, "proc "+name)
	r.log.waitFor(t, "worker stuck; no more watchdog pings", 1)
	close(gate)
	r.log.waitFor(t, "delivered", 1)
	for len(msgs) > 0 {
		<-msgs
	}
	waitMessage(t, msgs, "WATCHDOG=1\n")
}

// The watchdog is pinged while workers make progress and not while one is
// stuck on a file.
func TestListenWatchdogTick(t *testing.T) {
	s := &server{log: slog.New(newListenLog()), busy: make([]busyWorker, 2)}
	now := time.Date(2026, 1, 19, 3, 0, 0, 0, time.UTC)
	limit := 15 * time.Second
	if !s.watchdogTick(now, limit) {
		t.Error("no ping with every worker idle")
	}
	s.busy[0] = busyWorker{file: "mods1b.20260119.0001.fits", since: now.Add(-time.Second)}
	if !s.watchdogTick(now, limit) {
		t.Error("no ping with a worker that just started")
	}
	s.busy[1] = busyWorker{file: "mods1b.20260119.0002.fits", since: now.Add(-limit - time.Second)}
	if s.watchdogTick(now, limit) {
		t.Error("ping with a worker stuck for longer than the limit")
	}
	if s.watchdogTick(now.Add(time.Second), limit) {
		t.Error("ping while still stuck")
	}
	if n := s.log.Handler().(*listenLog).count("worker stuck; no more watchdog pings"); n != 1 {
		t.Errorf("stuck worker reported %d times, want once", n)
	}
	s.busy[1] = busyWorker{}
	if !s.watchdogTick(now.Add(2*time.Second), limit) {
		t.Error("no ping once the stuck worker moved on")
	}
}

func TestIncompleteBackoff(t *testing.T) {
	b := Backoff{Initial: 500 * time.Millisecond, Max: 10 * time.Second}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for tries, w := range want {
		if got := b.delay(tries); got != w {
			t.Errorf("delay(%d) = %v, want %v", tries, got, w)
		}
	}
	if got := b.delay(1 << 30); got != b.Max {
		t.Errorf("delay after very many tries = %v", got)
	}
	// The default gives up after about two minutes of retries.
	var total time.Duration
	tries := 0
	for d := DefaultIncomplete; total+d.delay(tries) <= d.GiveUp; tries++ {
		total += d.delay(tries)
	}
	if tries < 10 || total < time.Minute {
		t.Errorf("default: %d retries over %v before giving up", tries, total)
	}
}

// .status tells dataman status the last frame's time from its datagram to
// its .new.
func TestListenStatusLatency(t *testing.T) {
	o := testListenOptions(t)
	a := writeRaw(t, o.DataDir, 1)
	r := startListen(t, o, newListenFake(), Deps{})
	r.send(t, "proc "+a)
	r.log.waitFor(t, "delivered", 1)
	deadline := time.Now().Add(listenPatience)
	for {
		b, _ := os.ReadFile(filepath.Join(o.StateDir, control.StatusFile))
		_, f, _ := control.ParseStatus(string(b))
		if f["last"] == a {
			if d, err := time.ParseDuration(f["latency"]); err != nil || d <= 0 {
				t.Errorf(".status latency=%q after a delivery", f["latency"])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf(".status never named %s:\n%s", a, b)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
