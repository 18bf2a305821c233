package condition

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsdata/dataman/internal/place"
)

func TestPlan(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a/mods1b.20260119.0001.fits", "b/mods1b.20260119.0001.fits", "a/mods1r.20260120.0001.fits"} {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a1 := filepath.Join(dir, "a/mods1b.20260119.0001.fits")
	b1 := filepath.Join(dir, "b/mods1b.20260119.0001.fits")
	r1 := filepath.Join(dir, "a/mods1r.20260120.0001.fits")
	missing := filepath.Join(dir, "c/mods1b.20260119.0001.fits")

	groups, err := plan(Options{Files: []string{b1, r1, a1, "notraw.fits"}, OutDir: "out", ByNight: true, Policy: place.Rename})
	if err != nil {
		t.Fatal(err)
	}
	got := [][]int{}
	for _, g := range groups {
		var is []int
		for _, it := range g {
			is = append(is, it.i)
		}
		got = append(got, is)
	}
	// The two files of one name are one group, in list order.
	if want := "[[0 2] [1] [3]]"; fmt.Sprint(got) != want {
		t.Errorf("groups %v, want %s", got, want)
	}
	if groups[0][0].dir != filepath.Join("out", "20260119") || groups[1][0].dir != filepath.Join("out", "20260120") {
		t.Errorf("folders %s, %s", groups[0][0].dir, groups[1][0].dir)
	}
	if groups[2][0].err == nil {
		t.Errorf("notraw.fits has no error under ByNight")
	}

	for _, pol := range []place.Policy{place.Error, place.Overwrite} {
		_, err := plan(Options{Files: []string{a1, r1, b1}, OutDir: "out", Policy: pol})
		if err == nil || !strings.Contains(err.Error(), a1+" and "+b1+": both would be written as out/mods1b.20260119.0001.fits") {
			t.Errorf("%s: %v", pol, err)
		}
		// The same file twice, or a file that cannot be read, is no clash.
		if _, err := plan(Options{Files: []string{a1, a1, missing}, OutDir: "out", Policy: pol}); err != nil {
			t.Errorf("%s: %v", pol, err)
		}
	}
}
