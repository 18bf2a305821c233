package deliver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/obsdata/dataman/internal/ledger"
)

// replaceRaw puts another exposure under base's name, of the same size,
// with an mtime of its own, as azcam does when it reuses a number.
func (e *env) replaceRaw(base string, size int, seed string) {
	e.t.Helper()
	path := filepath.Join(e.DataDir, "mods1b", base)
	os.Remove(path)
	if err := os.WriteFile(path, rawBytes(seed, size), 0o444); err != nil {
		e.t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	os.Chtimes(path, later, later)
}

// A new exposure under a delivered name is delivered, under the collision
// policy, and the ledger keeps both; the first exposure's copies stay.
func TestNewExposureUnderADeliveredName(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 4000)
	e.ensure(base, Deliver|Announced)
	first := mustRead(t, e.repoPath(base))

	e.replaceRaw(base, 4000, "another exposure")
	rep := e.ensure(base, Deliver|Announced)
	if rep.Already || filepath.Base(rep.Stored) != uniqFor(base) || filepath.Base(rep.Dispatched) != uniqFor(base) {
		t.Fatalf("second exposure: %+v", rep)
	}
	if got := mustRead(t, e.repoPath(base)); string(got) != string(first) {
		t.Fatal("the first exposure's copy was replaced")
	}
	if got := mustRead(t, rep.Dispatched); string(got) != string(e.want(base)) {
		t.Fatal("the second exposure's copy is not its conditioning")
	}
	if got := strings.TrimSpace(string(mustRead(t, e.newPath()))); got != uniqFor(base) {
		t.Fatalf(".new names %s, want the new exposure %s", got, uniqFor(base))
	}
	l, err := ledger.OpenReadOnly(e.StateDir, "mods1b")
	if err != nil {
		t.Fatal(err)
	}
	gens, cur := l.Generations(base)
	if len(gens) != 2 || cur != 1 || gens[0].Steps[ledger.StepStore].Dest != e.storedPath(base) ||
		gens[1].Steps[ledger.StepStore].Dest != rep.Stored || gens[0].RawSHA256 == gens[1].RawSHA256 {
		t.Fatalf("generations %+v, current %d", gens, cur)
	}
	// And it is now delivered: asked again, nothing is done.
	if rep := e.ensure(base, Deliver); !rep.Already {
		t.Fatalf("third time: %+v", rep)
	}
}

// A raw file touched but not changed is the same exposure: its new mtime is
// recorded once, and nothing is conditioned again.
func TestRawTouched(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 4000)
	e.ensure(base, Deliver)
	calls := e.cond.calls.Load()
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(e.DataDir, "mods1b", base), later, later)
	if rep := e.ensure(base, Deliver); !rep.Already || e.cond.calls.Load() != calls {
		t.Fatalf("touched raw file: %+v, %d conditionings", rep, e.cond.calls.Load()-calls)
	}
	ev := e.latest(base, ledger.StepIdentify)
	if ev.RawMTime != later.UnixNano() {
		t.Fatalf("identify event %+v", ev)
	}
	e.ensure(base, Deliver)
	n := 0
	for _, ev := range e.events(base) {
		if ev.Step == ledger.StepIdentify {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d identify events, want 1", n)
	}
}

// A copy the archive took from /newdata is not sent again, unless asked;
// without a consumer it is.
func TestTakenCopy(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Consumed = true })
	base := e.raw(1, 3000)
	e.ensure(base, Deliver)
	os.Remove(e.repoPath(base))
	if rep := e.ensure(base, Deliver); !rep.Already || !strings.Contains(strings.Join(rep.Actions, ";"), "took") {
		t.Fatalf("taken copy: %+v", rep)
	}
	absent(t, e.repoPath(base))
	if rep := e.ensure(base, DispatchOnly|Redeliver); rep.Already {
		t.Fatalf("redeliver: %+v", rep)
	}
	e.checkDelivered(base)

	e.reopen(func(o *Options) { o.Consumed = false })
	os.Remove(e.repoPath(base))
	if rep := e.ensure(base, Deliver); rep.Already {
		t.Fatalf("no consumer: %+v", rep)
	}
	e.checkDelivered(base)
}

// A frame the camera server announces is the newest: neither a wrong date
// in a name nor a sequence reset freezes .new, and a backfill never moves
// it back.
func TestNewFollowsTheNight(t *testing.T) {
	e := newEnv(t, nil)
	write := func(base string) string {
		os.WriteFile(filepath.Join(e.DataDir, "mods1b", base), rawBytes(base, 2000), 0o444)
		return base
	}
	named := func() string { return strings.TrimSpace(string(mustRead(t, e.newPath()))) }
	wrong := write("mods1b.20991231.0001.fits")
	e.ensure(wrong, Deliver|Announced)
	next := write("mods1b.20260119.0150.fits")
	e.ensure(next, Deliver|Announced)
	if named() != next {
		t.Fatalf("after a wrongly dated frame: .new names %s, want %s", named(), next)
	}
	reset := write("mods1b.20260119.0001.fits")
	e.ensure(reset, Deliver|Announced)
	if named() != reset {
		t.Fatalf("after a sequence reset: .new names %s, want %s", named(), reset)
	}
	// A backfill of a frame from earlier in the night is not announced.
	old := write("mods1b.20260118.0100.fits")
	e.ensure(old, Deliver)
	if named() != reset {
		t.Fatalf("a backfill moved .new to %s", named())
	}
	// Out of order: a frame announced earlier finishing later keeps .new.
	e.reopen(func(o *Options) { o.Now = func() time.Time { return fixedNow.Add(-time.Hour) } })
	late := write("mods1b.20260119.0002.fits")
	e.ensure(late, Deliver|Announced)
	if named() != reset {
		t.Fatalf("a frame announced before the one .new names replaced it: %s", named())
	}
	// A request that waited (its raw file incomplete at first) is as new
	// as its datagram, not as its delivery.
	e.reopen(func(o *Options) { o.Now = func() time.Time { return fixedNow.Add(time.Hour) } })
	waited := write("mods1b.20260119.0003.fits")
	if _, err := e.d.Ensure(WithAnnounced(context.Background(), fixedNow.Add(-2*time.Hour)), waited, Deliver|Announced); err != nil {
		t.Fatal(err)
	}
	if named() != reset {
		t.Fatalf("a frame announced before the one .new names, delivered later, replaced it: %s", named())
	}
}

// A raw file must be a regular file inside its raw folder: a link out of it
// and a FIFO are refused at once, with the reason, and nothing is written.
func TestRawRefused(t *testing.T) {
	e := newEnv(t, nil)
	outside := filepath.Join(e.root, "private.fits")
	os.WriteFile(outside, rawBytes("secret", 1000), 0o600)
	link := rawName(1)
	if err := os.Symlink(outside, filepath.Join(e.DataDir, "mods1b", link)); err != nil {
		t.Fatal(err)
	}
	fifo := rawName(2)
	if err := syscall.Mkfifo(filepath.Join(e.DataDir, "mods1b", fifo), 0o644); err != nil {
		t.Fatal(err)
	}
	for base, why := range map[string]string{link: "outside its raw folder", fifo: "not a regular file (a FIFO)"} {
		done := make(chan error, 1)
		go func() {
			_, err := e.d.Ensure(context.Background(), base, Deliver)
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), why) || !strings.Contains(err.Error(), base+": raw: ") {
				t.Errorf("%s: %v", base, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: Ensure blocked", base)
		}
		absent(t, e.storedPath(base))
		absent(t, e.repoPath(base))
	}
	// A link to a file in the same folder is fine.
	real := e.raw(3, 1000)
	os.Symlink(real, filepath.Join(e.DataDir, "mods1b", rawName(4)))
	if _, err := e.d.Ensure(context.Background(), rawName(4), Archive); err != nil {
		t.Fatalf("link inside the raw folder: %v", err)
	}
}

// An exposure stored while /newdata was down, whose number azcam then
// reuses, still reaches /newdata: the delivery of the new exposure (or the
// retry of pending dispatches) dispatches it first, under its own name.
func TestEarlierPendingExposureIsDispatched(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 3000)
	first := e.want(base)
	os.Remove(e.RepoDir)
	if _, err := e.d.Ensure(context.Background(), base, Deliver); !errors.Is(err, ErrPending) {
		t.Fatalf("repo down: %v", err)
	}
	os.Mkdir(e.RepoDir, 0o755)
	e.replaceRaw(base, 3000, "the second exposure")
	if pending, _ := e.d.Pending(); len(pending) != 1 || pending[0] != base {
		t.Fatalf("pending %v", pending)
	}
	rep := e.ensure(base, Deliver|Announced)
	if got := mustRead(t, e.repoPath(base)); string(got) != string(first) {
		t.Fatal("the earlier exposure's dispatched copy is not its stored copy")
	}
	if filepath.Base(rep.Dispatched) != uniqFor(base) || string(mustRead(t, rep.Dispatched)) != string(e.want(base)) {
		t.Fatalf("the new exposure: %+v", rep)
	}
	if got := strings.TrimSpace(string(mustRead(t, e.newPath()))); got != uniqFor(base) {
		t.Fatalf(".new names %s", got)
	}
	if pending, _ := e.d.Pending(); len(pending) != 0 {
		t.Fatalf("still pending: %v", pending)
	}
}

// TestEarlierExposureDispatchedInTheSameRunIsNotRepaired: an earlier
// exposure dispatched under the frame's name by this very run is that
// exposure's copy, not the current exposure's own damaged one, even though
// the current one once had a copy there (the archive took it, and its
// dispatch went pending since). Its bytes stay; the current exposure goes
// under its UNIQNAME.
func TestEarlierExposureDispatchedInTheSameRunIsNotRepaired(t *testing.T) {
	e := newEnv(t, tickingClock)
	base := e.raw(1, 5000)
	e.ensure(base, Archive) // exposure A: stored only
	stored := e.storedPath(base)
	fi, _ := os.Stat(stored)
	a := mustRead(t, stored)
	os.Chtimes(stored, fi.ModTime(), fi.ModTime().Add(time.Hour)) // not intact: A is not dispatched yet
	e.replaceRaw(base, 5000, "the second exposure")
	if rep := e.ensure(base, Deliver); rep.Dispatched != e.repoPath(base) {
		t.Fatalf("B: %+v", rep)
	}
	os.Remove(e.repoPath(base)) // the archive takes B's copy
	e.d.fault = repoFault(e, "create", syscall.ENOSPC)
	if _, err := e.d.Ensure(context.Background(), base, Deliver); !errors.Is(err, ErrPending) {
		t.Fatal(err)
	}
	e.d.fault = nil
	os.Chtimes(stored, fi.ModTime(), fi.ModTime()) // A intact again
	rep := e.ensure(base, Deliver)
	if got := mustRead(t, e.repoPath(base)); string(got) != string(a) {
		t.Fatalf("the earlier exposure's copy under %s was replaced (%d bytes); actions %q", base, len(got), rep.Actions)
	}
	if rep.Dispatched == e.repoPath(base) || hasAction(rep, "replacing damaged copy") {
		t.Fatalf("the current exposure claimed the earlier one's copy: %+v", rep)
	}
}

// TestEarlierExposureRepairsItsDamagedCopy: an earlier exposure whose copy
// in /newdata was damaged, and whose repair went pending before the number
// was reused, still knows that copy as its own: it is repaired in place,
// not left under the frame's name beside a renamed copy.
func TestEarlierExposureRepairsItsDamagedCopy(t *testing.T) {
	e := newEnv(t, tickingClock)
	base := e.raw(1, 5000)
	e.ensure(base, Deliver) // exposure A, delivered
	repo := e.repoPath(base)
	a := e.want(base)
	e.cutShort(repo) // A's copy
	e.d.fault = repoFault(e, "create", syscall.ENOSPC)
	if _, err := e.d.Ensure(context.Background(), base, Deliver); !errors.Is(err, ErrPending) {
		t.Fatal(err)
	}
	e.d.fault = nil
	e.replaceRaw(base, 5000, "the second exposure")
	rep := e.ensure(base, Deliver)
	if got := mustRead(t, repo); string(got) != string(a) {
		t.Fatalf("%s holds %d bytes, not the earlier exposure's repaired copy; actions %q", base, len(got), rep.Actions)
	}
}

// tickingClock makes the ledger's times advance by a millisecond an event,
// where a test needs to tell which of two copies at a place came later.
func tickingClock(o *Options) {
	var n atomic.Int64
	o.Now = func() time.Time { return fixedNow.Add(time.Duration(n.Add(1)) * time.Millisecond) }
}

// cutShort damages a delivered copy by dropping its last FITS block, and
// returns the length it is left with.
func (e *env) cutShort(path string) int {
	e.t.Helper()
	b := mustRead(e.t, path)
	if err := os.WriteFile(path, b[:len(b)-2880], 0o644); err != nil {
		e.t.Fatal(err)
	}
	return len(b) - 2880
}
