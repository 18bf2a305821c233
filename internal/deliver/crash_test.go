package deliver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/obsdata/dataman/internal/ledger"
)

// crashPoints are the places of the write sequence. A delivery passes the
// store's in this order and the dispatch's in this order, the two interleaved
// (they run at the same time), except that .new is written before the stored
// copy is synced.
var crashPoints = []string{
	"store/after-temp-create",
	"store/after-write",
	"store/after-fsync",
	"store/after-rename",
	"store/after-ledger",
	"dispatch/after-temp-create",
	"dispatch/after-write",
	"dispatch/after-fsync",
	"dispatch/after-rename",
	"dispatch/before-new",
	"dispatch/after-new",
	"dispatch/after-ledger",
}

const (
	crashEnv     = "DATAMAN_DELIVER_CRASH_AT"
	crashRootEnv = "DATAMAN_DELIVER_CRASH_ROOT"
)

// TestMain lets the test binary play the crashing child: re-run with
// crashEnv set, it delivers one file and kills itself with SIGKILL at that
// point, as os/exec's tests re-run themselves as helpers.
func TestMain(m *testing.M) {
	if point := os.Getenv(crashEnv); point != "" {
		crashChild(point, os.Getenv(crashRootEnv))
	}
	os.Exit(m.Run())
}

func crashChild(point, root string) {
	crashHook = func(p string) {
		if p == point {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
	d, err := New(optionsIn(root), &fakeCond{})
	if err == nil {
		_, err = d.Ensure(context.Background(), rawName(1), Deliver|Announced)
	}
	fmt.Fprintf(os.Stderr, "crash point %s never reached (err: %v)\n", point, err)
	os.Exit(3)
}

// The matrix must cover every point a delivery passes, and a delivery passes
// them in the order the matrix assumes.
func TestCrashPointsComplete(t *testing.T) {
	for range 20 { // the two sides interleave differently from run to run
		e := newEnv(t, nil)
		base := e.raw(1, 5000)
		var mu sync.Mutex
		var hit []string
		crashHook = func(p string) {
			mu.Lock()
			hit = append(hit, p)
			mu.Unlock()
		}
		e.ensure(base, Deliver)
		crashHook = nil
		if got, want := slices.Sorted(slices.Values(hit)), slices.Sorted(slices.Values(crashPoints)); !slices.Equal(got, want) {
			t.Fatalf("a delivery passes\n %q\nthe matrix has\n %q", hit, crashPoints)
		}
		for _, side := range []string{"store/", "dispatch/"} {
			in := func(p string) bool { return !strings.HasPrefix(p, side) }
			if got, want := slices.DeleteFunc(slices.Clone(hit), in), slices.DeleteFunc(slices.Clone(crashPoints), in); !slices.Equal(got, want) {
				t.Fatalf("%s points passed in the order\n %q\nwant\n %q", side, got, want)
			}
		}
		if slices.Index(hit, "dispatch/after-new") > slices.Index(hit, "store/after-fsync") {
			t.Fatalf(".new written after the stored copy was synced: %q", hit)
		}
	}
}

// A frame archived, then dispatched, passes the store's points, then the
// dispatch's, which copies the stored file: one conditioning in all.
func TestArchiveThenDispatchPoints(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 3*chunk)
	var hit []string
	crashHook = func(p string) { hit = append(hit, p) }
	defer func() { crashHook = nil }()
	e.ensure(base, Archive)
	e.ensure(base, Deliver)
	e.checkDelivered(base)
	want := []string{
		"store/after-temp-create", "store/after-write", "store/after-fsync", "store/after-rename", "store/after-ledger",
		"dispatch/after-temp-create", "dispatch/after-write", "dispatch/after-fsync", "dispatch/after-rename",
		"dispatch/before-new", "dispatch/after-new", "dispatch/after-ledger",
	}
	if !slices.Equal(hit, want) {
		t.Fatalf("an archive, then a dispatch, passes\n %q\nwant\n %q", hit, want)
	}
	if n := e.cond.calls.Load(); n != 1 {
		t.Fatalf("conditioned %d times", n)
	}
}

func TestCrashMatrix(t *testing.T) {
	crashMatrix(t, func(_ *testing.T, e *env) (string, string) {
		base := e.raw(1, 3*chunk)
		return base, base
	})
}

// A new exposure under a delivered name, killed at every point: the first
// exposure's copies are never touched, the new one's are whole or absent
// under their UNIQNAME, and the next run completes it with both in the
// ledger.
func TestCrashMatrixNewExposure(t *testing.T) {
	crashMatrix(t, func(t *testing.T, e *env) (string, string) {
		base := e.raw(1, 3*chunk)
		e.ensure(base, Deliver|Announced)
		first := string(mustRead(t, e.repoPath(base)))
		e.replaceRaw(base, 3*chunk, "the second exposure")
		t.Cleanup(func() {
			for _, p := range []string{e.storedPath(base), e.repoPath(base)} {
				if got := string(mustRead(t, p)); got != first {
					t.Errorf("the first exposure's copy %s was changed", p)
				}
			}
			l, err := ledger.OpenReadOnly(e.StateDir, "mods1b")
			if err != nil {
				t.Fatal(err)
			}
			if gens, cur := l.Generations(base); len(gens) != 2 || cur != 1 {
				t.Errorf("%d generations, current %d", len(gens), cur)
			}
		})
		return base, uniqFor(base)
	})
}

// crashMatrix kills a child delivering the frame prepare makes at every
// point, then checks what is left and that the next run completes it.
// prepare returns the raw name and the name its copies get.
func crashMatrix(t *testing.T, prepare func(t *testing.T, e *env) (base, name string)) {
	if testing.Short() {
		t.Skip("re-runs the test binary for each point")
	}
	for _, point := range crashPoints {
		t.Run(point, func(t *testing.T) {
			e := newEnv(t, nil)
			base, name := prepare(t, e)
			e.d.Close()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), crashEnv+"="+point, crashRootEnv+"="+e.root)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child was not killed at %s: %v\n%s", point, err, out)
			}

			// Under every final name: nothing, or the whole right thing.
			want := e.want(base)
			stored, dispatched := filepath.Join(e.ProcDir, "20260119", name), filepath.Join(e.RepoDir, name)
			for _, p := range []string{stored, dispatched} {
				if b, err := os.ReadFile(p); err == nil && string(b) != string(want) {
					t.Fatalf("%s is partial (%d of %d bytes)", p, len(b), len(want))
				}
			}
			if b, err := os.ReadFile(e.newPath()); err == nil && string(b) != base+"\n" && string(b) != name+"\n" {
				t.Fatalf(".new = %q", b)
			}
			if _, problems, err := ledger.ReadChannel(e.StateDir, "mods1b"); err != nil && !errors.Is(err, os.ErrNotExist) || len(problems) > 0 {
				t.Fatalf("ledger: %v %v", err, problems)
			}

			// The next run completes the delivery and removes the dead
			// child's temporaries.
			e.reopen(nil)
			e.ensure(base, Deliver|Announced)
			for _, p := range []string{stored, dispatched} {
				if got := mustRead(t, p); string(got) != string(want) {
					t.Fatalf("%s after recovery: %d bytes, want %d", p, len(got), len(want))
				}
			}
			if got := string(mustRead(t, e.newPath())); got != name+"\n" {
				t.Fatalf(".new after recovery: %q", got)
			}
			noTemps(t, e.root)
			if ev := e.latest(base, ledger.StepDispatch); !ev.Done() {
				t.Fatalf("ledger after recovery: %+v", ev)
			}
			if rep := e.ensure(base, Deliver); !rep.Already {
				t.Fatalf("third run: %+v", rep)
			}
		})
	}
}
