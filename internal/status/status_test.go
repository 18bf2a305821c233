package status

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/obsdata/dataman/internal/control"
	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/judge"
	"github.com/obsdata/dataman/internal/testtree"
	"github.com/obsdata/dataman/sweep"
)

const night = "20260119"

// fakeCond stands in for the FITS conditioner: the raw bytes behind a
// line, and a failure for raw files whose name is in bad.
type fakeCond struct{ bad map[string]bool }

func (c fakeCond) Condition(ctx context.Context, rawPath string, out io.Writer) (deliver.RawInfo, error) {
	raw, err := os.ReadFile(rawPath)
	if err != nil {
		return deliver.RawInfo{}, err
	}
	if c.bad[filepath.Base(rawPath)] {
		return deliver.RawInfo{}, errors.New("not a MODS frame")
	}
	if _, err := out.Write(append([]byte("CONDITIONED\n"), raw...)); err != nil {
		return deliver.RawInfo{}, err
	}
	sum := sha256.Sum256(raw)
	return deliver.RawInfo{Size: int64(len(raw)), SHA256: hex.EncodeToString(sum[:]), UniqName: "uniq-" + filepath.Base(rawPath)}, nil
}

func rawName(seq int) string { return fmt.Sprintf("mods1b.%s.%04d.fits", night, seq) }

// tree is a data tree with frames delivered through the real delivery path.
type tree struct {
	t    testing.TB
	root string
	lay  frame.Layout
	d    *deliver.Deliverer
}

func newTree(t testing.TB, bad ...string) *tree {
	root := t.TempDir()
	tr := &tree{t: t, root: root, lay: frame.Layout{
		DataDir: filepath.Join(root, "raw"), ProcDir: filepath.Join(root, "proc"),
		RepoDir: filepath.Join(root, "newdata"), StateDir: filepath.Join(root, "state"),
	}}
	for _, dir := range []string{filepath.Join(tr.lay.DataDir, "mods1b"), tr.lay.RepoDir, tr.lay.StateDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c := fakeCond{bad: map[string]bool{}}
	for _, b := range bad {
		c.bad[b] = true
	}
	d, err := deliver.New(deliver.Options{Layout: tr.lay, Version: "test", Consumed: true}, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	tr.d = d
	return tr
}

// raw writes raw frames from..to, an hour old.
func (tr *tree) raw(from, to int) {
	old := time.Now().Add(-time.Hour)
	for seq := from; seq <= to; seq++ {
		path := filepath.Join(tr.lay.DataDir, "mods1b", rawName(seq))
		if err := os.WriteFile(path, []byte(strings.Repeat(strconv.Itoa(seq), 100)), 0o444); err != nil {
			tr.t.Fatal(err)
		}
		if err := os.Chtimes(path, old, old); err != nil {
			tr.t.Fatal(err)
		}
	}
}

func (tr *tree) deliver(seqs ...int) {
	for _, seq := range seqs {
		tr.d.Ensure(context.Background(), rawName(seq), deliver.Deliver) // failures are recorded
	}
}

func (tr *tree) remove(paths ...string) {
	for _, p := range paths {
		if err := os.Remove(p); err != nil {
			tr.t.Fatal(err)
		}
	}
}

func (tr *tree) options() Options {
	return Options{
		Judge:  judge.Options{Layout: tr.lay, MinAge: 30 * time.Second, Consumed: true},
		Nights: []string{night},
		Free:   func(string) (int64, error) { return 100 << 30, nil },
	}
}

// A night with a frame in each state is counted from the judge's verdicts,
// with the reasons, and nothing in the tree changes.
func TestBuildNight(t *testing.T) {
	tr := newTree(t, rawName(4))
	tr.raw(1, 7)
	tr.deliver(1, 2, 4, 5, 6)
	tr.remove(filepath.Join(tr.lay.RepoDir, rawName(2)))                                                             // taken
	tr.remove(filepath.Join(tr.lay.DataDir, "mods1b", rawName(5)), filepath.Join(tr.lay.ProcDir, night, rawName(5))) // lost
	if err := os.Rename(tr.lay.RepoDir, tr.lay.RepoDir+".away"); err != nil {
		t.Fatal(err)
	}
	tr.deliver(3) // stored, dispatch pending
	if err := os.Rename(tr.lay.RepoDir+".away", tr.lay.RepoDir); err != nil {
		t.Fatal(err)
	}
	// 6 delivered, 7 never delivered: new

	before := testtree.State(t, tr.root)
	r, err := Build(context.Background(), tr.options())
	if err != nil {
		t.Fatal(err)
	}
	if ch := testtree.Changes(before, testtree.State(t, tr.root)); len(ch) > 0 {
		t.Errorf("status changed the tree:\n%s", strings.Join(ch, "\n"))
	}

	if len(r.Channels) != 1 {
		t.Fatalf("channels %+v", r.Channels)
	}
	c := r.Channels[0]
	want := map[string]int{"delivered": 2, "taken": 1, "pending": 1, "failed": 1, "lost": 1, "new": 1}
	for s, n := range want {
		if c.Count(s) != n {
			t.Errorf("%s: %d, want %d (%v)", s, c.Count(s), n, c.ByStatus)
		}
	}
	if c.Frames != 7 || c.Raw != 6 || c.Stored != 4 || c.Newdata != 3 {
		t.Errorf("frames %d raw %d stored %d newdata %d, want 7 6 4 3 (the lost frame's copy is still there)", c.Frames, c.Raw, c.Stored, c.Newdata)
	}
	if len(c.Pending) != 1 || c.Pending[0].File != rawName(3) || c.Pending[0].Reason == "" || c.Pending[0].Since.IsZero() {
		t.Errorf("pending %+v", c.Pending)
	}
	if len(c.Failed) != 1 || c.Failed[0].File != rawName(4) || !strings.Contains(c.Failed[0].Reason, "not a MODS frame") || c.Failed[0].RetryAt.IsZero() {
		t.Errorf("failed %+v", c.Failed)
	}
	if len(c.Lost) != 1 || c.Lost[0] != rawName(5) {
		t.Errorf("lost %v", c.Lost)
	}
	if len(r.Space) != 2 || r.Space[0].Free != 100<<30 || r.Space[1].Key != "paths.repoDir" {
		t.Errorf("space %+v", r.Space)
	}
	if r.LastSweep != nil || r.Listen.Running || r.Listen.Stale {
		t.Errorf("no sweep nor listen: %+v %+v", r.LastSweep, r.Listen)
	}
	var out strings.Builder
	if err := r.Write(&out, false); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"listen: not running", "mods1b: 7 frames: 6 raw, 4 stored, 3 on newdata, 1 taken, 1 pending, 1 failed, 1 lost (2 delivered, 1 new)",
		"pending " + rawName(3), "failed  " + rawName(4), "lost    " + rawName(5), "last sweep: none recorded"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, out.String())
		}
	}
}

// Whether listen runs is its .pid and a check that the process lives; what
// it does, .status; the last sweep, its record.
func TestBuildListenAndSweep(t *testing.T) {
	tr := newTree(t)
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(tr.lay.StateDir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(control.PidFile, "4242\n")
	st := control.Status{State: control.Running, Last: rawName(9), Queue: 3, Busy: 1, Latency: 812 * time.Millisecond}
	write(control.StatusFile, st.Format(4242, time.Now()))
	last := sweep.Last{Time: time.Now().Add(-time.Minute).UTC(), Nights: []string{night}, Actions: map[sweep.Kind]int{sweep.Store: 2}}
	if err := sweep.WriteLast(tr.lay.StateDir, last); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		alive          bool
		running, stale bool
	}{{true, true, false}, {false, false, true}} {
		o := tr.options()
		o.Alive = func(pid int) bool { return pid == 4242 && tc.alive }
		before := testtree.State(t, tr.root)
		r, err := Build(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if ch := testtree.Changes(before, testtree.State(t, tr.root)); len(ch) > 0 {
			t.Errorf("status changed the tree: %v", ch)
		}
		l := r.Listen
		if l.Running != tc.running || l.Stale != tc.stale || l.Pid != 4242 || l.Since.IsZero() {
			t.Errorf("alive %v: listen %+v", tc.alive, l)
		}
		if tc.running && (l.State != control.Running || l.Last != rawName(9) || l.Queue != 3 || l.Busy != 1 || l.LatencySeconds != 0.812) {
			t.Errorf("listen %+v, want what .status says", l)
		}
		if r.LastSweep == nil || r.LastSweep.Actions[sweep.Store] != 2 || !r.LastSweep.Time.Equal(last.Time) {
			t.Errorf("last sweep %+v", r.LastSweep)
		}
	}
}

// Our own process is alive by kill(pid, 0).
func TestAliveSelf(t *testing.T) {
	if !(Options{}).alive(os.Getpid()) {
		t.Error("this process is not alive")
	}
}
