package verify

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/obsdata/dataman/internal/ledger"
)

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
