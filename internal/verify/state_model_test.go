package verify

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/obsdata/dataman/fits/synth"
	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/frame"
)

// A dispatched copy the archive took is a normal state where repoDir has
// a consumer, and a missing copy where it has none.
func TestVerifyTakenCopy(t *testing.T) {
	o := deliveredNight(t, 2, "1k-2x2")
	n, _ := frame.ParseName(seqName(1))
	os.Remove(o.Layout.Dispatched(n))

	o.Consumed = true
	rep, err := Run(context.Background(), o)
	if err != nil || rep.Summary.Problems() != 0 {
		t.Fatalf("taken copy with a consumer: %v, %+v", err, rep.Files)
	}
	if r := rep.Files[0]; r.File != n.Base || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "archive took") {
		t.Fatalf("result %+v", r)
	}
	o.Consumed = false
	rep, _ = Run(context.Background(), o)
	if rep.Files[0].Status != Missing {
		t.Fatalf("no consumer: %+v", rep.Files[0])
	}
}

// A new exposure under a delivered name is verified with the earlier one:
// both are reported, and neither's copies are extra.
func TestVerifyBothExposures(t *testing.T) {
	o := deliveredNight(t, 1, "1k-2x2")
	rawDir := filepath.Join(o.Layout.DataDir, "mods1b")
	f := synth.Default("mods1b", 1, "1k-2x2")
	f.Start = f.Start.Add(30 * time.Second) // another exposure under the same number
	os.Remove(filepath.Join(rawDir, seqName(1)))
	if _, err := synth.WriteFile(rawDir, f); err != nil {
		t.Fatal(err)
	}
	d, err := o.Deliverer()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := d.Ensure(context.Background(), seqName(1), deliver.Deliver)
	d.Close()
	if err != nil || rep.Already || filepath.Base(rep.Stored) == seqName(1) {
		t.Fatalf("second exposure: %+v, %v", rep, err)
	}
	got, err := Run(context.Background(), o)
	if err != nil || got.Summary.Problems() != 0 || len(got.Files) != 2 {
		t.Fatalf("verify: %v, %+v", err, got.Files)
	}
	if got.Files[0].File != seqName(1) || got.Files[0].Stored != rep.Stored ||
		!strings.HasPrefix(got.Files[1].File, seqName(1)+" (earlier exposure") ||
		got.Files[1].Stored != filepath.Join(o.Layout.ProcDir, "20260119", seqName(1)) {
		t.Fatalf("results %+v", got.Files)
	}
}
