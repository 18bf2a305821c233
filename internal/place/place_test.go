package place

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/obsdata/dataman/internal/atomicfile"
)

func TestCandidate(t *testing.T) {
	const base, uniq = "mods1b.20260119.0001.fits", "mods1b.20260119.031345.fits"
	for _, tc := range []struct {
		uniq string
		i    int
		want string
		err  bool
	}{
		{uniq, 0, base, false},
		{uniq, 1, uniq, false},
		{uniq, 2, "mods1b.20260119.031345-2.fits", false},
		{uniq, 1000, "mods1b.20260119.031345-1000.fits", false},
		{uniq, 1001, "", true},
		{"noext", 3, "noext-3", false},
		{"", 0, base, false},
		{"", 1, "", true},
		{"a/b.fits", 1, "", true},
		{".hidden.fits", 1, "", true},
	} {
		got, err := Candidate(base, tc.uniq, tc.i)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("Candidate(%q, %d) = %q, %v; want %q, error %v", tc.uniq, tc.i, got, err, tc.want, tc.err)
		}
		if err != nil && !errors.Is(err, ErrCollision) {
			t.Errorf("Candidate(%q, %d): %v does not wrap ErrCollision", tc.uniq, tc.i, err)
		}
	}
}

// temp writes data into a new temporary for name in dir.
func temp(t *testing.T, dir, name, data string) (*atomicfile.File, *Content) {
	t.Helper()
	f, err := atomicfile.Create(dir, name, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Abort() })
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	c, err := File(f.File)
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPlace(t *testing.T) {
	const base, uniq = "x.fits", "u.fits"
	for _, tc := range []struct {
		name     string
		existing map[string]string
		policy   Policy
		own      bool
		want     string // the name the content ends up under
		already  bool
		err      error
	}{
		{name: "free", want: base},
		{name: "identical", existing: map[string]string{base: "new"}, want: base, already: true},
		{name: "same size, other bytes", existing: map[string]string{base: "old"}, want: uniq},
		{name: "other size", existing: map[string]string{base: "older"}, want: uniq},
		{name: "renamed before", existing: map[string]string{base: "old", uniq: "new"}, want: uniq, already: true},
		{name: "uniq taken too", existing: map[string]string{base: "old", uniq: "xyz"}, want: "u-2.fits"},
		{name: "policy error", existing: map[string]string{base: "old"}, policy: Error, err: ErrCollision},
		{name: "policy error, identical", existing: map[string]string{base: "new"}, policy: Error, want: base, already: true},
		{name: "overwrite", existing: map[string]string{base: "old"}, policy: Overwrite, want: base},
		{name: "own damaged copy", existing: map[string]string{base: "old"}, own: true, want: base},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for n, data := range tc.existing {
				write(t, filepath.Join(dir, n), data)
			}
			f, c := temp(t, dir, base, "new")
			var taken []string
			tg := Target{Dir: dir, Base: base, Uniq: uniq, Policy: tc.policy,
				Own:   func(string) bool { return tc.own },
				Taken: func(p string) { taken = append(taken, filepath.Base(p)) },
			}
			path, already, err := tg.Place(context.Background(), f, c)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				for n, data := range tc.existing {
					if got := read(t, filepath.Join(dir, n)); got != data {
						t.Errorf("%s was changed to %q", n, got)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(path) != tc.want || already != tc.already {
				t.Errorf("placed at %s (already %v), want %s (already %v)", filepath.Base(path), already, tc.want, tc.already)
			}
			if got := read(t, path); got != "new" {
				t.Errorf("%s holds %q", path, got)
			}
			for n, data := range tc.existing {
				if filepath.Join(dir, n) != path {
					if got := read(t, filepath.Join(dir, n)); got != data {
						t.Errorf("%s was changed to %q", n, got)
					}
				}
			}
			if tc.policy == "" && !tc.own && len(tc.existing) > 0 && !tc.already && len(taken) == 0 {
				t.Errorf("Taken was not told of the names passed over")
			}
			left, _ := filepath.Glob(filepath.Join(dir, ".*"))
			if len(left) != 0 {
				t.Errorf("temporaries left: %v", left)
			}
		})
	}
}

// Two writers racing for one name with different bytes never overwrite each
// other: one gets the name, the other the UNIQNAME.
func TestPlaceRace(t *testing.T) {
	for range 20 {
		dir := t.TempDir()
		tg := Target{Dir: dir, Base: "x.fits", Uniq: "u.fits"}
		var wg sync.WaitGroup
		paths := make([]string, 2)
		for i, data := range []string{"aaa", "bbb"} {
			f, c := temp(t, dir, "x.fits", data)
			wg.Add(1)
			go func() {
				defer wg.Done()
				p, _, err := tg.Place(context.Background(), f, c)
				if err != nil {
					t.Error(err)
				}
				paths[i] = p
			}()
		}
		wg.Wait()
		if paths[0] == paths[1] {
			t.Fatalf("both placed at %s", paths[0])
		}
		if read(t, paths[0]) != "aaa" || read(t, paths[1]) != "bbb" {
			t.Fatalf("contents swapped or lost")
		}
	}
}

// The content of a file is hashed only when a name holds a file of its
// size.
func TestContentHashedOnlyWhenNeeded(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "x.fits"), "longer")
	f, c := temp(t, dir, "x.fits", "new")
	tg := Target{Dir: dir, Base: "x.fits", Uniq: "u.fits"}
	if _, _, err := tg.Choose(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if c.d.Sum != "" {
		t.Errorf("hashed although no name held a file of its size")
	}
	write(t, filepath.Join(dir, "u.fits"), "abc")
	if _, _, err := tg.Choose(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	if c.d.Sum == "" {
		t.Errorf("not hashed although u.fits has its size")
	}
	f.Abort()
}
