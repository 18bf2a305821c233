package astro

import "github.com/hebl/gofa"

// HJD returns the heliocentric modified Julian date in UTC, as astropy's
// (t.utc + t.light_travel_time(target, 'heliocentric', location=site)).mjd for t = Time(iso, scale='utc',
// location=site). raDeg and decDeg are ICRS degrees.
func HJD(t Instant, raDeg, decDeg float64, s Site) float64 {
	sc := fromUTC(t, s)
	ltt := lightTravelSeconds(sc, raDeg, decDeg, s, true)
	// astropy cannot add a TDB delta to a UTC time directly: it goes to TDB, adds, and comes back to UTC, so a
	// leap second between the instant and instant+ltt is counted, as it is here.
	tdb1, tdb2 := dayFrac(sc.tdb1, sc.tdb2+ltt/gofa.DAYSEC)
	return tdbToUTC(tdb1, tdb2, s).MJD()
}

// BJD returns the barycentric modified Julian date in TDB, as astropy's
// (t.tdb + t.light_travel_time(target, 'barycentric', location=site)).mjd for t = Time(iso, scale='utc',
// location=site). raDeg and decDeg are ICRS degrees.
func BJD(t Instant, raDeg, decDeg float64, s Site) float64 {
	sc := fromUTC(t, s)
	ltt := lightTravelSeconds(sc, raDeg, decDeg, s, false)
	tdb1, tdb2 := dayFrac(sc.tdb1, sc.tdb2+ltt/gofa.DAYSEC)
	return (tdb1 - gofa.DJM0) + tdb2
}

// lightTravelSeconds is astropy's Time.light_travel_time: the projection of the observatory's position, relative
// to the Sun (helio) or the solar-system barycentre, on the unit vector to the target, over c.
//
// The observatory's geocentric position is rotated from ITRS to GCRS with the IAU 2006/2000A model, as astropy's
// ITRS→CIRS→GCRS chain does, but with no polar motion and UT1 = UTC: offline there is no IERS table, and what
// that costs is the site moving by at most ~0.5 km, under 2 µs of light time. Like astropy, it then undoes
// aberration and light deflection on that geocentric vector (erfa aticq) before adding the Earth's position from
// SOFA epv00 at TDB. That moves the site by up to ~0.6 km (2e-11 day), far inside the 1e-9 day promise, but
// doing it keeps the agreement with astropy at the last bit rather than at microseconds.
func lightTravelSeconds(sc scales, raDeg, decDeg float64, s Site, helio bool) float64 {
	var pvh, pvb [2][3]float64
	gofa.Epv00(sc.tdb1, sc.tdb2, &pvh, &pvb)

	var c2t [3][3]float64
	gofa.C2t06a(sc.tt1, sc.tt2, sc.utc1, sc.utc2, 0, 0, &c2t)
	var geo [3]float64
	gofa.Trxp(c2t, s.itrs(), &geo)

	// The observer of astropy's astrometry context is the geocentre (GCRS and CIRS frames with default origin).
	var astrom gofa.ASTROM
	gofa.Apcs(sc.tt1, sc.tt2, [2][3]float64{}, pvb, pvh[0], &astrom)
	var r, ra, dec, rc, dc float64
	var dir [3]float64
	gofa.Pn(geo, &r, &dir)
	gofa.C2s(dir, &ra, &dec)
	gofa.Aticq(ra, dec, &astrom, &rc, &dc)
	gofa.S2c(rc, dc, &dir)

	earth := pvb[0]
	if helio {
		earth = pvh[0]
	}
	var obs, star [3]float64
	for i := range obs {
		obs[i] = earth[i] + dir[i]*r/gofa.DAU
	}
	gofa.S2c(raDeg*gofa.DD2R, decDeg*gofa.DD2R, &star)
	return gofa.Pdp(star, obs) * gofa.DAU / gofa.CMPS
}
