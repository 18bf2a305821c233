package verify

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/ledger"
)

func TestLocate(t *testing.T) {
	l := layoutIn("/x")
	n, _ := frame.ParseName("mods1b.20260119.0001.fits")
	uniq := "/x/newdata/mods1b.20260119.031345.fits"
	ok := func(step, dest string) ledger.Event {
		return ledger.Event{File: n.Base, Step: step, Status: ledger.StatusOK, Dest: dest}
	}
	tests := []struct {
		name               string
		events             []ledger.Event
		stored, dispatched string
		recStored, recDisp bool
		whyStored, whyDisp string
	}{
		{name: "unknown", stored: l.Stored(n), dispatched: l.Dispatched(n)},
		{
			name:   "delivered under the UNIQNAME",
			events: []ledger.Event{ok(ledger.StepStore, l.Stored(n)), ok(ledger.StepDispatch, uniq)},
			stored: l.Stored(n), dispatched: uniq, recStored: true, recDisp: true,
		},
		{
			name:   "condition failed",
			events: []ledger.Event{{File: n.Base, Step: ledger.StepCondition, Status: ledger.StatusFailed, Reason: "geometry: bad DATASEC"}},
			stored: l.Stored(n), dispatched: l.Dispatched(n),
			whyStored: "condition failed: geometry: bad DATASEC", whyDisp: "not stored",
		},
		{
			name: "dispatch pending",
			events: []ledger.Event{ok(ledger.StepStore, l.Stored(n)),
				{File: n.Base, Step: ledger.StepDispatch, Status: ledger.StatusPending, Reason: "stat /newdata: no such file or directory"}},
			stored: l.Stored(n), dispatched: l.Dispatched(n), recStored: true,
			whyDisp: "dispatch pending: stat /newdata: no such file or directory",
		},
		{
			name:   "already there",
			events: []ledger.Event{{File: n.Base, Step: ledger.StepStore, Status: ledger.StatusAlready, Dest: "/x/proc/20260119/other.fits"}},
			stored: "/x/proc/20260119/other.fits", dispatched: l.Dispatched(n), recStored: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := map[string]ledger.Event{}
			for _, ev := range tt.events {
				state[ev.Step] = ev
			}
			s, d := Locate(l, n, state)
			if s.Path != tt.stored || d.Path != tt.dispatched {
				t.Errorf("paths %s, %s; want %s, %s", s.Path, d.Path, tt.stored, tt.dispatched)
			}
			if (s.Recorded != nil) != tt.recStored || (d.Recorded != nil) != tt.recDisp {
				t.Errorf("recorded %v, %v; want %v, %v", s.Recorded != nil, d.Recorded != nil, tt.recStored, tt.recDisp)
			}
			if s.Why != tt.whyStored || d.Why != tt.whyDisp {
				t.Errorf("why %q, %q; want %q, %q", s.Why, d.Why, tt.whyStored, tt.whyDisp)
			}
		})
	}
}

func TestStatFlagsMissingCopies(t *testing.T) {
	dir := t.TempDir()
	present := writeFile(t, dir, "present", []byte("x"))
	rec := &ledger.Event{Step: ledger.StepDispatch, Status: ledger.StatusOK}
	tests := []struct {
		name   string
		c      Copy
		exists bool
		status Status
		want   string
	}{
		{"present", Copy{Step: ledger.StepStore, Path: present}, true, OK, ""},
		{"gone", Copy{Step: ledger.StepDispatch, Path: filepath.Join(dir, "gone"), Recorded: rec}, false, Missing, "is gone (the ledger recorded it)"},
		{"explained", Copy{Step: ledger.StepDispatch, Path: filepath.Join(dir, "gone"), Why: "dispatch pending: full"}, false, Missing, "no dispatched copy: dispatch pending: full"},
		{"unexplained", Copy{Step: ledger.StepStore, Path: filepath.Join(dir, "gone")}, false, Missing, "no stored copy: the ledger has no record of it"},
		{"a folder", Copy{Step: ledger.StepStore, Path: dir}, false, Error, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Result{Status: OK}
			_, ok := tt.c.Stat(&r)
			if ok != tt.exists || r.Status != tt.status {
				t.Fatalf("exists %v status %q; want %v %q", ok, r.Status, tt.exists, tt.status)
			}
			if got := strings.Join(r.Problems, ";"); !strings.Contains(got, tt.want) {
				t.Errorf("problems %q, want %q in them", got, tt.want)
			}
			if !tt.exists && tt.status == Missing && !slices.Contains(r.Redo, tt.c.Step) {
				t.Errorf("a missing %s is not marked for redoing: %v", tt.c.Name(), r.Redo)
			}
		})
	}
}

func TestCheckLedger(t *testing.T) {
	rec := &ledger.Event{Step: ledger.StepStore, Status: ledger.StatusOK, OutSHA256: "aaaa", OutSize: 10}
	tests := []struct {
		name       string
		c          Copy
		sum        Sum
		status     Status
		invalidate bool
	}{
		{"agrees", Copy{Step: ledger.StepStore, Recorded: rec}, Sum{SHA256: "aaaa", Size: 10}, OK, false},
		{"other sum", Copy{Step: ledger.StepStore, Recorded: rec}, Sum{SHA256: "bbbb", Size: 10}, Differs, true},
		{"other size", Copy{Step: ledger.StepStore, Recorded: rec}, Sum{SHA256: "aaaa", Size: 11}, Differs, true},
		{"no record", Copy{Step: ledger.StepStore}, Sum{SHA256: "aaaa", Size: 10}, Differs, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Result{Status: OK}
			tt.c.CheckLedger(&r, tt.sum)
			if r.Status != tt.status {
				t.Errorf("status %q, want %q (%v)", r.Status, tt.status, r.Problems)
			}
			if got := slices.Contains(r.Invalidate, tt.c.Step); got != tt.invalidate {
				t.Errorf("invalidate %v, want %v", got, tt.invalidate)
			}
		})
	}
}
