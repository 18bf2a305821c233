package astro

import (
	"strings"
	"testing"
)

func TestCombineDateTime(t *testing.T) {
	tests := []struct {
		date, utc string
		want      string
	}{
		{"2025-12-10", "19:08:07.251", "2025-12-10T19:08:07.251"},
		{"2025-12-10", "19:08:07.000", "2025-12-10T19:08:07.000"},
		{"2025-12-10", "19:08:07", "2025-12-10T19:08:07"},
		// Only ".1000" is azcam's rounding bug; these are ordinary fractions and stay as written.
		{"2025-12-10", "19:08:07.100", "2025-12-10T19:08:07.100"},
		{"2025-12-10", "19:08:07.10000", "2025-12-10T19:08:07.10000"},
		{"2025-12-10", "19:08:07.0999", "2025-12-10T19:08:07.0999"},
		{"2025-12-10", "19:08:07.25", "2025-12-10T19:08:07.25"},
		// ".1000" carries one second into every field in turn.
		{"2025-12-10", "19:08:07.1000", "2025-12-10T19:08:08.000"},
		{"2025-12-10", "19:08:59.1000", "2025-12-10T19:09:00.000"},
		{"2025-12-10", "19:59:59.1000", "2025-12-10T20:00:00.000"},
		{"2025-12-10", "23:59:59.1000", "2025-12-11T00:00:00.000"},
		{"2025-11-30", "23:59:59.1000", "2025-12-01T00:00:00.000"},
		{"2025-12-31", "23:59:59.1000", "2026-01-01T00:00:00.000"},
		{"2024-02-28", "23:59:59.1000", "2024-02-29T00:00:00.000"},
		{"2025-02-28", "23:59:59.1000", "2025-03-01T00:00:00.000"},
		{"2100-02-28", "23:59:59.1000", "2100-03-01T00:00:00.000"},
		// On a day that ends with a leap second, the second after 23:59:59 is 23:59:60.
		{"2016-12-31", "23:59:59.1000", "2016-12-31T23:59:60.000"},
		{"2016-12-31", "23:59:60.1000", "2017-01-01T00:00:00.000"},
		{"2016-12-31", "23:59:60.500", "2016-12-31T23:59:60.500"},
		{"2015-06-30", "23:59:59.1000", "2015-06-30T23:59:60.000"},
	}
	for _, tt := range tests {
		got, err := CombineDateTime(tt.date, tt.utc)
		if err != nil {
			t.Errorf("CombineDateTime(%q, %q): %v", tt.date, tt.utc, err)
			continue
		}
		if got != tt.want {
			t.Errorf("CombineDateTime(%q, %q) = %q, want %q", tt.date, tt.utc, got, tt.want)
		}
		if _, err := ParseISO(got); err != nil {
			t.Errorf("CombineDateTime(%q, %q) = %q, which ParseISO refuses: %v", tt.date, tt.utc, got, err)
		}
	}
}

func TestCombineDateTimeErrors(t *testing.T) {
	tests := []struct {
		date, utc string
		want      string // in the error
	}{
		{"2025-13-10", "19:08:07.251", `bad date "2025-13-10"`},
		{"2025-00-10", "19:08:07.251", `bad date "2025-00-10"`},
		{"2025-02-29", "19:08:07.251", `bad date "2025-02-29"`},
		{"2025-04-31", "19:08:07.251", `bad date "2025-04-31"`},
		{"2025-12-00", "19:08:07.251", `bad date "2025-12-00"`},
		// Already combined (a reprocessed file): dataMan v1.2.4 would make …T…T…; the caller must not get there.
		{"2025-12-10T19:08:07.251", "19:08:07.251", `bad date "2025-12-10T19:08:07.251"`},
		{"25-12-10", "19:08:07.251", `bad date "25-12-10"`},
		{"2025/12/10", "19:08:07.251", `bad date "2025/12/10"`},
		{"+025-12-10", "19:08:07.251", `bad date "+025-12-10"`},
		{"", "19:08:07.251", `bad date ""`},
		{"2025-12-10", "24:00:00.000", `bad time "24:00:00.000"`},
		{"2025-12-10", "19:60:00.000", `bad time "19:60:00.000"`},
		{"2025-12-10", "19:08:60.000", `bad time "19:08:60.000"`},
		{"2025-12-31", "23:59:60.000", `bad time "23:59:60.000"`}, // no leap second at the end of 2025
		{"2016-12-31", "23:59:61.000", `bad time "23:59:61.000"`},
		{"2016-12-31", "23:58:60.000", `bad time "23:58:60.000"`},
		{"2025-12-10", "19:08:07.", `bad time "19:08:07."`},
		{"2025-12-10", "19:08:07.25a", `bad time "19:08:07.25a"`},
		{"2025-12-10", "19:08:07,251", `bad time "19:08:07,251"`},
		{"2025-12-10", "19:8:07.251", `bad time "19:8:07.251"`},
		{"2025-12-10", "-9:08:07.251", `bad time "-9:08:07.251"`},
		{"2025-12-10", " 19:08:07.251", `bad time " 19:08:07.251"`},
		{"2025-12-10", "", `bad time ""`},
		{"9999-12-31", "23:59:59.1000", `past year 9999`},
	}
	for _, tt := range tests {
		got, err := CombineDateTime(tt.date, tt.utc)
		if err == nil {
			t.Errorf("CombineDateTime(%q, %q) = %q, want an error", tt.date, tt.utc, got)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CombineDateTime(%q, %q) error %q, want it to contain %q", tt.date, tt.utc, err, tt.want)
		}
	}
}

func TestCarrySecond60(t *testing.T) {
	tests := []struct {
		date, utc           string
		wantDate, wantClock string
		ok                  bool
	}{
		// astropy 5.2.1: Time("2026-01-19T23:59:60.000").mjd is 61060.0, Time("2026-01-19T12:00:60.000") is 12:01:00.
		{"2026-01-19", "23:59:60.000", "2026-01-20", "00:00:00.000", true},
		{"2026-01-19", "12:00:60.000", "2026-01-19", "12:01:00.000", true},
		{"2026-01-19", "12:00:60.5", "2026-01-19", "12:01:00.5", true},
		{"2025-12-31", "23:59:60.1000", "2026-01-01", "00:00:00.1000", true},
		// A real leap second, and every other second, are not for it.
		{"2016-12-31", "23:59:60.500", "", "", false},
		{"2026-01-19", "23:59:59.000", "", "", false},
		{"2026-01-19", "23:59:61.000", "", "", false},
		{"2026-01-19", "garbage", "", "", false},
		{"9999-12-31", "23:59:60", "", "", false},
	}
	for _, tt := range tests {
		d, c, ok := CarrySecond60(tt.date, tt.utc)
		if ok != tt.ok || d != tt.wantDate || c != tt.wantClock {
			t.Errorf("CarrySecond60(%q, %q) = %q, %q, %v; want %q, %q, %v", tt.date, tt.utc, d, c, ok, tt.wantDate, tt.wantClock, tt.ok)
		}
	}
}

func TestParseISO(t *testing.T) {
	tests := []struct {
		iso string
		mjd float64
	}{
		{"1858-11-17T00:00:00", 0},
		{"2000-01-01T12:00:00", 51544.5},
		{"2026-01-19T00:00:00.000", 61059},
		{"2026-01-19T18:00:00", 61059.75},
		// The leap-second day is 86401 s long in SOFA's quasi-JD, as in astropy.
		{"2016-12-31T23:59:60.5", 57753 + 86400.5/86401},
		{"2016-12-31T12:00:00", 57753 + 43200.0/86401},
	}
	for _, tt := range tests {
		got, err := ParseISO(tt.iso)
		if err != nil {
			t.Errorf("ParseISO(%q): %v", tt.iso, err)
			continue
		}
		if m := got.MJD(); m != tt.mjd {
			t.Errorf("ParseISO(%q).MJD() = %.12f, want %.12f", tt.iso, m, tt.mjd)
		}
		if got.JD1 != float64(int64(got.JD1)) || got.JD2 < -0.5 || got.JD2 > 0.5 {
			t.Errorf("ParseISO(%q) = %+v, want a whole JD1 and |JD2| ≤ 0.5", tt.iso, got)
		}
	}

	// Across the leap second time runs on.
	var prev float64
	for i, iso := range []string{"2016-12-31T23:59:59.999", "2016-12-31T23:59:60", "2016-12-31T23:59:60.999", "2017-01-01T00:00:00"} {
		got, err := ParseISO(iso)
		if err != nil {
			t.Fatalf("ParseISO(%q): %v", iso, err)
		}
		if m := got.MJD(); i > 0 && m <= prev {
			t.Errorf("ParseISO(%q).MJD() = %.12f, not after the previous %.12f", iso, m, prev)
		}
		prev = got.MJD()
	}
}

func TestParseISOErrors(t *testing.T) {
	for _, iso := range []string{
		"",
		"2025-12-10",
		"2025-12-10T19:08",
		"2025-12-10 19:08:07",
		"2025-12-10T19:08:07Z",
		"2025-12-10T19:08:07.",
		"2025-12-10T19:08:07.1e3",
		"2025-12-10T19:08:07.25 ",
		"2025-12-10T24:00:00",
		"2025-12-10T19:60:00",
		"2025-12-10T19:08:60",
		"2025-12-31T23:59:60", // not a leap-second day
		"2016-12-31T23:59:61",
		"2025-02-29T00:00:00",
		"2025-12-10T19:08:07.251T19:08:07.251",
		"2025-12-10T+9:08:07",
	} {
		if got, err := ParseISO(iso); err == nil {
			t.Errorf("ParseISO(%q) = %+v, want an error", iso, got)
		} else if !strings.Contains(err.Error(), `bad ISO time "`+iso+`"`) {
			t.Errorf("ParseISO(%q) error %q does not name the value", iso, err)
		}
	}
}
