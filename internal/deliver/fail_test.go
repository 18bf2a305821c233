package deliver

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/obsdata/dataman/internal/ledger"
)

// checkPending checks a dispatch that failed for a reason that may pass: the
// stored copy landed, nothing is in repoDir under a final name, and the
// ledger says pending with the reason.
func (e *env) checkPending(base string, rep Report, err error, cause error) {
	e.t.Helper()
	if !errors.Is(err, ErrPending) || !rep.Pending || !errors.Is(err, cause) {
		e.t.Fatalf("err %v (want pending and %v), report %+v", err, cause, rep)
	}
	if !strings.HasPrefix(err.Error(), base+": dispatch: ") {
		e.t.Errorf("message %q", err)
	}
	if !hasAction(rep, "dispatch pending: ") {
		e.t.Errorf("actions %q", rep.Actions)
	}
	if got := mustRead(e.t, e.storedPath(base)); string(got) != string(e.want(base)) {
		e.t.Fatal("stored copy did not land")
	}
	absent(e.t, e.repoPath(base))
	absent(e.t, e.newPath())
	noTemps(e.t, e.root)
	ev := e.latest(base, ledger.StepDispatch)
	if ev.Status != ledger.StatusPending || ev.Reason == "" || !strings.Contains(err.Error(), ev.Reason) {
		e.t.Fatalf("ledger %+v", ev)
	}
	if st := e.latest(base, ledger.StepStore); st.Status != ledger.StatusOK {
		e.t.Fatalf("store %+v", st)
	}
}

// noSleep is a Backoff that does not wait and records what it was asked.
type noSleep struct {
	mu     sync.Mutex
	asked  []time.Duration
	onCall func(n int)
}

func (s *noSleep) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.asked = append(s.asked, d)
	n := len(s.asked)
	s.mu.Unlock()
	if s.onCall != nil {
		s.onCall(n)
	}
	return ctx.Err()
}

func TestRepoMissingThenRetry(t *testing.T) {
	e := newEnv(t, nil)
	os.Remove(e.RepoDir)
	base := e.raw(1, 5000)
	rep, err := e.d.Ensure(context.Background(), base, Deliver)
	e.checkPending(base, rep, err, fs.ErrNotExist)
	absent(t, e.RepoDir) // never created: it is a mount point

	pending, err := e.d.Pending()
	if err != nil || !slices.Equal(pending, []string{base}) {
		t.Fatalf("Pending() = %v, %v", pending, err)
	}
	s := &noSleep{onCall: func(n int) {
		if n == 4 {
			os.Mkdir(e.RepoDir, 0o755)
		}
	}}
	if err := e.d.RetryPending(context.Background(), Backoff{Initial: time.Second, Max: 4 * time.Second, Sleep: s.sleep}); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}
	if !slices.Equal(s.asked, want) {
		t.Fatalf("slept %v, want %v", s.asked, want)
	}
	e.checkDelivered(base)
	ev := e.latest(base, ledger.StepDispatch)
	if ev.Status != ledger.StatusOK || ev.Attempt != 6 {
		t.Fatalf("ledger after retries: %+v", ev)
	}
	if pending, _ := e.d.Pending(); len(pending) != 0 {
		t.Fatalf("still pending: %v", pending)
	}
	if n := e.cond.calls.Load(); n != 1 {
		t.Fatalf("retries conditioned again (%d)", n)
	}
}

func TestRetryPendingStopsOnCancel(t *testing.T) {
	e := newEnv(t, nil)
	os.Remove(e.RepoDir)
	base := e.raw(1, 500)
	e.d.Ensure(context.Background(), base, Deliver)
	ctx, cancel := context.WithCancel(context.Background())
	s := &noSleep{onCall: func(n int) {
		if n == 2 {
			cancel()
		}
	}}
	err := e.d.RetryPending(ctx, Backoff{Initial: time.Minute, Max: time.Hour, Sleep: s.sleep})
	if !errors.Is(err, context.Canceled) || len(s.asked) != 2 {
		t.Fatalf("err %v after %d sleeps", err, len(s.asked))
	}
	if pending, _ := e.d.Pending(); !slices.Equal(pending, []string{base}) {
		t.Fatalf("pending %v", pending)
	}
}

// RetryPending finds pending dispatches of every channel from the ledgers
// alone, as after a restart.
func TestRetryPendingAfterRestart(t *testing.T) {
	e := newEnv(t, nil)
	os.Remove(e.RepoDir)
	a, b := e.raw(1, 500), e.raw(2, 500)
	e.d.Ensure(context.Background(), a, Deliver)
	e.d.Ensure(context.Background(), b, Deliver)
	os.Mkdir(e.RepoDir, 0o755)
	e.reopen(nil)
	s := &noSleep{}
	if err := e.d.RetryPending(context.Background(), Backoff{Sleep: s.sleep}); err != nil {
		t.Fatal(err)
	}
	if len(s.asked) != 0 {
		t.Fatalf("slept %v with nothing failing", s.asked)
	}
	// In name order, so .new ends on the newest file.
	e.checkDelivered(b)
	if got := string(mustRead(t, e.repoPath(a))); got != string(e.want(a)) {
		t.Fatal("first file not delivered")
	}
}

func repoFault(e *env, op string, errno syscall.Errno) func(string, string) error {
	return func(o, path string) error {
		if o == op && strings.HasPrefix(path, e.RepoDir) {
			return &os.PathError{Op: op, Path: path, Err: errno}
		}
		return nil
	}
}

func TestInjectedReadOnlyRepo(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 5000)
	e.d.fault = repoFault(e, "create", syscall.EROFS)
	rep, err := e.d.Ensure(context.Background(), base, Deliver)
	e.checkPending(base, rep, err, syscall.EROFS)
	e.d.fault = nil
	if err := e.d.RetryPending(context.Background(), Backoff{Sleep: (&noSleep{}).sleep}); err != nil {
		t.Fatal(err)
	}
	e.checkDelivered(base)
}

// ENOSPC half-way through the copy: the temporary is removed and nothing is
// delivered.
func TestInjectedENOSPC(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 3*chunk) // several chunks: the failure comes mid-copy
	var writes atomic.Int32
	e.d.fault = func(op, path string) error {
		if op == "write" && strings.HasPrefix(path, e.RepoDir) && writes.Add(1) == 2 {
			return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
		}
		return nil
	}
	rep, err := e.d.Ensure(context.Background(), base, Deliver)
	e.checkPending(base, rep, err, syscall.ENOSPC)
	e.d.fault = nil
	e.ensure(base, Deliver)
	e.checkDelivered(base)
}

func TestInjectedENOSPCInStore(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 5000)
	e.d.fault = func(op, path string) error {
		if op == "write" && strings.HasPrefix(path, e.ProcDir) {
			return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
		}
		return nil
	}
	_, err := e.d.Ensure(context.Background(), base, Deliver)
	if !errors.Is(err, syscall.ENOSPC) || errors.Is(err, ErrPending) || !strings.HasPrefix(err.Error(), base+": store: ") {
		t.Fatalf("err %v", err)
	}
	// A full store is not the raw file's fault: it is not counted as a
	// raw file that failed to condition.
	if ev := e.latest(base, ledger.StepCondition); ev.Status == ledger.StatusFailed {
		t.Fatalf("a full store recorded as a failed conditioning: %+v", ev)
	}
	absent(t, e.storedPath(base))
	absent(t, e.repoPath(base))
	noTemps(t, e.root)
}

func TestMinFreeGuard(t *testing.T) {
	const huge = 1 << 60
	t.Run("repo", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.Repo.MinFree = huge })
		base := e.raw(1, 5000)
		rep, err := e.d.Ensure(context.Background(), base, Deliver)
		e.checkPending(base, rep, err, syscall.ENOSPC)
		// The dispatch conditions its own copy, so the guard goes by the
		// estimate of a conditioned file's size, three times the raw one.
		want := base + ": dispatch: " + e.RepoDir + ": no space left on device (need 15 kB + 1048576 TiB free, have "
		if !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("message\n %s\nwant prefix\n %s", err, want)
		}
	})
	t.Run("proc", func(t *testing.T) {
		e := newEnv(t, func(o *Options) { o.Proc.MinFree = huge })
		base := e.raw(1, 5000)
		_, err := e.d.Ensure(context.Background(), base, Deliver)
		if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "(need 15 kB + 1048576 TiB free, have ") {
			t.Fatalf("err %v", err)
		}
		if e.cond.calls.Load() != 0 {
			t.Fatal("conditioned although there was no room")
		}
		absent(t, e.storedPath(base))
		absent(t, e.repoPath(base))
		noTemps(t, e.root)
	})
}

// A destination that stops answering (an NFS server gone) must not hold
// Ensure for ever; the operation left blocked must not deliver anything
// when it wakes up; and while it is blocked, later calls do not pile up.
func TestHangingRepo(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Repo.Timeout = 50 * time.Millisecond })
	base := e.raw(1, 5000)
	release := make(chan struct{})
	var hang atomic.Bool
	var creates atomic.Int32
	reached := make(chan struct{})
	hang.Store(true)
	e.d.fault = func(op, path string) error {
		if op == "create" && path == e.RepoDir {
			if creates.Add(1) == 1 {
				close(reached)
			}
			if hang.Load() {
				<-release
			}
		}
		return nil
	}
	rep, err := e.d.Ensure(context.Background(), base, Deliver)
	e.checkPending(base, rep, err, ErrTimeout)
	if !strings.Contains(err.Error(), e.RepoDir+": timed out: no progress for 50ms") {
		t.Fatalf("message %q", err)
	}
	<-reached // on a loaded machine the timeout may fire before the hang

	rep, err = e.d.Ensure(context.Background(), base, Deliver)
	e.checkPending(base, rep, err, ErrTimeout)
	if !strings.Contains(err.Error(), "still blocked") || creates.Load() != 1 {
		t.Fatalf("second call: %v (%d creates)", err, creates.Load())
	}

	hang.Store(false)
	close(release)
	e.d.watcher.BG.Wait()
	entries, _ := os.ReadDir(e.RepoDir)
	if len(entries) != 0 {
		t.Fatalf("the abandoned operation wrote %v", entries)
	}

	e.d.opts.Repo.Timeout = time.Hour
	// The copy cut short is still known as this exposure's, although the
	// latest dispatch event (pending) no longer names it: it is repaired in
	// place, not left under the frame's name beside a renamed copy.
	e.ensure(base, Deliver)
	e.checkDelivered(base)
}

// A repoDir that hangs in the middle of the stream never stops the stored
// copy: the store side, whose own timeout is shorter than the repository's,
// keeps going, the dispatch is dropped after the repository's timeout, and
// the stored copy is committed with its ledger lines.
func TestRepoHangsMidStream(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		// The store's timeout also covers the conditioner, which reads
		// the whole raw file before its first write: under -race that
		// takes tens of milliseconds.
		o.Proc.Timeout = 500 * time.Millisecond
		o.Repo.Timeout = 2 * time.Second
	})
	base := e.raw(1, 6*chunk)
	release := make(chan struct{})
	var writes atomic.Int32
	e.d.fault = func(op, path string) error {
		if op == "write" && filepath.Dir(path) == e.RepoDir && writes.Add(1) == 2 {
			<-release // the second piece never gets there
		}
		return nil
	}
	rep, err := e.ensureWithin(context.Background(), base, "a hung repoDir held up the stored copy")
	close(release)
	e.d.watcher.BG.Wait() // the abandoned write wakes and removes its temporary
	e.checkPending(base, rep, err, ErrTimeout)
	if ev := e.latest(base, ledger.StepStore); !ev.Done() || ev.Dest != e.storedPath(base) {
		t.Fatalf("store: %+v", ev)
	}
}

// ensureWithin delivers base (Deliver) and fails the test with stuck if the
// delivery has not returned within 30 s: for tests of what must not hang.
func (e *env) ensureWithin(ctx context.Context, base, stuck string) (Report, error) {
	e.t.Helper()
	type result struct {
		rep Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := e.d.Ensure(ctx, base, Deliver)
		done <- result{rep, err}
	}()
	select {
	case r := <-done:
		return r.rep, r.err
	case <-time.After(30 * time.Second):
		e.t.Fatal(stuck)
		return Report{}, nil
	}
}

// A stored copy that no longer matches its checksum is never delivered.
func TestDispatchChecksumMismatch(t *testing.T) {
	e := newEnv(t, nil)
	os.Remove(e.RepoDir)
	base := e.raw(1, 5000)
	e.d.Ensure(context.Background(), base, Deliver) // stored, dispatch pending

	// Corrupt the stored copy without changing its size or mtime, so the
	// ledger still vouches for it and only the copy's checksum can tell.
	path := e.storedPath(base)
	fi, _ := os.Stat(path)
	b := mustRead(t, path)
	b[len(b)/2] ^= 0xff
	os.WriteFile(path, b, 0o644)
	os.Chtimes(path, fi.ModTime(), fi.ModTime())
	os.Mkdir(e.RepoDir, 0o755)

	rep, err := e.d.Ensure(context.Background(), base, Deliver)
	if !errors.Is(err, ErrChecksum) || errors.Is(err, ErrPending) || rep.Pending {
		t.Fatalf("err %v, report %+v", err, rep)
	}
	entries, _ := os.ReadDir(e.RepoDir)
	if len(entries) != 0 {
		t.Fatalf("repoDir holds %v after a mismatch", entries)
	}
	if ev := e.latest(base, ledger.StepDispatch); ev.Status != ledger.StatusFailed {
		t.Fatalf("dispatch %+v", ev)
	}
	if ev := e.latest(base, ledger.StepStore); ev.Status != ledger.StatusFailed {
		t.Fatalf("store %+v", ev)
	}
	if pending, _ := e.d.Pending(); len(pending) != 0 {
		t.Fatalf("a mismatch is pending: %v", pending)
	}

	// The next run does not trust the damaged copy: it conditions again
	// and, the ledger knowing that path as this file's own copy, replaces
	// the damaged bytes in place rather than storing around them; what
	// reaches repoDir is the good file.
	rep = e.ensure(base, Deliver)
	if rep.Stored != path || string(mustRead(t, path)) != string(e.want(base)) {
		t.Fatalf("stored at %s, damaged copy not repaired", rep.Stored)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), uniqFor(base))); err == nil {
		t.Fatal("a second copy was stored under the UNIQNAME")
	}
	if got := mustRead(t, e.repoPath(base)); string(got) != string(e.want(base)) {
		t.Fatal("dispatched copy is not the good one")
	}
}

// The dispatched copy is checked against the stored one before its rename:
// a piece that reaches repoDir other than the stored copy got it (a fault of
// the tee, simulated here) delivers nothing to repoDir; the stored copy is
// kept, the dispatch is pending, and the next run copies the stored file.
func TestTeeMismatch(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 3*chunk)
	var once sync.Once
	pieceHook = func(b []byte) { once.Do(func() { b[len(b)/2] ^= 0xff }) }
	defer func() { pieceHook = nil }()
	rep, err := e.d.Ensure(context.Background(), base, Deliver)
	if !errors.Is(err, ErrPending) || !rep.Pending || rep.Dispatched != "" {
		t.Fatalf("err %v, report %+v", err, rep)
	}
	if !strings.HasPrefix(err.Error(), base+": dispatch: the copy written to "+e.RepoDir+" has crc32c ") {
		t.Errorf("message %q", err)
	}
	if got := mustRead(t, e.storedPath(base)); string(got) != string(e.want(base)) {
		t.Fatal("stored copy is not the conditioned file")
	}
	absent(t, e.repoPath(base))
	absent(t, e.newPath())
	noTemps(t, e.root)
	if ev := e.latest(base, ledger.StepDispatch); ev.Status != ledger.StatusPending || !strings.Contains(ev.Reason, "crc32c") {
		t.Errorf("dispatch: %+v", ev)
	}
	pieceHook = nil
	e.ensure(base, Deliver)
	e.checkDelivered(base)
	if n := e.cond.calls.Load(); n != 1 {
		t.Fatalf("conditioned %d times", n)
	}
}

// A reader polling <CHAN>.new every millisecond, as modsDisp does every 2 s,
// never sees it missing (once it exists), empty or partial.
func TestNewFileNeverPartial(t *testing.T) {
	e := newEnv(t, nil)
	var names []string
	for i := 1; i <= 100; i++ {
		names = append(names, e.raw(i, 300))
	}
	valid := map[string]bool{}
	for _, n := range names {
		valid[n+"\n"] = true
	}
	stop := make(chan struct{})
	var bad []string
	var reads int
	var wg sync.WaitGroup
	wg.Go(func() {
		seen := false
		for {
			select {
			case <-stop:
				return
			default:
			}
			b, err := os.ReadFile(e.newPath())
			switch {
			case errors.Is(err, fs.ErrNotExist):
				if seen {
					bad = append(bad, "missing")
				}
			case err != nil:
				bad = append(bad, err.Error())
			case !valid[string(b)]:
				bad = append(bad, string(b))
			default:
				seen = true
				reads++
			}
			time.Sleep(time.Millisecond)
		}
	})
	for _, n := range names {
		e.ensure(n, Deliver)
		if got := string(mustRead(t, e.newPath())); got != n+"\n" {
			t.Fatalf(".new = %q after delivering %s", got, n)
		}
	}
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("reader saw %d bad states, first %q", len(bad), bad[0])
	}
	if reads == 0 {
		t.Fatal("the reader never read the file")
	}
	t.Logf("%d good reads", reads)
	noTemps(t, e.root)
}

// mountTmpfs mounts a tmpfs at dir for the test, or skips it where the
// machine does not allow mounting.
func mountTmpfs(t *testing.T, dir, opts string) {
	t.Helper()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { unmount(t, dir) })
}

func unmount(t *testing.T, dir string) {
	t.Helper()
	// Idempotent: the test may have unmounted already.
	if err := syscall.Unmount(dir, 0); err != nil && !errors.Is(err, syscall.EINVAL) {
		t.Errorf("unmount %s: %v", dir, err)
	}
}

// A real full disk: a 1 MiB tmpfs as repoDir, and a 1.5 MB file.
func TestRealFullRepo(t *testing.T) {
	e := newEnv(t, nil)
	mountTmpfs(t, e.RepoDir, "size=1m")
	base := e.raw(1, 1_500_000)
	rep, err := e.d.Ensure(context.Background(), base, Deliver)
	e.checkPending(base, rep, err, syscall.ENOSPC)

	// The disk "comes back" larger; the retry delivers.
	unmount(t, e.RepoDir)
	mountTmpfs(t, e.RepoDir, "size=8m")
	if err := e.d.RetryPending(context.Background(), Backoff{Sleep: (&noSleep{}).sleep}); err != nil {
		t.Fatal(err)
	}
	e.checkDelivered(base)
}

// The guard on a real statfs: a 1 MiB tmpfs cannot keep 2 MiB free.
func TestRealMinFree(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Repo.MinFree = 2 << 20 })
	mountTmpfs(t, e.RepoDir, "size=1m")
	base := e.raw(1, 5000)
	rep, err := e.d.Ensure(context.Background(), base, Deliver)
	e.checkPending(base, rep, err, syscall.ENOSPC)
	// The estimate of a conditioned file's size, three times the raw one.
	if !strings.Contains(err.Error(), "(need 15 kB + 2 MiB free, have 1 MiB)") {
		t.Fatalf("message %q", err)
	}
}

// A real read-only repoDir. Root ignores file modes, but not a read-only
// mount.
func TestRealReadOnlyRepo(t *testing.T) {
	e := newEnv(t, nil)
	mountTmpfs(t, e.RepoDir, "ro,size=1m")
	base := e.raw(1, 5000)
	rep, err := e.d.Ensure(context.Background(), base, Deliver)
	e.checkPending(base, rep, err, syscall.EROFS)
}

// TestRepairsOwnDamagedCopy: a dispatched copy of ours that rotted (same
// size and time) is replaced under its own name, whatever the collision
// policy, once the ledger no longer vouches for it; a stranger's file under
// the name is still never overwritten under PolicyRename.
func TestRepairsOwnDamagedCopy(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 5000)
	e.ensure(base, Deliver)
	repo := e.repoPath(base)
	fi, _ := os.Stat(repo)
	b := mustRead(t, repo)
	b[100] ^= 0xff
	os.WriteFile(repo, b, 0o644)
	os.Chtimes(repo, fi.ModTime(), fi.ModTime().Add(time.Second)) // changed mtime: the ledger no longer vouches
	rep := e.ensure(base, Deliver)
	if rep.Dispatched != repo || string(mustRead(t, repo)) != string(e.want(base)) {
		t.Fatalf("damaged copy not repaired in place: %+v", rep)
	}
	entries, _ := os.ReadDir(e.RepoDir)
	for _, en := range entries {
		if strings.HasPrefix(en.Name(), "mods1b.") && en.Name() != base {
			t.Fatalf("extra copy %s left in repoDir", en.Name())
		}
	}
}

// TestNewNeverGoesBack: dispatching an older frame after a newer one leaves
// <CHAN>.new naming the newer frame.
func TestNewNeverGoesBack(t *testing.T) {
	e := newEnv(t, nil)
	older, newer := e.raw(1, 3000), e.raw(2, 3000)
	e.ensure(newer, Deliver)
	rep := e.ensure(older, Deliver)
	if got := strings.TrimSpace(string(mustRead(t, e.newPath()))); got != newer {
		t.Fatalf(".new names %s after backfilling %s, want %s", got, older, newer)
	}
	if !strings.Contains(strings.Join(rep.Actions, ";"), "kept") {
		t.Fatalf("actions %q do not say .new was kept", rep.Actions)
	}
	newest := e.raw(3, 3000)
	e.ensure(newest, Deliver)
	if got := strings.TrimSpace(string(mustRead(t, e.newPath()))); got != newest {
		t.Fatalf(".new names %s, want %s", got, newest)
	}
}

// TestNewUnderConcurrency: many frames of one channel dispatched at once,
// as with jobs > 1, leave <CHAN>.new naming the newest of them.
func TestNewUnderConcurrency(t *testing.T) {
	for round := 0; round < 5; round++ {
		e := newEnv(t, nil)
		var names []string
		for seq := 1; seq <= 8; seq++ {
			names = append(names, e.raw(seq, 2000))
		}
		var wg sync.WaitGroup
		for _, n := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := e.d.Ensure(context.Background(), n, Deliver); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if got := strings.TrimSpace(string(mustRead(t, e.newPath()))); got != names[len(names)-1] {
			t.Fatalf("round %d: .new names %s, want the newest %s", round, got, names[len(names)-1])
		}
	}
}

// TestNewAfterCollision: once .new names a UNIQNAME (the frame's own name
// was taken by another file), an older frame still cannot replace it.
func TestNewAfterCollision(t *testing.T) {
	e := newEnv(t, nil)
	older, newer := e.raw(1, 3000), e.raw(2, 3000)
	// A stranger's file under the newer frame's name in repoDir.
	os.WriteFile(e.repoPath(newer), []byte("somebody else's file"), 0o644)
	rep := e.ensure(newer, Deliver)
	uniq := filepath.Base(rep.Dispatched)
	if uniq == newer {
		t.Fatalf("collision not renamed: %+v", rep)
	}
	if got := strings.TrimSpace(string(mustRead(t, e.newPath()))); got != uniq {
		t.Fatalf(".new names %s, want the delivered %s", got, uniq)
	}
	e.ensure(older, Deliver)
	if got := strings.TrimSpace(string(mustRead(t, e.newPath()))); got != uniq {
		t.Fatalf(".new names %s after backfilling %s, want it kept at %s", got, older, uniq)
	}
}

// TestMovedRepoDir: a delivery recorded in another repoDir than the
// configured one is not taken as done: the file is dispatched again, to
// where the configuration now says.
func TestMovedRepoDir(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 3000)
	e.ensure(base, Deliver)
	moved := filepath.Join(t.TempDir(), "newdata2")
	os.Mkdir(moved, 0o755)
	e.reopen(func(o *Options) { o.RepoDir = moved })
	rep := e.ensure(base, Deliver)
	if rep.Already || rep.Dispatched != filepath.Join(moved, base) {
		t.Fatalf("not dispatched to the new repoDir: %+v", rep)
	}
	if string(mustRead(t, filepath.Join(moved, base))) != string(e.want(base)) {
		t.Fatal("wrong content in the new repoDir")
	}
}

// A delivery cut short by its context (listen stopping) is not the raw
// file's fault: no failed conditioning is recorded, nothing is left behind,
// and the next run delivers the frame at once instead of waiting for the
// retry of a raw file that failed.
func TestCancelMidStream(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 3*chunk)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var writes atomic.Int32
	e.d.fault = func(op, path string) error {
		if op == "write" && strings.HasPrefix(path, e.ProcDir) && writes.Add(1) == 5 {
			cancel()
		}
		return nil
	}
	rep, err := e.ensureWithin(ctx, base, "a cancelled delivery did not return")
	e.d.watcher.BG.Wait()
	if !errors.Is(err, context.Canceled) || rep.Failed || !strings.HasPrefix(err.Error(), base+": ") {
		t.Fatalf("err %v, report %+v", err, rep)
	}
	if ev := e.latest(base, ledger.StepCondition); ev.Status == ledger.StatusFailed {
		t.Fatalf("a cancelled delivery recorded as a failed conditioning: %+v", ev)
	}
	absent(t, e.storedPath(base))
	absent(t, e.repoPath(base))
	absent(t, e.newPath())
	noTemps(t, e.root)

	e.d.fault = nil
	e.ensure(base, Deliver)
	e.checkDelivered(base)
}

// A store folder that stalls is not the raw file's fault: the stall is
// recorded as a failed store, the raw file is not counted as failed, and
// once the folder answers again the next run delivers it.
func TestStoreStallIsNotARawFault(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Proc.Timeout = 200 * time.Millisecond })
	base := e.raw(1, 3*chunk)
	release := make(chan struct{})
	var once sync.Once
	e.d.fault = func(op, path string) error {
		if op == "write" && filepath.Dir(path) == filepath.Dir(e.storedPath(base)) {
			once.Do(func() { <-release })
		}
		return nil
	}
	rep, err := e.ensureWithin(context.Background(), base, "a stalled store folder held the delivery")
	if !errors.Is(err, ErrTimeout) || rep.Failed || !strings.HasPrefix(err.Error(), base+": store: ") {
		t.Fatalf("err %v, report %+v", err, rep)
	}
	if ev := e.latest(base, ledger.StepStore); ev.Status != ledger.StatusFailed || !strings.Contains(ev.Reason, "timed out") {
		t.Fatalf("store: %+v", ev)
	}
	if ev := e.latest(base, ledger.StepCondition); ev.Status == ledger.StatusFailed {
		t.Fatalf("the stall was counted against the raw file: %+v", ev)
	}
	close(release)
	e.d.watcher.BG.Wait()
	e.d.fault = nil
	e.ensure(base, Deliver)
	e.checkDelivered(base)
}

// TestAbandonedDispatchLeavesTheJobAlone: a dispatch side abandoned after
// the repository's timeout that wakes up later, in the middle of choosing a
// name, still asks whether the copy there is the job's own; by then the job
// has recorded its ledger lines and returned its report. It must find the
// job's state behind its lock and add nothing to the report (run with -race:
// the hang is a sleep, so nothing orders the two goroutines but that lock),
// and it commits nothing.
func TestAbandonedDispatchLeavesTheJobAlone(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 5000)
	e.ensure(base, Deliver)
	repo := e.repoPath(base)
	short := e.cutShort(repo) // our own copy: ownDamaged is asked without hashing
	e.d.opts.Repo.Timeout = 50 * time.Millisecond
	var stats atomic.Int32
	woke := make(chan struct{})
	e.d.fault = func(op, path string) error {
		// The first stat of the copy is the judge's, the second the
		// dispatch side's, choosing its name.
		if op == "stat" && path == repo && stats.Add(1) == 2 {
			time.Sleep(300 * time.Millisecond) // past the timeout; no channel from the test
			defer close(woke)
		}
		return nil
	}
	rep, err := e.d.Ensure(context.Background(), base, Deliver)
	if !errors.Is(err, ErrPending) || !errors.Is(err, ErrTimeout) || !rep.Pending {
		t.Fatalf("err %v (want pending and timed out), report %+v", err, rep)
	}
	if ev := e.latest(base, ledger.StepDispatch); ev.Status != ledger.StatusPending {
		t.Fatalf("ledger %+v", ev)
	}
	actions := strings.Join(rep.Actions, "\n")
	select {
	case <-woke:
	case <-time.After(10 * time.Second):
		t.Fatal("the hung dispatch never woke")
	}
	e.d.watcher.BG.Wait()
	if strings.Contains(actions, "replacing damaged copy") {
		t.Fatalf("the report names a repair the abandoned side made after the job: %s", actions)
	}
	if got := mustRead(t, repo); len(got) != short {
		t.Fatalf("the abandoned dispatch side wrote %s (%d bytes)", repo, len(got))
	}
	e.d.fault = nil
	e.d.opts.Repo.Timeout = time.Hour
	// The copy cut short is still known as this exposure's, although the
	// latest dispatch event (pending) no longer names it: it is repaired in
	// place, not left under the frame's name beside a renamed copy.
	e.ensure(base, Deliver)
	e.checkDelivered(base)
}

// TestAbandonedSideReportsNoRepair: a dispatch side abandoned after the
// repository's timeout that wakes while the job is still storing, and then
// finds our own damaged copy under the name, commits nothing: the report
// must not say that copy is being replaced.
func TestAbandonedSideReportsNoRepair(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 5000)
	e.ensure(base, Deliver)
	repo := e.repoPath(base)
	short := e.cutShort(repo)     // our copy
	os.Remove(e.storedPath(base)) // so the frame is conditioned again, in one pass
	e.d.opts.Repo.Timeout = 50 * time.Millisecond
	var stats atomic.Int32
	e.d.fault = func(op, path string) error {
		switch {
		case op == "stat" && path == repo && stats.Add(1) == 2:
			time.Sleep(200 * time.Millisecond) // the dispatch side, choosing its name, past its timeout
		case op == "sync" && strings.HasPrefix(path, e.ProcDir):
			time.Sleep(500 * time.Millisecond) // the job is still storing when it wakes
		}
		return nil
	}
	rep, err := e.d.Ensure(context.Background(), base, Deliver)
	if !errors.Is(err, ErrPending) || !errors.Is(err, ErrTimeout) {
		t.Fatalf("err %v, report %+v", err, rep)
	}
	e.d.watcher.BG.Wait()
	if hasAction(rep, "replacing damaged copy") {
		t.Fatalf("the report names a repair nobody made: %q", rep.Actions)
	}
	if got := mustRead(t, repo); len(got) != short {
		t.Fatalf("%s was written (%d bytes)", repo, len(got))
	}
}

// TestSlowRepoDoesNotHoldTheStore: a /newdata that takes every piece, but
// slowly, is no stall; once the stored copy has waited delivery.repo.timeout
// for it in all, the dispatch side is dropped, the stored copy is finished
// alone, and the /newdata copy is then made by copying it.
func TestSlowRepoDoesNotHoldTheStore(t *testing.T) {
	// 500 ms: under -race the conditioner's first read of the raw file
	// alone can take a third of it.
	e := newEnv(t, func(o *Options) { o.Repo.Timeout = 500 * time.Millisecond })
	base := e.raw(1, 20*chunk)
	var slowed atomic.Int32
	e.d.fault = func(op, path string) error {
		if op == "write" && strings.HasPrefix(path, e.RepoDir) {
			slowed.Add(1)
			time.Sleep(15 * time.Millisecond) // alive: 15 ms a piece, well within the stall timeout; 4.8 s for the frame
		}
		return nil
	}
	rep, err := e.d.Ensure(context.Background(), base, Deliver)
	if err != nil {
		t.Fatalf("%v; report %+v", err, rep)
	}
	if !hasAction(rep, "repoDir slow: the stored copy was made first, then copied") {
		t.Fatalf("the dispatch side was never dropped (%d slow writes): %q", slowed.Load(), rep.Actions)
	}
	e.checkDelivered(base)
	if ev := e.latest(base, ledger.StepDispatch); ev.Status != ledger.StatusOK {
		t.Fatalf("dispatch %+v", ev)
	}
}
