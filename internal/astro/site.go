package astro

// Site is an observatory position on the WGS84 ellipsoid.
type Site struct{ LatDeg, LonEastDeg, HeightM float64 }

// LBT is the fallback site when neither the header nor the configuration gives one (spec 13, row 4). It is not
// astropy's registry entry for "lbt" (32.7016, −109.8719, 2902 m), which dataMan used.
var LBT = Site{LatDeg: 32.70131, LonEastDeg: -109.88906, HeightM: 3221}

// SiteFromHeader builds a Site from a MODS primary header's LATITUDE (degrees north), LONGITUD (degrees west,
// positive, as the LBT writes it) and ELEVATIO (metres).
func SiteFromHeader(latDeg, lonWestDeg, elevM float64) Site {
	return Site{LatDeg: latDeg, LonEastDeg: -lonWestDeg, HeightM: elevM}
}
