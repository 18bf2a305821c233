package sweep

import (
	"github.com/obsdata/dataman/internal/testtree"

	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/ledger"
)

// tempIn makes a temporary file as atomicfile names them, from a writer on
// another host (so only its age counts), with the given age.
func tempIn(t *testing.T, dir, name string, age time.Duration) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "."+name+".4242.deadbeef01234567.dmtmp")
	if err := os.WriteFile(path, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-age)
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
	return path
}

func touch(t *testing.T, path string) {
	t.Helper()
	at := time.Now().Add(time.Minute)
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

// One sweep repairs every kind of damage, through the delivery path; a dry
// run before it changes nothing; a sweep after it has nothing to do and
// reads no file.
func TestSweepRepairsANight(t *testing.T) {
	n := newTestNight(t)
	n.addRaw(40, 8192)
	n.deliver(seqRange(1, 30)...) // the datagrams of 31..40 were lost
	os.Remove(n.newdata(1))
	os.Remove(n.newdata(2))
	corrupt(t, n.newdata(3))
	if err := os.Truncate(n.newdata(4), 100); err != nil {
		t.Fatal(err)
	}
	os.Remove(n.stored(5))
	corrupt(t, n.stored(6))
	touch(t, n.newdata(7)) // content intact: only the ledger's mtime is out of date
	touch(t, n.stored(8))
	os.Remove(filepath.Join(n.lay.DataDir, "mods1b", rawName(9))) // copies intact
	os.Remove(filepath.Join(n.lay.DataDir, "mods1b", rawName(10)))
	os.Remove(n.newdata(10))
	staleRepo := tempIn(t, n.lay.RepoDir, rawName(11), 2*time.Hour)
	staleProc := tempIn(t, filepath.Join(n.lay.ProcDir, night), rawName(12), 2*time.Hour)
	fresh := tempIn(t, n.lay.RepoDir, rawName(13), time.Minute) // a write in progress elsewhere

	before := testtree.State(t, n.root)
	dry := n.opts()
	dry.DryRun = true
	plan := n.run(dry)
	if after := testtree.Changes(before, testtree.State(t, n.root)); len(after) != 0 {
		t.Fatal("a dry run changed the tree")
	}
	if _, err := os.Stat(filepath.Join(n.lay.StateDir, LockName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a dry run made the lock file: %v", err)
	}
	want := "clean=2 store=13 dispatch=4 redispatch=2 lost=2"
	if got := kinds(plan); got != want {
		t.Fatalf("dry run plans %s, want %s\n%v", got, want, plan.Actions)
	}
	for _, r := range plan.Actions {
		if r.Status != Planned {
			t.Errorf("dry run: %s %s has status %s", r.Kind, r.File, r.Status)
		}
	}

	sum := n.run(n.opts())
	if got := kinds(sum); got != want || sum.Failed != 0 || len(sum.Problems) != 0 {
		t.Fatalf("sweep did %s (want %s), %d failed, problems %q", got, want, sum.Failed, sum.Problems)
	}
	for _, r := range sum.Actions {
		if r.Status != OK {
			t.Errorf("%s %s: %s %s", r.Kind, r.File, r.Status, r.Error)
		}
	}
	n.checkDelivered(40, 9, 10)
	for _, p := range []string{staleRepo, staleProc} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stale temporary %s is still there", p)
		}
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("the temporary of a write in progress was removed: %v", err)
	}

	conditioned := n.cond.calls.Load()
	count := &countingFS{}
	o := n.opts()
	o.FS = count
	again := n.run(o)
	if len(again.Actions) != 0 || len(again.Problems) != 0 {
		t.Fatalf("second sweep plans %v, problems %q", again.Actions, again.Problems)
	}
	if !slices.Equal(again.KnownLost, []string{rawName(9), rawName(10)}) {
		t.Errorf("second sweep knows as lost %q", again.KnownLost)
	}
	if c := count.opens.Load(); c != 0 || n.cond.calls.Load() != conditioned {
		t.Errorf("second sweep opened %d files %q and conditioned %d", c, count.paths, n.cond.calls.Load()-conditioned)
	}
}

func (n *testNight) opts() Options {
	o := n.options()
	o.Lock = NewLock(n.lay.StateDir)
	return o
}

func seqRange(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// checkDelivered checks what verify would: every file stored and dispatched
// under its own name with the checksum the ledger recorded, and no other
// FITS file in the store or newdata (a damaged copy replaced, not renamed
// around). Lost raw files are still delivered from their stored copies.
func (n *testNight) checkDelivered(count int, lost ...int) {
	t := n.t.(*testing.T)
	t.Helper()
	events, _, err := ledger.ReadChannel(n.lay.StateDir, "mods1b")
	if err != nil {
		t.Fatal(err)
	}
	state := map[string]map[string]ledger.Event{}
	for _, ev := range events {
		if state[ev.File] == nil {
			state[ev.File] = map[string]ledger.Event{}
		}
		state[ev.File][ev.Step] = ev
	}
	for seq := 1; seq <= count; seq++ {
		st, dp := state[rawName(seq)][ledger.StepStore], state[rawName(seq)][ledger.StepDispatch]
		if !st.Done() || !dp.Done() || st.Dest != n.stored(seq) || dp.Dest != n.newdata(seq) {
			t.Errorf("%s: ledger store %+v dispatch %+v", rawName(seq), st, dp)
			continue
		}
		if s, d := sha(t, n.stored(seq)), sha(t, n.newdata(seq)); s != st.OutSHA256 || d != st.OutSHA256 || dp.OutSHA256 != st.OutSHA256 {
			t.Errorf("%s: stored sha256 %s, newdata %s, ledger %s", rawName(seq), s, d, st.OutSHA256)
		}
		for _, p := range []string{n.stored(seq), n.newdata(seq)} {
			if fi, err := os.Stat(p); err != nil || fi.ModTime().UnixNano() == 0 {
				t.Errorf("%s: %v", p, err)
			}
		}
	}
	for seq := range lost {
		if state[rawName(lost[seq])][ledger.StepSweep].Status != ledger.StatusLost {
			t.Errorf("%s: not recorded as lost", rawName(lost[seq]))
		}
	}
	for _, dir := range []string{filepath.Join(n.lay.ProcDir, night), n.lay.RepoDir} {
		fits, _ := filepath.Glob(filepath.Join(dir, "*.fits"))
		if len(fits) != count {
			t.Errorf("%s holds %d FITS files, want %d", dir, len(fits), count)
		}
	}
	last, err := os.ReadFile(filepath.Join(n.lay.RepoDir, "MODS1B.new"))
	if err != nil || !strings.HasSuffix(string(last), ".fits\n") {
		t.Errorf("MODS1B.new: %q, %v", last, err)
	}
}

// A sweep over an intact night opens no file, and one whose copy was touched
// reads that copy and nothing else: the counter does count.
func TestNoopSweepOpensNoData(t *testing.T) {
	n := newTestNight(t)
	n.addRaw(20, 4096)
	n.deliver(seqRange(1, 20)...)
	count := &countingFS{}
	o := n.opts()
	o.FS = count
	if sum := n.run(o); len(sum.Actions) != 0 || count.opens.Load() != 0 {
		t.Fatalf("no-op sweep: actions %v, opened %q", sum.Actions, count.paths)
	}
	touch(t, n.newdata(5))
	if sum := n.run(o); kinds(sum) != "dispatch=1" || !slices.Equal(count.paths, []string{n.newdata(5)}) {
		t.Fatalf("after a touch: %s, opened %q", kinds(sum), count.paths)
	}
	count.paths = nil
	if sum := n.run(o); len(sum.Actions) != 0 || len(count.paths) != 0 {
		t.Fatalf("after the touch was recorded: actions %v, opened %q", sum.Actions, count.paths)
	}
}

// A sweep that finds the lock held does nothing and says who holds it.
func TestSweepLockHeld(t *testing.T) {
	n := newTestNight(t)
	n.addRaw(2, 1024)
	other := NewLock(n.lay.StateDir)
	if err := other.Acquire(context.Background(), 0, nil); err != nil {
		t.Fatal(err)
	}
	defer other.Release()
	before := testtree.State(t, n.root)
	_, err := Run(context.Background(), n.opts())
	var held *HeldError
	if !errors.As(err, &held) || held.PID != os.Getpid() {
		t.Fatalf("sweep with the lock held: %v", err)
	}
	if c := testtree.Changes(before, testtree.State(t, n.root)); len(c) != 0 {
		t.Error("a sweep that did not get the lock changed the tree")
	}
}

// With repoDir gone (an NFS share not mounted) the files are still stored,
// their dispatch is pending and counted as failed; once it is back the next
// sweep dispatches them.
func TestSweepRepoDown(t *testing.T) {
	n := newTestNight(t)
	n.addRaw(3, 1024)
	if err := os.Remove(n.lay.RepoDir); err != nil {
		t.Fatal(err)
	}
	sum := n.run(n.opts())
	if kinds(sum) != "store=3" || sum.Failed != 3 || len(sum.Problems) != 1 || !strings.Contains(sum.Problems[0], n.lay.RepoDir) {
		t.Fatalf("repo down: %s, %d failed, problems %q", kinds(sum), sum.Failed, sum.Problems)
	}
	for _, r := range sum.Actions {
		if r.Status != Pending {
			t.Errorf("%s: %s %s", r.File, r.Status, r.Error)
		}
	}
	if err := os.Mkdir(n.lay.RepoDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if sum := n.run(n.opts()); kinds(sum) != "dispatch=3" || sum.Failed != 0 {
		t.Fatalf("repo back: %s, %d failed: %v", kinds(sum), sum.Failed, sum.Actions)
	}
	n.checkDelivered(3)
	if sum := n.run(n.opts()); len(sum.Actions) != 0 {
		t.Fatalf("third sweep: %v", sum.Actions)
	}
}

// stallFS blocks on anything in repoDir, like a hard NFS mount whose server
// is gone.
type stallFS struct {
	OSFS
	repo    string
	release chan struct{}
}

func (s stallFS) Stat(path string) (fs.FileInfo, error) {
	if strings.HasPrefix(path, s.repo) {
		<-s.release
	}
	return s.OSFS.Stat(path)
}

// A hung repoDir costs the sweep its timeout, not its life: what can be done
// locally is done and the problem is reported.
func TestSweepRepoHangs(t *testing.T) {
	n := newTestNight(t)
	n.addRaw(2, 1024)
	n.deliver(1)
	os.Remove(n.stored(1))
	release := make(chan struct{})
	defer close(release)
	o := n.opts()
	o.FS = stallFS{repo: n.lay.RepoDir, release: release}
	o.RepoTimeout = 200 * time.Millisecond
	sum := n.run(o)
	if kinds(sum) != "store=2" || len(sum.Problems) != 1 || !strings.Contains(sum.Problems[0], "timed out") {
		t.Fatalf("hung repo: %s, problems %q", kinds(sum), sum.Problems)
	}
	// Sweeping again, as listen does every few minutes, while the mount
	// stays dead: no more blocked goroutines, and no second timeout.
	before := runtime.NumGoroutine()
	for range 5 {
		start := time.Now()
		sum := n.run(o)
		if len(sum.Problems) == 0 || time.Since(start) > 5*time.Second {
			t.Fatalf("sweep over a dead repoDir: problems %q after %s", sum.Problems, time.Since(start))
		}
	}
	if after := runtime.NumGoroutine(); after > before+2 {
		t.Fatalf("goroutines grew from %d to %d over five sweeps", before, after)
	}
}

// Raw files younger than the minimum age are left to the datagram path.
func TestSweepDefersYoungFiles(t *testing.T) {
	n := newTestNight(t)
	n.addRaw(2, 1024)
	now := time.Now()
	os.Chtimes(filepath.Join(n.lay.DataDir, "mods1b", rawName(2)), now, now)
	sum := n.run(n.opts())
	if kinds(sum) != "store=1" || !slices.Equal(sum.Deferred, []string{rawName(2)}) {
		t.Fatalf("%s, deferred %q", kinds(sum), sum.Deferred)
	}
	if _, err := os.Stat(n.newdata(2)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a young file was delivered: %v", err)
	}
}

// Only the nights in scope are looked at.
func TestSweepScope(t *testing.T) {
	n := newTestNight(t)
	n.addRaw(2, 1024)
	o := n.opts()
	o.Nights = []string{"20260118", "20260120"}
	if sum := n.run(o); len(sum.Actions) != 0 {
		t.Fatalf("sweep of other nights: %v", sum.Actions)
	}
	// The default scope is around now, far from 20260119.
	o.Nights = nil
	o.Now = func() time.Time { return time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC) }
	if sum := n.run(o); len(sum.Actions) != 0 || !slices.Equal(sum.Nights, []string{"20261122", "20261123", "20261124"}) {
		t.Fatalf("default scope: nights %q, actions %v", sum.Nights, sum.Actions)
	}
}

// cancelling wraps a Deliverer and cancels the sweep's context during its
// first Ensure, as SIGTERM would in the middle of a delivery.
type cancelling struct {
	Deliverer
	cancel context.CancelFunc
	calls  int
}

func (c *cancelling) Ensure(ctx context.Context, name string, how deliver.Mode) (deliver.Report, error) {
	c.calls++
	c.cancel()
	return c.Deliverer.Ensure(ctx, name, how)
}

// Once the context ends no new action starts, but the one under way is
// finished, not left half done.
func TestSweepStopsBetweenActions(t *testing.T) {
	n := newTestNight(t)
	n.addRaw(3, 1024)
	ctx, cancel := context.WithCancel(context.Background())
	o := n.opts()
	d := &cancelling{Deliverer: n.d, cancel: cancel}
	o.Deliverer = d
	sum, err := Run(ctx, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	var got []Status
	for _, r := range sum.Actions {
		got = append(got, r.Status)
	}
	if !slices.Equal(got, []Status{OK, Planned, Planned}) || d.calls != 1 || sum.Failed != 2 {
		t.Fatalf("statuses %v after %d deliveries, %d failed", got, d.calls, sum.Failed)
	}
	if _, err := os.Stat(n.newdata(1)); err != nil {
		t.Errorf("the delivery under way was not finished: %v", err)
	}
	n.d.Close()
	// The next sweep does the rest.
	o.Deliverer = n.deliverer()
	if sum := n.run(o); kinds(sum) != "store=2" || sum.Failed != 0 {
		t.Fatalf("next sweep: %s, %d failed", kinds(sum), sum.Failed)
	}
}
