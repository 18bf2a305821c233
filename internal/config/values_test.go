package config

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64 // -1: an error
	}{
		{"0", 0}, {"1", 1}, {"1048576", 1 << 20}, {"0B", 0}, {"7B", 7},
		{"1kB", 1000}, {"1KB", 1000}, {"1kb", 1000}, {"1KiB", 1024}, {"1kib", 1024},
		{"500MB", 500e6}, {"500 MB", 500e6}, {"2GiB", 2 << 30}, {"2gib", 2 << 30}, {"1GB", 1e9},
		{"1.5GiB", 3 << 29}, {"0.1KB", 100}, {"3TiB", 3 << 40}, {"2TB", 2e12},
		{"9223372036854775807", math.MaxInt64},
		{"", -1}, {"-1", -1}, {"+1", -1}, {"1e3", -1}, {"G", -1}, {"2G", -1}, {"2M", -1}, {"1.5B", -1},
		{".5MB", -1}, {"5.MB", -1}, {"1..2MB", -1}, {"1/2GiB", -1}, {"1  MB", -1}, {" 1MB", -1},
		{"9223372036854775808", -1}, {"8EiB", -1}, {"0x10", -1}, {"１MB", -1},
	} {
		got, err := parseSize(tc.in)
		if err != nil {
			got = -1
		}
		if got != tc.want {
			t.Errorf("parseSize(%q) = %d (%v), want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for _, tc := range []struct {
		in   int64
		want string
	}{
		{0, "0"}, {1, "1B"}, {999, "999B"}, {1000, "1kB"}, {1024, "1KiB"}, {1536, "1536B"}, {3000, "3kB"},
		{1 << 30, "1GiB"}, {3 << 29, "1536MiB"}, {500e6, "500MB"}, {2e12, "2TB"}, {1 << 50, "1024TiB"}, {1953125 << 30, "1953125GiB"}, {5e15, "5000TB"},
		{math.MaxInt64, "9223372036854775807B"},
	} {
		got := formatSize(tc.in)
		if got != tc.want {
			t.Errorf("formatSize(%d) = %q, want %q", tc.in, got, tc.want)
		}
		if back, err := parseSize(got); err != nil || back != tc.in {
			t.Errorf("parseSize(formatSize(%d)) = %d, %v", tc.in, back, err)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"}, {5 * time.Second, "5s"}, {5 * time.Minute, "5m"}, {10 * time.Minute, "10m"},
		{time.Hour, "1h"}, {90 * time.Minute, "1h30m"}, {time.Hour + 30*time.Second, "1h0m30s"},
		{1500 * time.Millisecond, "1.5s"}, {time.Microsecond, "1µs"}, {25 * time.Hour, "25h"},
	} {
		got := formatDuration(tc.in)
		if got != tc.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tc.in, got, tc.want)
		}
		if back, err := time.ParseDuration(got); err != nil || back != tc.in {
			t.Errorf("ParseDuration(%q) = %v, %v, want %v", got, back, err, tc.in)
		}
	}
}

func TestQuoteCutsLongValues(t *testing.T) {
	long := strings.Repeat("é", 100)
	got := quote(long)
	if want := `"` + strings.Repeat("é", 64) + `"…`; got != want {
		t.Errorf("quote(100×é) = %s, want %s", got, want)
	}
	if got := quote("Y"); got != `"Y"` {
		t.Errorf("quote(Y) = %s", got)
	}
}

func FuzzLoad(f *testing.F) {
	for _, name := range []string{"dataman_MODS1.ini", "dataman_MODS2.ini"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "config", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(DefaultYAML())
	for _, s := range []string{
		"", "---\n", "debug: maybe\n", "a: &x [*x]\n", "delivery: &d {proc: *d}\n",
		"server: {quitPeers: [::1, 127.0.0.1]}\n", "<<: {debug: Y}\n", "debug: N\n---\n",
		"delivery: {proc: {minFree: 0.5KiB}, repo: &r {timeout: 1s}, retry: *r}\n",
		"sweep: {schedule: \"TZ=UTC @every 1h\"}\n", "sweep: {schedule: TZ=}", "site: {latitude: -0}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := Default()
		err := c.applyYAML("fuzz.ini", data, SourceFile)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config: fuzz.ini") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		// Whatever loaded must print and read back to itself.
		d := new(Config)
		for _, e := range c.Entries() {
			if err := d.Set(e.Key, e.Value, e.Source); err != nil {
				t.Fatalf("Set(%q, %q) after loading: %v", e.Key, e.Value, err)
			}
		}
		if a, b := c.Entries(), d.Entries(); len(a) != len(b) {
			t.Fatal("entries differ in length")
		} else {
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("entry %d: loaded %+v, read back %+v", i, a[i], b[i])
				}
			}
		}
		if h := c.ProcessingHash(); len(h) != len("sha256:")+16 {
			t.Fatalf("ProcessingHash() = %q", h)
		}
	})
}
