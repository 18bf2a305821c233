package sweep

import (
	"errors"
	"io/fs"
	"testing"
)

// A sweep records what it did for dataman status; a dry run records
// nothing, since it changes nothing.
func TestLastSweepRecorded(t *testing.T) {
	n := newTestNight(t)
	n.addRaw(3, 2880)
	n.deliver(1)

	o := n.options()
	o.DryRun = true
	n.run(o)
	if _, err := ReadLast(n.lay.StateDir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after a dry run: %v, want no record", err)
	}

	n.run(n.options())
	l, err := ReadLast(n.lay.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	if l.Time.IsZero() || len(l.Nights) != 1 || l.Nights[0] != night || l.Actions[Store] != 2 || l.Failed != 0 || l.Error != "" {
		t.Errorf("record %+v, want 2 store actions over %s", l, night)
	}

	n.run(n.options())
	if l, err = ReadLast(n.lay.StateDir); err != nil || len(l.Actions) != 0 {
		t.Errorf("after a no-op sweep: %+v, %v", l, err)
	}
}
