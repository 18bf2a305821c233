package astro

import (
	"math"

	"github.com/hebl/gofa"
)

// The scale conversions below follow astropy's Time._set_scale step by step (utc→tai→tt→tdb and back), including
// where it normalises with day_frac and which time it evaluates TDB−TT at, so that the results agree with astropy
// to a few units in the last place rather than merely to the microsecond.

// twoSum returns a+b and its rounding error exactly (Knuth).
func twoSum(a, b float64) (s, e float64) {
	s = a + b
	bb := s - a
	e = (a - (s - bb)) + (b - bb)
	return s, e
}

// dayFrac is astropy.time.utils.day_frac: a+b as a whole day and a remainder in [−0.5, 0.5].
func dayFrac(a, b float64) (day, frac float64) {
	sum, err := twoSum(a, b)
	day = math.RoundToEven(sum)
	f, check := twoSum(sum-day, err)
	if f*sign(check) != 0.5 {
		day += math.RoundToEven(f)
	} else {
		day += math.RoundToEven(f + 2*check)
	}
	frac = sum - day
	frac += err
	return day, frac
}

func sign(x float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

// scales holds one instant in the scales the light-travel computation needs, as two-part Julian dates.
type scales struct {
	utc1, utc2 float64
	tt1, tt2   float64
	tdb1, tdb2 float64
}

// fromUTC converts like astropy's t.tt and t.tdb for a Time created with location=s. SOFA's status values are
// ignored because they are only warnings (a "dubious year" five years past the leap-second table's 2023 release),
// on which astropy carries on with the same numbers. The table's last leap second is 2017-01-01; one announced
// later needs a newer gofa.
func fromUTC(t Instant, s Site) scales {
	var tai1, tai2, tt1, tt2, tdb1, tdb2 float64
	gofa.Utctai(t.JD1, t.JD2, &tai1, &tai2)
	gofa.Taitt(tai1, tai2, &tt1, &tt2)
	gofa.Tttdb(tt1, tt2, tdbMinusTT(tt1, tt2, s), &tdb1, &tdb2)
	out := scales{utc1: t.JD1, utc2: t.JD2}
	out.tt1, out.tt2 = dayFrac(tt1, tt2)
	out.tdb1, out.tdb2 = dayFrac(tdb1, tdb2)
	return out
}

// tdbToUTC is the way back, as astropy's _set_scale('utc') from TDB: TDB−TT is evaluated at the TDB date itself.
func tdbToUTC(tdb1, tdb2 float64, s Site) Instant {
	var tt1, tt2, tai1, tai2, u1, u2 float64
	gofa.Tdbtt(tdb1, tdb2, tdbMinusTT(tdb1, tdb2, s), &tt1, &tt2)
	gofa.Tttai(tt1, tt2, &tai1, &tai2)
	gofa.Taiutc(tai1, tai2, &u1, &u2)
	jd1, jd2 := dayFrac(u1, u2)
	return Instant{JD1: jd1, JD2: jd2}
}

// tdbMinusTT is astropy's Time._get_delta_tdb_tt for a Time with a location: SOFA dtdb with the site's
// topocentric terms (a couple of microseconds), taking UTC for UT1 and the given date as TT.
func tdbMinusTT(jd1, jd2 float64, s Site) float64 {
	var tai1, tai2, u1, u2 float64
	gofa.Tttai(jd1, jd2, &tai1, &tai2)
	gofa.Taiutc(tai1, tai2, &u1, &u2)
	_, ut := dayFrac(u1-0.5, u2)
	xyz := s.itrs()
	rxyKm := math.Hypot(xyz[0], xyz[1]) / 1000
	zKm := xyz[2] / 1000
	return gofa.Dtdb(jd1, jd2, ut, s.LonEastDeg*gofa.DD2R, rxyKm, zKm)
}

// itrs returns the site's geocentric position in metres (WGS84), as EarthLocation.from_geodetic.
func (s Site) itrs() [3]float64 {
	var xyz [3]float64
	gofa.Gd2gc(gofa.WGS84, s.LonEastDeg*gofa.DD2R, s.LatDeg*gofa.DD2R, s.HeightM, &xyz)
	return xyz
}
