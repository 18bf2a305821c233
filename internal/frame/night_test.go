package frame

import (
	"slices"
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// The two conventions of spec 2.1 on the Arizona clock (UTC−7): the UTC date,
// moved to the next day from 12:00 to 17:00 local; and noon-to-noon local.
func TestObsDates(t *testing.T) {
	cases := []struct {
		at         string
		utc, local string
	}{
		{"2026-01-19T03:12:45Z", "20260119", "20260118"}, // 20:12 local: the night of the 18th
		{"2026-01-19T07:00:00Z", "20260119", "20260118"}, // local midnight
		{"2026-01-19T18:59:59Z", "20260119", "20260118"}, // 11:59 local
		{"2026-01-19T19:00:00Z", "20260120", "20260119"}, // 12:00 local: afternoon calibrations
		{"2026-01-19T23:59:59Z", "20260120", "20260119"}, // 16:59 local
		{"2026-01-20T00:00:00Z", "20260120", "20260119"}, // 17:00 local: the UTC date again
		{"2026-02-28T20:00:00Z", "20260301", "20260228"}, // the afternoon rule crosses a month
		{"2025-12-31T21:00:00Z", "20260101", "20251231"}, // and a year
	}
	for _, c := range cases {
		at := utc(c.at)
		if got := ObsDate(at, Arizona); got != c.utc {
			t.Errorf("ObsDate(%s) = %s, want %s", c.at, got, c.utc)
		}
		if got := LocalObsDate(at, Arizona); got != c.local {
			t.Errorf("LocalObsDate(%s) = %s, want %s", c.at, got, c.local)
		}
	}
}

// The servers' clock is a parameter: the same instant falls in other
// nights on another clock.
func TestObsDatesFollowTheLocation(t *testing.T) {
	at := utc("2026-01-19T13:00:00Z") // 06:00 in Arizona, 13:00 in UTC
	if a, u := ObsDate(at, Arizona), ObsDate(at, time.UTC); a != "20260119" || u != "20260120" {
		t.Errorf("ObsDate: Arizona %s, UTC %s; want 20260119, 20260120", a, u)
	}
	if a, u := LocalObsDate(at, Arizona), LocalObsDate(at, time.UTC); a != "20260118" || u != "20260119" {
		t.Errorf("LocalObsDate: Arizona %s, UTC %s; want 20260118, 20260119", a, u)
	}
}

func TestDefaultNights(t *testing.T) {
	cases := []struct {
		at   string
		want []string
	}{
		// 20:00 local on the 19th: UTC rule 20 and 19, local rule 19 and 18.
		{"2026-01-20T03:00:00Z", []string{"20260118", "20260119", "20260120"}},
		// 13:00 local: the afternoon already belongs to the 20th by UTC rule.
		{"2026-01-19T20:00:00Z", []string{"20260118", "20260119", "20260120"}},
		// 03:00 local on the 19th: still the night of the 18th, locally.
		{"2026-01-19T10:00:00Z", []string{"20260117", "20260118", "20260119"}},
		{"2026-03-01T02:00:00Z", []string{"20260227", "20260228", "20260301"}},
	}
	for _, c := range cases {
		if got := DefaultNights(utc(c.at), Arizona); !slices.Equal(got, c.want) {
			t.Errorf("DefaultNights(%s) = %q, want %q", c.at, got, c.want)
		}
	}
}

func TestNightsSince(t *testing.T) {
	now := utc("2026-01-20T03:00:00Z") // 20:00 local on the 19th
	cases := []struct {
		d    time.Duration
		want []string
	}{
		{0, []string{"20260119", "20260120"}},
		{2 * time.Hour, []string{"20260119", "20260120"}},
		// From 14:00 local on the 18th: afternoon of the 19th (UTC rule),
		// night of the 18th (local rule).
		{30 * time.Hour, []string{"20260118", "20260119", "20260120"}},
		{72 * time.Hour, []string{"20260116", "20260117", "20260118", "20260119", "20260120"}},
	}
	for _, c := range cases {
		if got := NightsSince(now, c.d, Arizona); !slices.Equal(got, c.want) {
			t.Errorf("NightsSince(%s) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestParseNight(t *testing.T) {
	for _, ok := range []string{"20260119", "20240229", "19991231"} {
		if _, err := ParseNight(ok); err != nil {
			t.Errorf("ParseNight(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "2026011", "202601190", "2026-01-19", "20260230", "20250229", "2026011x", " 20260119"} {
		if _, err := ParseNight(bad); err == nil {
			t.Errorf("ParseNight(%q) accepted", bad)
		}
	}
}
