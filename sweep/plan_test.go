package sweep

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/judge"
	"github.com/obsdata/dataman/internal/ledger"
)

// The plan tests build a State by hand: a layout under /x, one file A
// delivered as it should be unless a case changes something.
var (
	planNow    = time.Date(2026, 1, 20, 12, 0, 0, 0, time.UTC)
	planLayout = frame.Layout{DataDir: "/x/data", ProcDir: "/x/proc", RepoDir: "/x/repo", StateDir: "/x/state"}
)

const (
	fileA    = "mods1b.20260119.0007.fits"
	storedA  = "/x/proc/20260119/" + fileA
	newdataA = "/x/repo/" + fileA
	sumA     = "aaaa000000000000000000000000000000000000000000000000000000000000"
	sumB     = "bbbb000000000000000000000000000000000000000000000000000000000000"
	oldMTime = int64(1768800000000000000)
)

// deliveredState is a night in which fileA went through every step and
// every copy is as the ledger recorded.
func deliveredState() *State {
	return &State{
		Layout: planLayout,
		Nights: []string{"20260119"},
		Now:    planNow,
		MinAge: 30 * time.Second,
		Raw:    map[string]File{fileA: {Size: 600, MTime: oldMTime}},
		Listed: map[string]bool{"mods1b": true},
		Ledger: map[string]map[string]ledger.Event{fileA: {
			ledger.StepCondition: {File: fileA, Step: ledger.StepCondition, Status: ledger.StatusOK, OutSHA256: sumA, OutSize: 1700},
			ledger.StepStore:     {File: fileA, Step: ledger.StepStore, Status: ledger.StatusOK, Dest: storedA, OutSHA256: sumA, OutSize: 1700, MTime: oldMTime + 1},
			ledger.StepDispatch:  {File: fileA, Step: ledger.StepDispatch, Status: ledger.StatusOK, Dest: newdataA, OutSHA256: sumA, OutSize: 1700, MTime: oldMTime + 2},
		}},
		Stored:    map[string]File{storedA: {Size: 1700, MTime: oldMTime + 1}},
		Newdata:   map[string]File{newdataA: {Size: 1700, MTime: oldMTime + 2}},
		Sums:      map[string]string{},
		Unchecked: map[string]string{},
	}
}

// setStep changes one ledger event of fileA.
func setStep(s *State, step string, f func(*ledger.Event)) {
	ev := s.Ledger[fileA][step]
	f(&ev)
	s.Ledger[fileA][step] = ev
}

func TestPlan(t *testing.T) {
	type want struct {
		actions   []string // "kind file" or "kind file damaged=path"
		reason    string   // a substring of the first action's reason
		deferred  []string
		knownLost []string
		problem   string // a substring of some problem
	}
	cases := []struct {
		name  string
		state func(*State)
		want  want
	}{
		{"delivered: nothing to do", func(*State) {}, want{}},
		{"not in the ledger", func(s *State) {
			s.Ledger = map[string]map[string]ledger.Event{}
		}, want{actions: []string{"store " + fileA}, reason: "not in the ledger"}},
		{"younger than the minimum age is left for later", func(s *State) {
			s.Ledger = map[string]map[string]ledger.Event{}
			s.Raw[fileA] = File{Size: 600, MTime: planNow.Add(-10 * time.Second).UnixNano()}
		}, want{deferred: []string{fileA}}},
		{"exactly the minimum age is due", func(s *State) {
			s.Ledger = map[string]map[string]ledger.Event{}
			s.Raw[fileA] = File{Size: 600, MTime: planNow.Add(-30 * time.Second).UnixNano()}
		}, want{actions: []string{"store " + fileA}}},
		{"condition failed is retried", func(s *State) {
			setStep(s, ledger.StepCondition, func(e *ledger.Event) { e.Status, e.Reason = ledger.StatusFailed, "short read" })
			delete(s.Ledger[fileA], ledger.StepStore)
			delete(s.Ledger[fileA], ledger.StepDispatch)
		}, want{actions: []string{"store " + fileA}, reason: "condition failed: short read"}},
		{"store failed is retried", func(s *State) {
			setStep(s, ledger.StepStore, func(e *ledger.Event) { e.Status, e.Reason = ledger.StatusFailed, "no space left" })
		}, want{actions: []string{"store " + fileA}, reason: "store failed: no space left"}},
		{"stored copy missing", func(s *State) {
			delete(s.Stored, storedA)
		}, want{actions: []string{"store " + fileA}, reason: "stored copy " + storedA + " is missing"}},
		{"stored copy of another size is removed and made again", func(s *State) {
			s.Stored[storedA] = File{Size: 1000, MTime: oldMTime + 99}
		}, want{actions: []string{"store " + fileA + " damaged=" + storedA}, reason: "has 1000 bytes, the ledger 1700"}},
		{"stored copy failing its checksum is removed and made again", func(s *State) {
			s.Stored[storedA] = File{Size: 1700, MTime: oldMTime + 99}
			s.Sums[storedA] = sumB
		}, want{actions: []string{"store " + fileA + " damaged=" + storedA}, reason: "fails its checksum"}},
		{"stored copy touched but intact is recorded again", func(s *State) {
			s.Stored[storedA] = File{Size: 1700, MTime: oldMTime + 99}
			s.Sums[storedA] = sumA
		}, want{actions: []string{"store " + fileA}, reason: "recording it again"}},
		{"stored copy that could not be read is left alone", func(s *State) {
			s.Stored[storedA] = File{Size: 1700, MTime: oldMTime + 99}
		}, want{problem: "was not read"}},
		{"stored copy that could not be stat'ed is left alone", func(s *State) {
			s.Unchecked[storedA] = "permission denied"
		}, want{problem: fileA + ": permission denied"}},
		{"never dispatched", func(s *State) {
			delete(s.Ledger[fileA], ledger.StepDispatch)
		}, want{actions: []string{"dispatch " + fileA}, reason: "never dispatched"}},
		{"dispatch pending is retried", func(s *State) {
			setStep(s, ledger.StepDispatch, func(e *ledger.Event) { e.Status, e.Reason = ledger.StatusPending, "read-only file system" })
		}, want{actions: []string{"dispatch " + fileA}, reason: "dispatch pending: read-only file system"}},
		{"newdata copy missing", func(s *State) {
			delete(s.Newdata, newdataA)
		}, want{actions: []string{"dispatch " + fileA}, reason: "newdata copy " + newdataA + " is missing"}},
		{"newdata copy of another size", func(s *State) {
			s.Newdata[newdataA] = File{Size: 512, MTime: oldMTime + 99}
		}, want{actions: []string{"redispatch " + fileA + " damaged=" + newdataA}, reason: "has 512 bytes"}},
		{"newdata copy failing its checksum", func(s *State) {
			s.Newdata[newdataA] = File{Size: 1700, MTime: oldMTime + 99}
			s.Sums[newdataA] = sumB
		}, want{actions: []string{"redispatch " + fileA + " damaged=" + newdataA}, reason: "fails its checksum"}},
		{"newdata copy touched but intact is recorded again", func(s *State) {
			s.Newdata[newdataA] = File{Size: 1700, MTime: oldMTime + 99}
			s.Sums[newdataA] = sumA
		}, want{actions: []string{"dispatch " + fileA}, reason: "recording it again"}},
		{"newdata copy of an older stored copy", func(s *State) {
			setStep(s, ledger.StepDispatch, func(e *ledger.Event) { e.OutSHA256 = sumB })
		}, want{actions: []string{"redispatch " + fileA + " damaged=" + newdataA}, reason: "older stored copy"}},
		{"newdata copy that could not be read is left alone", func(s *State) {
			s.Newdata[newdataA] = File{Size: 1700, MTime: oldMTime + 99}
			s.Unchecked[newdataA] = "input/output error"
		}, want{problem: "input/output error"}},
		{"repoDir unreachable: stores still, dispatches not", func(s *State) {
			s.RepoErr = errors.New("timed out")
			delete(s.Stored, storedA)
			s.Raw["mods1b.20260119.0008.fits"] = File{Size: 600, MTime: oldMTime}
			// 0008 is stored but was never dispatched.
			st := s.Ledger[fileA][ledger.StepStore]
			st.File, st.Dest = "mods1b.20260119.0008.fits", "/x/proc/20260119/mods1b.20260119.0008.fits"
			s.Ledger[st.File] = map[string]ledger.Event{ledger.StepStore: st}
			s.Stored[st.Dest] = File{Size: 1700, MTime: oldMTime + 1}
		}, want{actions: []string{"store " + fileA}, problem: "/x/repo: timed out"}},
		{"raw file lost, copies intact: reported", func(s *State) {
			delete(s.Raw, fileA)
		}, want{actions: []string{"lost " + fileA}, reason: "/x/data/mods1b/" + fileA + " is gone"}},
		{"raw file lost and already recorded: nothing to do", func(s *State) {
			delete(s.Raw, fileA)
			s.Ledger[fileA][ledger.StepSweep] = ledger.Event{File: fileA, Step: ledger.StepSweep, Status: ledger.StatusLost}
		}, want{knownLost: []string{fileA}}},
		{"raw file lost, newdata copy missing: dispatched from the stored copy", func(s *State) {
			delete(s.Raw, fileA)
			delete(s.Newdata, newdataA)
		}, want{actions: []string{"lost " + fileA, "dispatch " + fileA}}},
		{"raw file lost, stored copy touched but intact: still dispatched", func(s *State) {
			delete(s.Raw, fileA)
			s.Stored[storedA] = File{Size: 1700, MTime: oldMTime + 99}
			s.Sums[storedA] = sumA
			delete(s.Newdata, newdataA)
		}, want{actions: []string{"lost " + fileA, "dispatch " + fileA}}},
		{"raw file lost with its stored copy: nothing can be made", func(s *State) {
			delete(s.Raw, fileA)
			delete(s.Stored, storedA)
		}, want{actions: []string{"lost " + fileA}, reason: "cannot be made again"}},
		{"raw file that could not be stat'ed is not lost", func(s *State) {
			delete(s.Raw, fileA)
			s.Unchecked["/x/data/mods1b/"+fileA] = "stale NFS file handle"
		}, want{problem: fileA + ": stale NFS file handle"}},
		{"raw folder unreadable: no file is judged lost", func(s *State) {
			delete(s.Raw, fileA)
			s.Listed = map[string]bool{}
		}, want{}},
		{"stale temporaries are removed, fresh ones left", func(s *State) {
			s.Temps = []judge.Temp{
				{Path: "/x/repo/.b.fits.1.0.dmtmp", MTime: planNow.Add(-2 * time.Hour)},
				{Path: "/x/repo/.a.fits.1.0.dmtmp", MTime: planNow.Add(-2 * time.Hour)},
				{Path: "/x/repo/.c.fits.1.0.dmtmp", MTime: planNow.Add(-time.Minute)},
				{Path: "/x/proc/20260119/.a.fits.1.0.dmtmp", MTime: planNow.Add(-3 * time.Hour)},
			}
		}, want{actions: []string{"clean /x/proc/20260119 temps=1", "clean /x/repo temps=2"}, reason: "older than 1h0m0s"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := deliveredState()
			c.state(s)
			p := s.Plan()
			var got []string
			for _, a := range p.Actions {
				got = append(got, describe(a))
			}
			if !slices.Equal(got, c.want.actions) {
				t.Fatalf("actions\n got %q\nwant %q\nplan: %+v", got, c.want.actions, p)
			}
			if c.want.reason != "" && !strings.Contains(p.Actions[0].Reason, c.want.reason) {
				t.Errorf("reason %q does not contain %q", p.Actions[0].Reason, c.want.reason)
			}
			if !slices.Equal(p.Deferred, c.want.deferred) {
				t.Errorf("deferred %q, want %q", p.Deferred, c.want.deferred)
			}
			if !slices.Equal(p.KnownLost, c.want.knownLost) {
				t.Errorf("known lost %q, want %q", p.KnownLost, c.want.knownLost)
			}
			if c.want.problem == "" && len(p.Problems) > 0 {
				t.Errorf("unexpected problems %q", p.Problems)
			}
			if c.want.problem != "" && !slices.ContainsFunc(p.Problems, func(s string) bool { return strings.Contains(s, c.want.problem) }) {
				t.Errorf("problems %q lack %q", p.Problems, c.want.problem)
			}
		})
	}
}

func describe(a Action) string {
	switch {
	case a.Kind == CleanTemps:
		return fmt.Sprintf("%s %s temps=%d", a.Kind, a.Dir, len(a.Temps))
	case a.Damaged != "":
		return fmt.Sprintf("%s %s damaged=%s", a.Kind, a.File, a.Damaged)
	}
	return fmt.Sprintf("%s %s", a.Kind, a.File)
}

// Files are planned in channel, night and sequence order, so the last
// dispatch, which <CHAN>.new names, is the newest: sequence 10000 comes after
// 9999 although it sorts before it as a string.
func TestPlanOrder(t *testing.T) {
	s := deliveredState()
	s.Ledger = map[string]map[string]ledger.Event{}
	s.Listed["mods1r"] = true
	for _, f := range []string{"mods1r.20260119.0001.fits", "mods1b.20260119.10000.fits", "mods1b.20260119.9999.fits", "mods1b.20260118.0500.fits"} {
		s.Raw[f] = File{Size: 1, MTime: oldMTime}
	}
	var got []string
	for _, a := range s.Plan().Actions {
		got = append(got, a.File)
	}
	want := []string{"mods1b.20260118.0500.fits", fileA, "mods1b.20260119.9999.fits", "mods1b.20260119.10000.fits", "mods1r.20260119.0001.fits"}
	if !slices.Equal(got, want) {
		t.Fatalf("order %q, want %q", got, want)
	}
}

// Plan is a function of the State alone.
func TestPlanIsPure(t *testing.T) {
	s := deliveredState()
	delete(s.Newdata, newdataA)
	s.Stored[storedA] = File{Size: 1700, MTime: oldMTime + 99}
	s.Sums[storedA] = sumB
	a, b := s.Plan(), s.Plan()
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Fatalf("two plans of one state differ:\n%v\n%v", a, b)
	}
}
