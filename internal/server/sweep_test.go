package server

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/obsdata/dataman/internal/frame"
)

// A sweep that leaves a frame for being too young is followed by another
// when the frame reaches the minimum age, however long the sweep interval,
// and even with none.
func TestSweepsAgainWhenDeferredFramesAge(t *testing.T) {
	for _, every := range []time.Duration{0, time.Hour} {
		o := testListenOptions(t)
		o.SweepEvery = every
		swept := make(chan int, 10)
		n := 0
		r := startListen(t, o, newListenFake(), Deps{Reconcile: func(context.Context) (time.Time, error) {
			n++
			swept <- n
			if n == 1 {
				return time.Now().Add(10 * time.Millisecond), nil // a frame 10 ms short of the minimum age
			}
			return time.Time{}, nil
		}})
		receive(t, swept, "start-up sweep")
		if got := receive(t, swept, "sweep for the frame come of age"); got != 2 {
			t.Errorf("every %v: sweep %d", every, got)
		}
		r.log.waitFor(t, "sweeping again when a frame left for being too young reaches sweep.minAge", 1)
		r.stop()
		if err := r.wait(t); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-swept:
			t.Errorf("every %v: sweep %d with nothing deferred and the interval not over", every, got)
		default:
		}
	}
}

func TestAgedAt(t *testing.T) {
	lay := frame.Layout{DataDir: t.TempDir()}
	if err := os.Mkdir(filepath.Join(lay.DataDir, "mods1b"), 0o755); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 1, 19, 3, 0, 0, 0, time.UTC)
	for name, age := range map[string]time.Duration{
		"mods1b.20260119.0001.fits": 20 * time.Second,
		"mods1b.20260119.0002.fits": 5 * time.Second,
	} {
		p := filepath.Join(lay.DataDir, "mods1b", name)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, base.Add(-age), base.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	minAge := 30 * time.Second
	got := agedAt(lay, []string{"mods1b.20260119.0002.fits", "mods1b.20260119.0001.fits",
		"mods1b.20260119.0003.fits" /* gone since */, "not a raw name"}, minAge)
	if want := base.Add(10 * time.Second); !got.Equal(want) {
		t.Errorf("agedAt = %v, want %v (the older frame's)", got, want)
	}
	// A frame coming of age right after the first is swept up with it.
	p := filepath.Join(lay.DataDir, "mods1b", "mods1b.20260119.0004.fits")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, base.Add(-19500*time.Millisecond), base.Add(-19500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	got = agedAt(lay, []string{"mods1b.20260119.0002.fits", "mods1b.20260119.0001.fits", "mods1b.20260119.0004.fits"}, minAge)
	if want := base.Add(10500 * time.Millisecond); !got.Equal(want) {
		t.Errorf("agedAt = %v, want %v (the frame half a second younger)", got, want)
	}
	if got := agedAt(lay, []string{"mods1b.20260119.0003.fits"}, minAge); !got.IsZero() {
		t.Errorf("agedAt with nothing left = %v", got)
	}
}
