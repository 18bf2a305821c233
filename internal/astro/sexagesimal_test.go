package astro

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestParseSexagesimal(t *testing.T) {
	tests := []struct {
		in   string
		want float64
	}{
		{"02:42:40.771", 2 + 42.0/60 + 40.771/3600},
		{"-00:00:47.84", -47.84 / 3600},
		{"+00:00:47.84", 47.84 / 3600},
		{"−00:00:47.84", -47.84 / 3600}, // U+2212 minus sign
		{"-00:30:00", -0.5},
		{"-12:30:00", -12.5},
		{"67:48:51.2", 67 + 48.0/60 + 51.2/3600},
		{"02 42 40.771", 2 + 42.0/60 + 40.771/3600},
		{"-00 00 47.84", -47.84 / 3600},
		{"  02:42:40.771  ", 2 + 42.0/60 + 40.771/3600},
		{"12:30", 12.5},
		{"12 30.5", 12 + 30.5/60},
		{"67.8142", 67.8142},
		{"67", 67},
		{"-0.5", -0.5},
		{".5", 0.5},
		{"1e-5", 1e-5},
		{"6.78142e+01", 67.8142},
		{"24:00:00", 24},
		{"12d30m15.5s", 12 + 30.0/60 + 15.5/3600},
		{"-12d30m15.5s", -(12 + 30.0/60 + 15.5/3600)},
		{"12d 30m 15.5s", 12 + 30.0/60 + 15.5/3600},
		{"1h2m3s", 1 + 2.0/60 + 3.0/3600},
		{"2h42m40.771s", 2 + 42.0/60 + 40.771/3600},
		{"1h2m3", 1 + 2.0/60 + 3.0/3600},
		{"1h30", 1.5},
		{"1h30m", 1.5},
		{"1h30.5m", 1 + 30.5/60},
		{"1h", 1},
		{"1.5h", 1.5},
		{"12deg", 12},
		{"02:42:40.771h", 2 + 42.0/60 + 40.771/3600},
		{"12°30′15.5″", 12 + 30.0/60 + 15.5/3600},
		{"12°30'15.5\"", 12 + 30.0/60 + 15.5/3600},
		{"-0", 0},
	}
	for _, tt := range tests {
		got, err := ParseSexagesimal(tt.in)
		if err != nil {
			t.Errorf("ParseSexagesimal(%q): %v", tt.in, err)
			continue
		}
		if math.Abs(got-tt.want) > 1e-14*math.Max(1, math.Abs(tt.want)) {
			t.Errorf("ParseSexagesimal(%q) = %.17g, want %.17g", tt.in, got, tt.want)
		}
	}
}

func TestParseSexagesimalErrors(t *testing.T) {
	for _, in := range []string{
		"", "  ", "-", "+", "--1", "+-1", "1-2", "1:-30:00",
		"abc", "NaN", "nan", "Inf", "+Inf", "-inf", "infinity", "0x1p3", "1_000",
		"1:60:00", "1:00:60", "1:00:60.5", "1:75", "1h60m", "1d0m60s", "1 60 0",
		"1.5:30", "1.5:30:00", "1:30.5:00", "1 30.5 0", "1h30.5m15s",
		"1:2:3:4", "1::2", ":30", "30:", "1 2 3 4",
		"12d30m15.5s extra", "1N", "1x", "02:42:40.771 W", "1e", "1e+", ".", "1..2",
		"1e999", "1" + strings.Repeat("0", 400), "1h2d", "1s", "1m",
	} {
		got, err := ParseSexagesimal(in)
		if err == nil {
			t.Errorf("ParseSexagesimal(%q) = %g, want an error", in, got)
			continue
		}
		if !strings.HasPrefix(err.Error(), "bad angle "+strconv.Quote(in)) {
			t.Errorf("ParseSexagesimal(%q) error %q does not name the value", in, err)
		}
	}
}

func FuzzParseSexagesimal(f *testing.F) {
	for _, s := range []string{
		"02:42:40.771", "-00:00:47.84", "67:48:51.2", "02 42 40.771", "67.8142", "12d30m15.5s", "1h2m3s",
		"12°30′15.5″", "1e-5", "-0", "1:60:00", "NaN", "", "1.5:30", "−1h", "1e308", "99999:59:59.999",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseSexagesimal(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "bad angle ") {
				t.Fatalf("ParseSexagesimal(%q) error %q does not start with \"bad angle \"", s, err)
			}
			return
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("ParseSexagesimal(%q) = %g, want a finite value", s, v)
		}
		// The shortest decimal that round-trips must read back as the same number.
		dec := strconv.FormatFloat(v, 'g', -1, 64)
		w, err := ParseSexagesimal(dec)
		if err != nil {
			t.Fatalf("ParseSexagesimal(%q) = %s, which does not parse back: %v", s, dec, err)
		}
		if w != v {
			t.Fatalf("ParseSexagesimal(%q) = %s, which parses back as %s", s, dec, strconv.FormatFloat(w, 'g', -1, 64))
		}
	})
}
