package astro

import (
	"math"
	"testing"
)

// TestSpecExample checks the numbers of spec 5.3 to full precision, at astropy's registry site for "lbt" that
// dataMan used, and that dataman's own LBT default moves them by far less than a second.
func TestSpecExample(t *testing.T) {
	inst, err := ParseISO("2026-01-19T03:12:45.678")
	if err != nil {
		t.Fatal(err)
	}
	raH, err := ParseSexagesimal("02:42:40.771")
	if err != nil {
		t.Fatal(err)
	}
	dec, err := ParseSexagesimal("-00:00:47.84")
	if err != nil {
		t.Fatal(err)
	}
	ofSite := Site{LatDeg: 32.7016, LonEastDeg: -109.8719, HeightM: 2902}
	checks := []struct {
		name      string
		got, want float64
		tol       float64
	}{
		{"MJD", inst.MJD(), 61059.13386201389, mjdTol},
		{"HJD", HJD(inst, raH*15, dec, ofSite), 61059.13477390661, timeTol},
		{"BJD", BJD(inst, raH*15, dec, ofSite), 61059.13554250565, timeTol},
		// 360 m of height and 1.6 km of longitude change the light time by microseconds, not more.
		{"HJD at dataman's LBT", HJD(inst, raH*15, dec, LBT), 61059.13477390661, 1e-10},
		{"BJD at dataman's LBT", BJD(inst, raH*15, dec, LBT), 61059.13554250565, 1e-10},
	}
	for _, c := range checks {
		if d := c.got - c.want; math.Abs(d) > c.tol {
			t.Errorf("%s = %.11f, spec says %.11f (diff %.3g day)", c.name, c.got, c.want, d)
		}
	}
}

// TestLightTravelSense guards the sign conventions independently of astropy: in early January the Earth is near
// RA 6h40m, Dec +23° as seen from the Sun, so light from a star in that direction reaches the Earth before the Sun
// (HJD later than UTC by up to the ~8.2 min light time of 0.983 au), and from the opposite direction after it.
func TestLightTravelSense(t *testing.T) {
	inst, err := ParseISO("2026-01-04T00:00:00")
	if err != nil {
		t.Fatal(err)
	}
	toward := (HJD(inst, 100, 23, LBT) - inst.MJD()) * 86400
	away := (HJD(inst, 280, -23, LBT) - inst.MJD()) * 86400
	if toward < 480 || toward > 492 {
		t.Errorf("HJD − UTC toward the Earth's heliocentric direction = %.1f s, want about +490 s", toward)
	}
	if away > -480 || away < -492 {
		t.Errorf("HJD − UTC away from it = %.1f s, want about −490 s", away)
	}
	// BJD is in TDB, 69.184 s (TAI−UTC 37 s + 32.184 s) ahead of UTC, give or take the ~10 s barycentre offset.
	if d := (BJD(inst, 100, 23, LBT)-HJD(inst, 100, 23, LBT))*86400 - 69.184; math.Abs(d) > 10 {
		t.Errorf("BJD − HJD − 69.184 s = %.3f s, want within 10 s", d)
	}
}

func TestSiteFromHeader(t *testing.T) {
	if got := SiteFromHeader(32.70131, 109.88906, 3221); got != LBT {
		t.Errorf("SiteFromHeader(LBT header values) = %+v, want %+v", got, LBT)
	}
	if got, want := SiteFromHeader(-24.6272, 70.4042, 2635), (Site{-24.6272, -70.4042, 2635}); got != want {
		t.Errorf("SiteFromHeader = %+v, want %+v", got, want)
	}
}
