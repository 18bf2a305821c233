package condition

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
)

func TestShard(t *testing.T) {
	// 4 nights × 3 channels × 5 frames, one name found twice.
	var files []string
	for _, night := range []string{"20260119", "20260120", "20260121", "20260122"} {
		for _, ch := range []string{"mods1b", "mods1r", "mods2b"} {
			for seq := 1; seq <= 5; seq++ {
				files = append(files, fmt.Sprintf("/raw/%s/%s/%s.%s.%04d.fits", night, ch, ch, night, seq))
			}
		}
	}
	dup := "/raw/again/mods1r/mods1r.20260120.0003.fits"
	files = append(files, dup)
	for _, n := range []int{1, 2, 7, 8, 60, 61, 100} {
		seen := map[string]int{}
		taskOf := map[string]int{}
		sizes := []int{}
		for i := range n {
			share := Shard(files, i, n)
			if !slices.Equal(share, Shard(files, i, n)) {
				t.Fatalf("n=%d: task %d's share changes between calls", n, i)
			}
			names := map[string]bool{}
			for k, f := range share {
				seen[f]++
				base := filepath.Base(f)
				if t0, ok := taskOf[base]; ok && t0 != i {
					t.Errorf("n=%d: %s is in tasks %d and %d", n, base, t0, i)
				}
				taskOf[base] = i
				names[base] = true
				// List order is kept.
				if k > 0 && slices.Index(files, share[k-1]) > slices.Index(files, f) {
					t.Errorf("n=%d: task %d's share is out of list order", n, i)
				}
			}
			sizes = append(sizes, len(names))
		}
		for _, f := range files {
			if seen[f] != 1 {
				t.Errorf("n=%d: %s is in %d shares", n, f, seen[f])
			}
		}
		if lo, hi := slices.Min(sizes), slices.Max(sizes); hi-lo > 1 {
			t.Errorf("n=%d: shares of %d to %d names", n, lo, hi)
		}
	}
}

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		in   string
		i, n int
		err  bool
	}{
		{"0/1", 0, 1, false},
		{"3/8", 3, 8, false},
		{"7/8", 7, 8, false},
		{"8/8", 0, 0, true},
		{"-1/8", 0, 0, true},
		{"0/0", 0, 0, true},
		{"0/4194304", 0, 4194304, false},
		{"0/4194305", 0, 0, true},
		{"3", 0, 0, true},
		{"a/b", 0, 0, true},
		{"", 0, 0, true},
	} {
		i, n, err := ParseShard(tc.in)
		if i != tc.i || n != tc.n || (err != nil) != tc.err {
			t.Errorf("ParseShard(%q) = %d, %d, %v", tc.in, i, n, err)
		}
	}
}

func TestArraySpec(t *testing.T) {
	for _, tc := range []struct {
		in   []int
		want string
	}{
		{nil, ""},
		{[]int{3}, "3"},
		{[]int{3, 5}, "3,5"},
		{[]int{0, 1, 2, 5, 7, 8}, "0-2,5,7-8"},
	} {
		if got := ArraySpec(tc.in); got != tc.want {
			t.Errorf("ArraySpec(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzParseShard(f *testing.F) {
	for _, s := range []string{"0/1", "3/8", "8/8", "-1/2", "1/", "/", "", "99999999999999999999/1", "1/2/3", " 1/2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		i, n, err := ParseShard(s)
		if err != nil {
			return
		}
		if i < 0 || i >= n {
			t.Fatalf("ParseShard(%q) = %d, %d", s, i, n)
		}
		if i2, n2, err := ParseShard(fmt.Sprintf("%d/%d", i, n)); err != nil || i2 != i || n2 != n {
			t.Fatalf("ParseShard(%q) = %d/%d does not read back: %d, %d, %v", s, i, n, i2, n2, err)
		}
	})
}
