package frame

import (
	"fmt"
	"slices"
	"time"
)

// Arizona is the clock of the MODS servers, US/Arizona: UTC−7 all year.
// A fixed zone rather than time.LoadLocation("America/Phoenix") because
// Arizona keeps no daylight saving time and a fixed zone needs no tzdata.
var Arizona = time.FixedZone("MST", -7*60*60)

const nightLayout = "20060102"

// ObsDate is the observing date azcam and dataMan give a file written at t
// (spec 2.1): the UTC date, except that from 12:00 to 17:00 on the servers'
// clock (loc) it is the next UTC date, so that afternoon calibrations carry
// the date of the night that follows.
func ObsDate(t time.Time, loc *time.Location) string {
	u := t.UTC()
	if h := t.In(loc).Hour(); h >= 12 && h < 17 {
		u = u.AddDate(0, 0, 1)
	}
	return u.Format(nightLayout)
}

// LocalObsDate is the older noon-to-noon convention (mods.py locObsDate):
// the date, on the servers' clock, of the night that starts at local noon.
// File names used it until 2026-01-23.
func LocalObsDate(t time.Time, loc *time.Location) string {
	l := t.In(loc)
	if l.Hour() < 12 {
		l = l.AddDate(0, 0, -1)
	}
	return l.Format(nightLayout)
}

// ParseNight checks a CCYYMMDD observing date.
func ParseNight(s string) (string, error) {
	t, err := time.Parse(nightLayout, s)
	if err != nil || t.Format(nightLayout) != s {
		return "", fmt.Errorf("%q is not a night (want CCYYMMDD, like 20260119)", s)
	}
	return s, nil
}

// DefaultNights are the nights a sweep covers when none is named: the
// current and the previous observing night under both conventions, since a
// camera server started before the switch, or left running across it, may
// still name files the old way.
func DefaultNights(now time.Time, loc *time.Location) []string {
	var nights []string
	for _, rule := range []func(time.Time, *time.Location) string{ObsDate, LocalObsDate} {
		cur := rule(now, loc)
		nights = append(nights, cur, DayBefore(cur))
	}
	return sortNights(nights)
}

// NightsSince are the nights, under either convention, of files written
// from now−d to now.
func NightsSince(now time.Time, d time.Duration, loc *time.Location) []string {
	var nights []string
	for _, rule := range []func(time.Time, *time.Location) string{ObsDate, LocalObsDate} {
		first, last := rule(now.Add(-d), loc), rule(now, loc)
		for n := first; n <= last; n = DayAfter(n) {
			nights = append(nights, n)
		}
	}
	return sortNights(nights)
}

// DayBefore and DayAfter are the nights next to a night, which must be a
// valid CCYYMMDD (ParseNight's).
func DayBefore(night string) string { return addDays(night, -1) }
func DayAfter(night string) string  { return addDays(night, 1) }

func addDays(night string, n int) string {
	t, err := time.Parse(nightLayout, night)
	if err != nil {
		panic("frame: bad night " + night) // nights here come from Format
	}
	return t.AddDate(0, 0, n).Format(nightLayout)
}

func sortNights(nights []string) []string {
	slices.Sort(nights)
	return slices.Compact(nights)
}
