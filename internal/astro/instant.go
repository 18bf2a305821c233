package astro

import (
	"fmt"
	"strconv"
	"time"

	"github.com/hebl/gofa"
)

// Instant is a UTC instant as a two-part Julian date in SOFA's convention: on a day with a leap second the
// fraction runs over 86401 SI seconds. JD1 is a whole day number and JD2 the remainder in [−0.5, 0.5], as astropy
// keeps them, so that MJD rounds the way astropy's does.
type Instant struct{ JD1, JD2 float64 } // UTC

// MJD returns the UTC modified Julian date, as astropy's Time(iso, scale='utc').mjd.
func (t Instant) MJD() float64 {
	// JD1 − DJM0 is exact because JD1 is a whole day; the one rounding left is astropy's.
	return (t.JD1 - gofa.DJM0) + t.JD2
}

// ParseISO parses a FITS DATE-OBS of the form YYYY-MM-DDThh:mm:ss[.fff…] in UTC. A second of 60 is accepted only
// at 23:59 on a day that ends with a leap second.
func ParseISO(s string) (Instant, error) {
	if len(s) < 19 || s[10] != 'T' {
		return Instant{}, fmt.Errorf("bad ISO time %q: want YYYY-MM-DDThh:mm:ss[.fff]", s)
	}
	y, mo, d, err := parseDate(s[:10])
	if err != nil {
		return Instant{}, fmt.Errorf("bad ISO time %q: %w", s, err)
	}
	hh, mm, ss, frac, err := parseClock(s[11:])
	if err != nil {
		return Instant{}, fmt.Errorf("bad ISO time %q: %w", s, err)
	}
	if !secondFits(y, mo, d, hh, mm, ss) {
		return Instant{}, fmt.Errorf("bad ISO time %q: second %02d out of range", s, ss)
	}
	// ParseFloat of the whole seconds field rounds once, as astropy's parser does (to well below 1e-11 day).
	sec, err := strconv.ParseFloat(s[17:19]+frac, 64)
	if err != nil {
		return Instant{}, fmt.Errorf("bad ISO time %q: %w", s, err)
	}
	var d1, d2 float64
	if js := gofa.Dtf2d("UTC", y, mo, d, hh, mm, sec, &d1, &d2); js < 0 || js&2 != 0 {
		return Instant{}, fmt.Errorf("bad ISO time %q: rejected by SOFA dtf2d (status %d)", s, js)
	}
	jd1, jd2 := dayFrac(d1, d2)
	return Instant{JD1: jd1, JD2: jd2}, nil
}

// CombineDateTime joins azcam's date-only DATE-OBS with its UTC-OBS into the ISO string fixDateTime writes to
// DATE-OBS. azcam formats the millisecond as int(1000*round(frac, 3)) from a separate clock reading, so it can
// write ".1000" for a fraction that rounded up to a whole second; that is one second later, and becomes ".000"
// after carrying into the seconds (and on up to the year). Any other fraction is kept exactly as written.
func CombineDateTime(date, utc string) (string, error) {
	y, mo, d, err := parseDate(date)
	if err != nil {
		return "", fmt.Errorf("bad date %q: %w", date, err)
	}
	hh, mm, ss, frac, err := parseClock(utc)
	if err != nil {
		return "", fmt.Errorf("bad time %q: %w", utc, err)
	}
	if !secondFits(y, mo, d, hh, mm, ss) {
		return "", fmt.Errorf("bad time %q on %s: second %02d out of range", utc, date, ss)
	}
	if frac == ".1000" {
		y, mo, d, hh, mm, ss = nextSecond(y, mo, d, hh, mm, ss)
		frac = ".000"
		if y > 9999 {
			return "", fmt.Errorf("bad date %q: time %q rolls over past year 9999", date, utc)
		}
	}
	return fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d%s", y, mo, d, hh, mm, ss, frac), nil
}

// CarrySecond60 reads a time whose second is 60 in a minute that has no leap second the way astropy does (ERFA
// dtf2d, "time is after end of day"): as the first second of the next minute, on the next day after 23:59, with its
// fraction kept. ok is false for any other time, including second 60 of a minute that ends with a leap second,
// which CombineDateTime keeps as it is.
func CarrySecond60(date, utc string) (newDate, newUTC string, ok bool) {
	y, mo, d, err := parseDate(date)
	if err != nil {
		return "", "", false
	}
	hh, mm, ss, frac, err := parseClock(utc)
	if err != nil || ss != 60 || secondFits(y, mo, d, hh, mm, ss) {
		return "", "", false
	}
	t := time.Date(y, time.Month(mo), d, hh, mm, 0, 0, time.UTC).Add(time.Minute)
	if t.Year() > 9999 {
		return "", "", false
	}
	return t.Format("2006-01-02"), t.Format("15:04:05") + frac, true
}

// nextSecond steps one UTC second, through 23:59:60 on a day that ends with a leap second.
func nextSecond(y, mo, d, hh, mm, ss int) (int, int, int, int, int, int) {
	if hh == 23 && mm == 59 && ss == 59 && secondFits(y, mo, d, 23, 59, 60) {
		return y, mo, d, 23, 59, 60
	}
	// Go's time has no leap seconds; starting a leap second from :59 lands on the next midnight, as it must.
	t := time.Date(y, time.Month(mo), d, hh, mm, min(ss, 59), 0, time.UTC).Add(time.Second)
	return t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second()
}

// secondFits reports whether second ss exists in that UTC minute: 0–59, or 60 in the last minute of a day that
// ends with a leap second. SOFA's dtf2d decides, from its leap-second table, so ParseISO accepts the same seconds.
func secondFits(y, mo, d, hh, mm, ss int) bool {
	if ss < 60 {
		return true
	}
	var d1, d2 float64
	js := gofa.Dtf2d("UTC", y, mo, d, hh, mm, float64(ss), &d1, &d2)
	return ss == 60 && js >= 0 && js&2 == 0
}

// parseDate reads exactly YYYY-MM-DD and checks the day exists.
func parseDate(s string) (y, mo, d int, err error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, 0, 0, fmt.Errorf("want YYYY-MM-DD")
	}
	y, ok1 := atoiDigits(s[0:4])
	mo, ok2 := atoiDigits(s[5:7])
	d, ok3 := atoiDigits(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return 0, 0, 0, fmt.Errorf("want YYYY-MM-DD")
	}
	if mo < 1 || mo > 12 {
		return 0, 0, 0, fmt.Errorf("month %02d out of range", mo)
	}
	// time.Date normalises 02-30 to 03-02; a day that does not survive the round trip does not exist.
	if d < 1 || time.Date(y, time.Month(mo), d, 0, 0, 0, 0, time.UTC).Day() != d {
		return 0, 0, 0, fmt.Errorf("day %02d out of range for %04d-%02d", d, y, mo)
	}
	return y, mo, d, nil
}

// parseClock reads exactly hh:mm:ss with an optional fraction of one or more digits, returned with its dot.
// Second 60 passes here; whether that minute has one is for secondFits to say.
func parseClock(s string) (hh, mm, ss int, frac string, err error) {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return 0, 0, 0, "", fmt.Errorf("want hh:mm:ss[.fff]")
	}
	hh, ok1 := atoiDigits(s[0:2])
	mm, ok2 := atoiDigits(s[3:5])
	ss, ok3 := atoiDigits(s[6:8])
	frac = s[8:]
	if !ok1 || !ok2 || !ok3 {
		return 0, 0, 0, "", fmt.Errorf("want hh:mm:ss[.fff]")
	}
	if frac != "" {
		if frac[0] != '.' || !allDigits(frac[1:]) {
			return 0, 0, 0, "", fmt.Errorf("fraction %q is not a dot and digits", frac)
		}
	}
	switch {
	case hh > 23:
		return 0, 0, 0, "", fmt.Errorf("hour %02d out of range", hh)
	case mm > 59:
		return 0, 0, 0, "", fmt.Errorf("minute %02d out of range", mm)
	case ss > 60:
		return 0, 0, 0, "", fmt.Errorf("second %02d out of range", ss)
	}
	return hh, mm, ss, frac, nil
}

// atoiDigits reads a short fixed-width field; unlike strconv.Atoi it refuses a sign.
func atoiDigits(s string) (int, bool) {
	if !allDigits(s) || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		n = 10*n + int(s[i]-'0')
	}
	return n, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
