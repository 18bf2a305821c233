package frame

import (
	"strings"
	"testing"
	"time"
)

func TestParseName(t *testing.T) {
	good := []struct {
		in   string
		want Name
	}{
		{"mods1b.20260119.0001.fits", Name{"mods1b.20260119.0001.fits", "mods1b", "20260119", 1}},
		{"mods2r.20251231.9999.fits", Name{"mods2r.20251231.9999.fits", "mods2r", "20251231", 9999}},
		{"mods1r.20260229.0001.fits", Name{}}, // 2026 is not a leap year: below
		{"mods1r.20280229.12345.fits", Name{"mods1r.20280229.12345.fits", "mods1r", "20280229", 12345}},
		{"testdewar.20260119.0007.fits", Name{"testdewar.20260119.0007.fits", "testdewar", "20260119", 7}},
	}
	for _, tt := range good {
		got, err := ParseName(tt.in)
		if tt.want == (Name{}) {
			if err == nil || !strings.Contains(err.Error(), "20260229 is not a date") {
				t.Errorf("ParseName(%q) = %v, want a date error", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseName(%q) = %+v, %v", tt.in, got, err)
		}
	}
	for _, in := range []string{
		"", "mods1b.20260119.001.fits", "mods1b.20260119.123456.fits", "MODS1B.20260119.0001.fits",
		"mods1b.20260119.0001.fit", "mods1b.2026011.0001.fits", "1mods.20260119.0001.fits",
		"/home/data/mods1b.20260119.0001.fits", "../mods1b.20260119.0001.fits", "mods1b.20260119.0001.fits ",
		".mods1b.20260119.0001.fits", "mods1b.20261319.0001.fits",
	} {
		_, err := ParseName(in)
		if err == nil {
			t.Errorf("ParseName(%q) accepted", in)
			continue
		}
		if in != "" && !strings.Contains(err.Error(), strings.TrimSpace(in)) {
			t.Errorf("error %q does not name %q", err, in)
		}
	}
}

func TestLayoutPaths(t *testing.T) {
	l := Layout{DataDir: "/data", ProcDir: "/home/data", RepoDir: "/lbt/data/new", StateDir: "/var/lib/dataman"}
	n, err := ParseName("mods1b.20260119.0001.fits")
	if err != nil {
		t.Fatal(err)
	}
	for got, want := range map[string]string{
		l.Raw(n):        "/data/mods1b/mods1b.20260119.0001.fits",
		l.Stored(n):     "/home/data/20260119/mods1b.20260119.0001.fits",
		l.Dispatched(n): "/lbt/data/new/mods1b.20260119.0001.fits",
		l.LastFile(n):   "/lbt/data/new/MODS1B.new",
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

func TestUniqTime(t *testing.T) {
	for name, want := range map[string]string{
		"mods1.20260119.031245.fits":   "2026-01-19T03:12:45Z",
		"mods1.20260119.031245-2.fits": "2026-01-19T03:12:45Z",
		"mods1b.20260119.0001.fits":    "",
		"mods1.20261319.031245.fits":   "",
		"x.fits":                       "",
	} {
		got, ok := UniqTime(name)
		if ok != (want != "") || ok && got.Format(time.RFC3339) != want {
			t.Errorf("UniqTime(%q) = %v, %v; want %q", name, got, ok, want)
		}
	}
}
