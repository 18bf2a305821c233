package commands

import (
	"github.com/obsdata/dataman/internal/testtree"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/obsdata/dataman/fits/synth"
	"github.com/obsdata/dataman/internal/config"
	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/internal/verify"
	"github.com/obsdata/dataman/sweep"
)

// sweepSetup is a data tree in a temporary folder, configured as a site
// would: every path explicit.
type sweepSetup struct {
	t   *testing.T
	cfg *config.Config
	d   *deliver.Deliverer
}

func newSweepSetup(t *testing.T) *sweepSetup {
	root := t.TempDir()
	cfg := config.Default()
	for k, v := range map[string]string{
		"paths.dataDir":         filepath.Join(root, "raw"),
		"paths.procDir":         filepath.Join(root, "proc"),
		"paths.repoDir":         filepath.Join(root, "newdata"),
		"paths.logDir":          filepath.Join(root, "logs"),
		"paths.stateDir":        filepath.Join(root, "state"),
		"delivery.proc.minFree": "0",
		"delivery.repo.minFree": "0",
	} {
		if err := cfg.Set(k, v, config.SourceFlag); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{cfg.Paths.DataDir, cfg.Paths.RepoDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d, err := newDeliverer(cfg, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return &sweepSetup{t: t, cfg: cfg, d: d}
}

// frames writes raw 1k-2x2 frames as the camera server would, an hour ago.
func (s *sweepSetup) frames(seqs ...int) {
	dir := filepath.Join(s.cfg.Paths.DataDir, "mods1b")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	for _, seq := range seqs {
		path, err := synth.WriteFile(dir, synth.Default("mods1b", seq, "1k-2x2"))
		if err != nil {
			s.t.Fatal(err)
		}
		if err := os.Chtimes(path, old, old); err != nil {
			s.t.Fatal(err)
		}
	}
}

func frameName(seq int) string { return fmt.Sprintf("mods1b.20260119.%04d.fits", seq) }

func (s *sweepSetup) options() sweepOptions {
	o := newSweepOptions(s.cfg, "test")
	o.Run.Deliverer = s.d
	o.Nights = []string{"20260119"}
	return o
}

// sweepJSON runs a sweep with --json and decodes its summary.
func (s *sweepSetup) sweepJSON(o sweepOptions) (sweep.Summary, error) {
	o.JSON = true
	var out bytes.Buffer
	err := runSweep(context.Background(), o, &out, io.Discard)
	var sum sweep.Summary
	if jerr := json.Unmarshal(out.Bytes(), &sum); jerr != nil {
		s.t.Fatalf("sweep --json printed %q: %v (sweep: %v)", out.String(), jerr, err)
	}
	return sum, err
}

func counts(sum sweep.Summary) string {
	return fmt.Sprintf("store=%d dispatch=%d redispatch=%d lost=%d clean=%d failed=%d",
		sum.Count(sweep.Store), sum.Count(sweep.Dispatch), sum.Count(sweep.Redispatch), sum.Count(sweep.Lost), sum.Count(sweep.CleanTemps), sum.Failed)
}

// The night of issue 5: 200 frames, 30 whose datagrams were lost, 5 newdata
// copies deleted and 3 corrupted. A dry run plans the 38 repairs and changes
// nothing; one sweep makes them, through the real conditioning and delivery
// path; verify then finds every file intact, and a second sweep has nothing
// to do.
func TestSweepNight(t *testing.T) {
	if testing.Short() {
		t.Skip("200 frames")
	}
	s := newSweepSetup(t)
	var all, lost []int
	for seq := 1; seq <= 200; seq++ {
		all = append(all, seq)
		if seq%6 == 3 && len(lost) < 30 {
			lost = append(lost, seq)
		}
	}
	s.frames(all...)
	delivered := slices.DeleteFunc(slices.Clone(all), func(seq int) bool { return slices.Contains(lost, seq) })
	forEach(context.Background(), len(delivered), 2, func(i int) {
		if _, err := s.d.Ensure(context.Background(), frameName(delivered[i]), deliver.Deliver); err != nil {
			t.Error(err)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	newdata := func(seq int) string { return filepath.Join(s.cfg.Paths.RepoDir, frameName(seq)) }
	for _, seq := range []int{1, 50, 100, 150, 200} {
		if err := os.Remove(newdata(seq)); err != nil {
			t.Fatal(err)
		}
	}
	for _, seq := range []int{2, 77, 199} {
		f, err := os.OpenFile(newdata(seq), os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte("cosmic ray"), 200000); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}

	root := filepath.Dir(s.cfg.Paths.DataDir)
	before := testtree.State(t, root)
	// The deleted copies count as taken by the archive unless --redeliver.
	dry := s.options()
	dry.Run.DryRun = true
	if plan, err := s.sweepJSON(dry); err != nil || len(plan.Taken) != 5 || counts(plan) != "store=30 dispatch=0 redispatch=3 lost=0 clean=0 failed=0" {
		t.Fatalf("dry run: %s, %d taken, %v", counts(plan), len(plan.Taken), err)
	}
	dry.Run.Redeliver = true
	plan, err := s.sweepJSON(dry)
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	if after := testtree.Changes(before, testtree.State(t, root)); len(after) != 0 {
		t.Fatal("the dry run changed the tree")
	}
	want := "store=30 dispatch=5 redispatch=3 lost=0 clean=0 failed=0"
	if got := counts(plan); got != want || !plan.DryRun {
		t.Fatalf("dry run plans %s, want %s", got, want)
	}

	verifyNight := func() (string, error) {
		var out bytes.Buffer
		err := runVerify(context.Background(), verifyOptions{Options: verify.Options{
			Layout: s.d.Layout(), Nights: []string{"20260119"}, Jobs: 2,
			Proc: processing(s.cfg, "test"), Version: "test",
		}}, &out, io.Discard)
		return lastLines(out.String(), 3), err
	}
	if out, err := verifyNight(); exitcode.Code(err) != exitcode.Problems {
		t.Fatalf("verify before the sweep: status %d, %v\n%s", exitcode.Code(err), err, out)
	}

	redeliver := s.options()
	redeliver.Run.Redeliver = true
	sum, err := s.sweepJSON(redeliver)
	if err != nil || counts(sum) != want {
		t.Fatalf("sweep: %s (want %s): %v", counts(sum), want, err)
	}
	if out, err := verifyNight(); err != nil {
		t.Fatalf("verify after the sweep: %v\n%s", err, out)
	} else {
		t.Logf("verify after the sweep:\n%s", out)
	}
	fits, _ := filepath.Glob(filepath.Join(s.cfg.Paths.RepoDir, "*.fits"))
	if len(fits) != 200 {
		t.Errorf("newdata holds %d FITS files, want 200", len(fits))
	}

	again, err := s.sweepJSON(s.options())
	if err != nil || len(again.Actions) != 0 {
		t.Fatalf("second sweep: %s, %v", counts(again), err)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n") + "\n"
}

// Each outcome has its documented exit status.
func TestSweepExitStatuses(t *testing.T) {
	s := newSweepSetup(t)
	s.frames(1, 2)

	for _, bad := range []func(*sweepOptions){
		func(o *sweepOptions) { o.Schedule = "TZ=0" },
		func(o *sweepOptions) { o.Schedule = "* * *" },
		func(o *sweepOptions) { o.Nights = []string{"20261301"} },
		func(o *sweepOptions) { o.Since, o.SinceSet = 0, true },
		func(o *sweepOptions) { o.Run.Wait = -time.Second },
	} {
		o := s.options()
		bad(&o)
		if err := runSweep(context.Background(), o, io.Discard, io.Discard); exitcode.Code(err) != exitcode.Usage {
			t.Errorf("%+v: status %d, %v", o, exitcode.Code(err), err)
		}
	}
	if _, err := os.Stat(s.cfg.Paths.StateDir); !errors.Is(err, fs.ErrNotExist) {
		t.Error("a usage error got as far as the state directory")
	}

	held := sweep.NewLock(s.cfg.Paths.StateDir)
	if err := held.Acquire(context.Background(), 0, nil); err != nil {
		t.Fatal(err)
	}
	err := runSweep(context.Background(), s.options(), io.Discard, io.Discard)
	var e *exitcode.Error
	if exitcode.Code(err) != exitcode.Locked || !errors.As(err, &e) || !strings.Contains(err.Error(), fmt.Sprintf("(pid %d)", os.Getpid())) || len(e.Hints) == 0 {
		t.Errorf("lock held: status %d, %v", exitcode.Code(err), err)
	}
	held.Release()

	// The configured repoDir is not there (an NFS share not mounted): the
	// files are stored, their dispatch is pending, and that is a failure.
	if err := os.Remove(s.cfg.Paths.RepoDir); err != nil {
		t.Fatal(err)
	}
	// A pending dispatch is a result, said once, on stdout.
	var out, stderr bytes.Buffer
	err = runSweep(context.Background(), s.options(), &out, &stderr)
	if exitcode.Code(err) != exitcode.Failure || !strings.Contains(out.String(), "PENDING store") ||
		!strings.Contains(out.String(), frameName(1)+": dispatch") || strings.Contains(stderr.String(), frameName(1)) {
		t.Errorf("repo missing: status %d, %v, stdout %q, stderr %q", exitcode.Code(err), err, out.String(), stderr.String())
	}
	if err := os.Mkdir(s.cfg.Paths.RepoDir, 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := runSweep(context.Background(), s.options(), &stdout, io.Discard); err != nil {
		t.Errorf("repo back: %v", err)
	}
	if !strings.Contains(stdout.String(), "dispatched       "+frameName(2)+": dispatch pending: ") {
		t.Errorf("repo back: summary %q", stdout.String())
	}
}

// stepClock drives --schedule without waiting: each Sleep moves the clock
// on, and the third ends the run as SIGTERM would.
type stepClock struct {
	now    time.Time
	sleeps int
	stop   context.CancelFunc
	before func(n int) // called at each Sleep
}

func (c *stepClock) Now() time.Time { return c.now }

func (c *stepClock) Sleep(ctx context.Context, d time.Duration) error {
	c.sleeps++
	c.now = c.now.Add(d)
	if c.before != nil {
		c.before(c.sleeps)
	}
	if c.sleeps == 3 {
		c.stop()
	}
	return ctx.Err()
}

// With a schedule the sweep runs at each tick; a tick that finds the lock
// held is skipped, not fatal; a signal ends it with status 0.
func TestSweepSchedule(t *testing.T) {
	s := newSweepSetup(t)
	s.frames(1)
	ctx, cancel := context.WithCancel(context.Background())
	held := sweep.NewLock(s.cfg.Paths.StateDir)
	o := s.options()
	o.Schedule = "*/15 * * * *"
	o.Clock = &stepClock{now: time.Now(), stop: cancel, before: func(n int) {
		switch n {
		case 2: // the second sweep finds the lock held
			if err := held.Acquire(ctx, 0, nil); err != nil {
				t.Error(err)
			}
		case 3:
			held.Release()
		}
	}}
	var stdout bytes.Buffer
	if err := runSweep(ctx, o, &stdout, io.Discard); err != nil {
		t.Fatalf("scheduled sweep stopped with %v", err)
	}
	got := stdout.String()
	if !strings.Contains(got, "delivered        "+frameName(1)) || strings.Count(got, "sweep of ") != 1 {
		t.Fatalf("two ticks, the second locked out, should print one sweep:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(s.cfg.Paths.RepoDir, frameName(1))); err != nil {
		t.Error(err)
	}
}
