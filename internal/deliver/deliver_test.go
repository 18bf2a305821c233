package deliver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obsdata/dataman/internal/ledger"
)

func TestDeliverLayout(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 5000)
	rawBefore := snapshot(t, e.DataDir, true)
	rep := e.ensure("/home/data/"+base, Deliver) // only the base name counts

	e.checkDelivered(base)
	sameSnapshot(t, rawBefore, snapshot(t, e.DataDir, true))
	if rep.Stored != e.storedPath(base) || rep.Dispatched != e.repoPath(base) || rep.Already || rep.Pending {
		t.Fatalf("report %+v", rep)
	}
	for _, a := range []string{"conditioned ", "stored " + e.storedPath(base), "dispatched " + e.repoPath(base), "updated " + e.newPath()} {
		if !hasAction(rep, a) {
			t.Errorf("no action %q in %q", a, rep.Actions)
		}
	}
	dir, _ := os.Stat(filepath.Dir(e.storedPath(base)))
	if dir.Mode().Perm() != 0o775 {
		t.Errorf("store folder mode %v, want 0775", dir.Mode().Perm())
	}
	for _, p := range []string{e.storedPath(base), e.repoPath(base), e.newPath()} {
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
			t.Errorf("%s mode %v, want 0644", p, fi.Mode().Perm())
		}
	}
	noTemps(t, e.root)

	raw := mustRead(t, filepath.Join(e.DataDir, "mods1b", base))
	rawSum := sha256.Sum256(raw)
	outSum := sha256.Sum256(e.want(base))
	evs := e.events(base)
	if len(evs) != 3 {
		t.Fatalf("ledger has %d events, want 3: %+v", len(evs), evs)
	}
	for i, step := range []string{ledger.StepCondition, ledger.StepStore, ledger.StepDispatch} {
		ev := evs[i]
		if ev.Step != step || ev.Status != ledger.StatusOK || ev.Version != "test-1" || ev.Config != "cfg0" ||
			!ev.Time.Equal(fixedNow) || ev.Attempt != 1 || ev.OutSHA256 != hex.EncodeToString(outSum[:]) ||
			ev.OutSize != int64(len(e.want(base))) {
			t.Errorf("event %d: %+v", i, ev)
		}
	}
	if evs[0].RawSize != int64(len(raw)) || evs[0].RawSHA256 != hex.EncodeToString(rawSum[:]) || evs[0].Extra["uniqname"] != uniqFor(base) {
		t.Errorf("condition event %+v", evs[0])
	}
	for _, ev := range evs[1:] {
		fi, err := os.Stat(ev.Dest)
		if err != nil || ev.MTime != fi.ModTime().UnixNano() {
			t.Errorf("%s event: dest %s, mtime %d (%v)", ev.Step, ev.Dest, ev.MTime, err)
		}
	}
}

func TestIdempotent(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 5000)
	e.ensure(base, Deliver)
	before := snapshot(t, e.root, true)

	for _, how := range []Mode{Deliver, Archive, DispatchOnly} {
		e.reopen(nil) // from the ledger file, as a new process
		rep := e.ensure(base, how)
		if !rep.Already || rep.Stored != e.storedPath(base) {
			t.Errorf("%v: report %+v", how, rep)
		}
	}
	rep := e.ensure(base, Deliver)
	if !hasAction(rep, "already delivered") || rep.Dispatched != e.repoPath(base) {
		t.Errorf("actions %q", rep.Actions)
	}
	// The first delivery conditions once, for both destinations; none of
	// the later calls conditions.
	if n := e.cond.calls.Load(); n != 1 {
		t.Errorf("conditioned %d times", n)
	}
	sameSnapshot(t, before, snapshot(t, e.root, true))
}

// Without a ledger, a second run works from content: it conditions again, but
// finds identical bytes in both places and rewrites neither.
func TestIdempotentWithoutLedger(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 5000)
	e.ensure(base, Deliver)
	keep := snapshot(t, e.root, false)
	delete(keep, e.newPath())
	for p := range keep {
		if strings.HasPrefix(p, e.StateDir) {
			delete(keep, p)
		}
	}
	os.RemoveAll(filepath.Join(e.StateDir, "ledger"))
	e.reopen(nil)

	rep := e.ensure(base, Deliver)
	if rep.Already || !hasAction(rep, "stored copy already present: ") || !hasAction(rep, "dispatched copy already present: ") {
		t.Fatalf("report %+v", rep)
	}
	after := snapshot(t, e.root, false)
	for p, st := range keep {
		if after[p] != st {
			t.Errorf("%s rewritten", p)
		}
	}
	e.checkDelivered(base)
	if e.latest(base, ledger.StepStore).Status != ledger.StatusAlready || e.latest(base, ledger.StepDispatch).Status != ledger.StatusAlready {
		t.Errorf("ledger: %+v", e.events(base))
	}
	noTemps(t, e.root)
	// The ledger is rebuilt: the next run trusts it.
	if rep := e.ensure(base, Deliver); !rep.Already {
		t.Errorf("third run: %+v", rep)
	}
}

// A file whose stored copy was changed behind the ledger's back is checked
// by content, not trusted.
func TestLedgerNotTrustedWhenFileChanged(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 5000)
	e.ensure(base, Deliver)
	os.Remove(e.repoPath(base))
	rep := e.ensure(base, Deliver)
	if rep.Already || !hasAction(rep, "dispatched "+e.repoPath(base)) {
		t.Fatalf("report %+v", rep)
	}
	e.checkDelivered(base)
}

func TestArchiveThenDispatch(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 5000)
	rep := e.ensure(base, Archive)
	if rep.Stored != e.storedPath(base) || rep.Dispatched != "" {
		t.Fatalf("report %+v", rep)
	}
	absent(t, e.repoPath(base))
	absent(t, e.newPath())
	if ev := e.latest(base, ledger.StepDispatch); ev.Step != "" {
		t.Fatalf("archive recorded a dispatch: %+v", ev)
	}
	rep = e.ensure(base, DispatchOnly)
	if rep.Dispatched != e.repoPath(base) {
		t.Fatalf("report %+v", rep)
	}
	e.checkDelivered(base)
	if n := e.cond.calls.Load(); n != 1 {
		t.Errorf("conditioned %d times", n)
	}
}

// A stored file the ledger does not know (written by dataMan, say) can still
// be dispatched: it is read once for its checksum.
func TestDispatchOnlyWithoutLedger(t *testing.T) {
	e := newEnv(t, nil)
	base := rawName(3)
	content := []byte("stored by dataMan")
	os.MkdirAll(filepath.Dir(e.storedPath(base)), 0o755)
	os.WriteFile(e.storedPath(base), content, 0o644)
	rep := e.ensure(base, DispatchOnly)
	if rep.Dispatched != e.repoPath(base) || string(mustRead(t, e.repoPath(base))) != string(content) {
		t.Fatalf("report %+v", rep)
	}
	if e.cond.calls.Load() != 0 {
		t.Fatal("dispatch conditioned")
	}
}

func TestDispatchOnlyNothingStored(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 100)
	rep, err := e.d.Ensure(context.Background(), base, DispatchOnly)
	if !errors.Is(err, errNoSource) || errors.Is(err, ErrPending) || rep.Pending {
		t.Fatalf("err %v, report %+v", err, rep)
	}
	if !strings.HasPrefix(err.Error(), base+": dispatch: ") {
		t.Errorf("message %q", err)
	}
	if ev := e.latest(base, ledger.StepDispatch); ev.Status != ledger.StatusFailed {
		t.Errorf("ledger %+v", ev)
	}
	if e.cond.calls.Load() != 0 {
		t.Fatal("dispatch conditioned")
	}
}

// An identical file already at both destinations (a previous run whose ledger
// was lost, or dataMan itself) is left exactly as it is.
func TestIdenticalAlreadyThere(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 5000)
	os.MkdirAll(filepath.Dir(e.storedPath(base)), 0o755)
	os.WriteFile(e.storedPath(base), e.want(base), 0o644)
	os.WriteFile(e.repoPath(base), e.want(base), 0o644)
	before := snapshot(t, e.root, false)
	e.ensure(base, Deliver)
	after := snapshot(t, e.root, false)
	for _, p := range []string{e.storedPath(base), e.repoPath(base)} {
		if before[p] != after[p] {
			t.Errorf("%s rewritten", p)
		}
	}
	e.checkDelivered(base)
}

func TestCollisionPolicies(t *testing.T) {
	for _, dest := range []string{"proc", "repo"} {
		for _, pol := range []Policy{PolicyRename, PolicyError, PolicyOverwrite} {
			t.Run(dest+"/"+string(pol), func(t *testing.T) {
				e := newEnv(t, func(o *Options) {
					o.Proc.Collision, o.Repo.Collision = PolicyError, PolicyError
					if dest == "proc" {
						o.Proc.Collision = pol
					} else {
						o.Repo.Collision = pol
					}
				})
				base := e.raw(1, 5000)
				dir := filepath.Dir(e.storedPath(base))
				if dest == "repo" {
					dir = e.RepoDir
				}
				os.MkdirAll(dir, 0o755)
				theirs := filepath.Join(dir, base)
				uniq := filepath.Join(dir, uniqFor(base))
				os.WriteFile(theirs, []byte("an unrelated file"), 0o644)
				// The UNIQNAME is taken too, so rename must go on to -2.
				os.WriteFile(uniq, []byte("another unrelated file"), 0o644)

				rep, err := e.d.Ensure(context.Background(), base, Deliver)
				noTemps(t, e.root)
				ours := e.want(base)
				final := theirs
				switch pol {
				case PolicyRename:
					final = filepath.Join(dir, "uniq-mods1b.20260119.0001-2.fits")
					if string(mustRead(t, theirs)) != "an unrelated file" || string(mustRead(t, uniq)) != "another unrelated file" {
						t.Fatal("rename changed a file it should have left")
					}
				case PolicyError:
					if !errors.Is(err, ErrCollision) || errors.Is(err, ErrPending) || rep.Pending {
						t.Fatalf("err %v, report %+v", err, rep)
					}
					if string(mustRead(t, theirs)) != "an unrelated file" {
						t.Fatal("policy error changed the file")
					}
					absent(t, e.newPath())
					if dest == "proc" {
						absent(t, e.repoPath(base))
						if ev := e.latest(base, ledger.StepStore); ev.Status != ledger.StatusFailed {
							t.Errorf("ledger %+v", ev)
						}
					} else if ev := e.latest(base, ledger.StepDispatch); ev.Status != ledger.StatusFailed {
						t.Errorf("ledger %+v", ev)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if string(mustRead(t, final)) != string(ours) {
					t.Fatalf("%s does not hold our file", final)
				}
				delivered := filepath.Base(e.repoPath(base))
				if dest == "repo" {
					delivered = filepath.Base(final)
					if rep.Dispatched != final {
						t.Errorf("report says dispatched %s", rep.Dispatched)
					}
				} else {
					if rep.Stored != final {
						t.Errorf("report says stored %s", rep.Stored)
					}
					if string(mustRead(t, e.repoPath(base))) != string(ours) {
						t.Fatal("dispatched copy is not ours")
					}
				}
				if got := string(mustRead(t, e.newPath())); got != delivered+"\n" {
					t.Fatalf(".new = %q, want %q", got, delivered+"\n")
				}

				// Again without the ledger: the renamed copy is found by
				// content and nothing new is written.
				os.RemoveAll(filepath.Join(e.StateDir, "ledger"))
				e.reopen(func(o *Options) {
					o.Proc.Collision, o.Repo.Collision = e.d.opts.Proc.Collision, e.d.opts.Repo.Collision
				})
				entries, _ := os.ReadDir(dir)
				e.ensure(base, Deliver)
				again, _ := os.ReadDir(dir)
				if len(again) != len(entries) {
					t.Fatalf("second run changed %s from %d to %d entries", dir, len(entries), len(again))
				}
				if got := string(mustRead(t, e.newPath())); got != delivered+"\n" {
					t.Fatalf("second run: .new = %q", got)
				}
			})
		}
	}
}

func TestConditionFails(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 100)
	e.cond.err = errors.New("IM3: NAXIS1 missing")
	_, err := e.d.Ensure(context.Background(), base, Deliver)
	if err == nil || err.Error() != base+": condition: IM3: NAXIS1 missing" {
		t.Fatalf("err %v", err)
	}
	absent(t, e.storedPath(base))
	absent(t, e.repoPath(base))
	noTemps(t, e.root)
	ev := e.latest(base, ledger.StepCondition)
	if ev.Status != ledger.StatusFailed || ev.Reason != "IM3: NAXIS1 missing" || ev.Attempt != 1 || ev.RawSHA256 == "" || ev.RawMTime == 0 {
		t.Fatalf("ledger %+v", ev)
	}
	if e.latest(base, ledger.StepDispatch).Status != "" {
		t.Fatal("a raw file that cannot be conditioned has a dispatch event")
	}
	// Asked again at once, it is not conditioned again: it waits for its
	// backoff, and writes nothing meanwhile.
	lines, calls := len(e.events(base)), e.cond.calls.Load()
	_, err = e.d.Ensure(context.Background(), base, Deliver)
	if !errors.Is(err, ErrFailedBefore) || e.cond.calls.Load() != calls || len(e.events(base)) != lines {
		t.Fatalf("asked again at once: %v, %d conditionings, %d events", err, e.cond.calls.Load(), len(e.events(base)))
	}
	at := func(d time.Duration) func(*Options) {
		return func(o *Options) { o.Now = func() time.Time { return fixedNow.Add(d) } }
	}
	e.reopen(at(11 * time.Minute))
	e.d.Ensure(context.Background(), base, Deliver)
	if ev := e.latest(base, ledger.StepCondition); ev.Attempt != 2 {
		t.Fatalf("second failure: attempt %d", ev.Attempt)
	}
	e.reopen(at(2 * time.Hour))
	e.d.Ensure(context.Background(), base, Deliver)
	if ev := e.latest(base, ledger.StepCondition); ev.Attempt != 3 {
		t.Fatalf("third failure: attempt %d", ev.Attempt)
	}
	// Three attempts: then it is left until the file changes.
	e.reopen(at(48 * time.Hour))
	calls = e.cond.calls.Load()
	if _, err := e.d.Ensure(context.Background(), base, Deliver); !errors.Is(err, ErrFailedBefore) || e.cond.calls.Load() != calls {
		t.Fatalf("after three attempts: %v, conditioned again: %v", err, e.cond.calls.Load() != calls)
	}
	// A new raw file under the name is a new exposure, tried at once.
	e.cond.err = nil
	os.Remove(filepath.Join(e.DataDir, "mods1b", base))
	os.WriteFile(filepath.Join(e.DataDir, "mods1b", base), rawBytes(base+"fixed", 100), 0o444)
	e.ensure(base, Deliver)
	if ev := e.latest(base, ledger.StepCondition); ev.Status != ledger.StatusOK || ev.Attempt != 1 {
		t.Fatalf("after the file changed: %+v", ev)
	}
}

func TestRawMissing(t *testing.T) {
	e := newEnv(t, nil)
	base := rawName(9)
	_, err := e.d.Ensure(context.Background(), base, Archive)
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), base+": condition: ") {
		t.Fatalf("err %v", err)
	}
	if ev := e.latest(base, ledger.StepCondition); ev.Status != ledger.StatusFailed {
		t.Fatalf("ledger %+v", ev)
	}
}

func TestBadNameNamesTheFile(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.d.Ensure(context.Background(), "/data/mods1b/notes.txt", Deliver)
	if err == nil || !strings.Contains(err.Error(), `"notes.txt"`) {
		t.Fatalf("err %v", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	root := t.TempDir()
	opts := optionsIn(root)
	opts.Repo.Collision = "keep"
	if _, err := New(opts, &fakeCond{}); err == nil || !strings.Contains(err.Error(), `"keep"`) {
		t.Errorf("bad policy: %v", err)
	}
	opts = optionsIn(root)
	opts.RepoDir = ""
	if _, err := New(opts, &fakeCond{}); err == nil {
		t.Error("no repo dir accepted")
	}
	if _, err := New(optionsIn(root), nil); err == nil {
		t.Error("no conditioner accepted")
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 5000)
	before := snapshot(t, e.root, true)
	rep := e.ensure(base, Deliver|DryRun)
	sameSnapshot(t, before, snapshot(t, e.root, true))
	for _, a := range []string{"would condition ", "would store " + e.storedPath(base), "would dispatch " + e.repoPath(base), "would update " + e.newPath()} {
		if !hasAction(rep, a) {
			t.Errorf("no action %q in %q", a, rep.Actions)
		}
	}
	if e.cond.calls.Load() != 0 {
		t.Fatal("dry run conditioned")
	}

	e.ensure(base, Archive)
	os.WriteFile(e.repoPath(base), []byte("other"), 0o644)
	before = snapshot(t, e.root, true)
	rep = e.ensure(base, Deliver|DryRun)
	sameSnapshot(t, before, snapshot(t, e.root, true))
	if !hasAction(rep, "would use stored copy ") || !hasAction(rep, "would dispatch "+e.repoPath(base)+" (a file is there") {
		t.Errorf("actions %q", rep.Actions)
	}

	os.Remove(e.repoPath(base))
	e.ensure(base, Deliver)
	e.reopen(nil)
	rep = e.ensure(base, Deliver|DryRun)
	if !rep.Already || !hasAction(rep, "already delivered") {
		t.Errorf("report %+v", rep)
	}
}

// Duplicate requests for a file in flight (a repeated datagram) wait for the
// first and then find the work done.
func TestConcurrentSameFile(t *testing.T) {
	e := newEnv(t, nil)
	base := e.raw(1, 200_000)
	var wg sync.WaitGroup
	reps := make([]Report, 8)
	for i := range reps {
		wg.Go(func() {
			rep, err := e.d.Ensure(context.Background(), base, Deliver)
			if err != nil {
				t.Error(err)
			}
			reps[i] = rep
		})
	}
	wg.Wait()
	fresh := 0
	for _, r := range reps {
		if !r.Already {
			fresh++
		}
	}
	if fresh != 1 || e.cond.calls.Load() != 1 { // one delivery, one conditioning for both copies
		t.Fatalf("%d runs did the work, %d conditionings", fresh, e.cond.calls.Load())
	}
	e.checkDelivered(base)
}

// A ledger cut short by a crash still works, and the torn line does not
// swallow the next event.
func TestTornLedger(t *testing.T) {
	e := newEnv(t, nil)
	a := e.raw(1, 500)
	e.ensure(a, Deliver)
	lf, err := os.OpenFile(ledger.NightPath(e.StateDir, "mods1b", "20260119"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	lf.WriteString(rawName(2) + " step=dispatch status=o")
	lf.Close()
	e.reopen(nil)
	if rep := e.ensure(a, Deliver); !rep.Already {
		t.Fatalf("after torn line: %+v", rep)
	}
	b := e.raw(2, 500)
	e.ensure(b, Deliver)
	e.checkDelivered(b)
	if evs := e.events(b); len(evs) != 3 {
		t.Fatalf("events of %s: %+v", b, evs)
	}
}

func BenchmarkEnsure(b *testing.B) {
	root := b.TempDir()
	opts := optionsIn(root)
	for _, dir := range []string{filepath.Join(opts.DataDir, "mods1b"), opts.ProcDir, opts.RepoDir} {
		os.MkdirAll(dir, 0o755)
	}
	d, err := New(opts, &fakeCond{})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	src := filepath.Join(root, "raw.fits")
	os.WriteFile(src, rawBytes("x", 8<<20), 0o444)
	b.SetBytes(8 << 20)
	seq := 0
	for b.Loop() {
		seq++
		base := rawName(seq)
		if err := os.Link(src, filepath.Join(opts.DataDir, "mods1b", base)); err != nil {
			b.Fatal(err)
		}
		if _, err := d.Ensure(context.Background(), base, Deliver); err != nil {
			b.Fatal(err)
		}
	}
}
