package synth

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/obsdata/dataman/fits"
)

// The site as azcam's header template gives it, longitude positive west.
const (
	siteLatitude      = 32.70131
	siteWestLongitude = 109.88906
)

// NGC 1068, the pointing of the spec's HJD/BJD example.
const (
	defaultRA  = "02:42:40.771"
	defaultDec = "-00:00:47.84"
)

// telescopeCards is a realistic subset of the Telescope section azcam fills
// from the LBT IIF data dictionary (modsTCS_left/right.txt). Alt, az, hour
// angle, airmass and parallactic angle follow from the pointing and the
// start time, so consecutive frames move across the sky as real ones do.
func telescopeCards(f Frame, ch channelInfo) []fits.Card {
	side := "DX"
	if ch.mods1 {
		side = "SX"
	}
	raStr, decStr := f.TelRA, f.TelDec
	if raStr == "" {
		raStr = defaultRA
	}
	if decStr == "" {
		decStr = defaultDec
	}
	ra, _ := parseSexagesimal(raStr)
	dec, _ := parseSexagesimal(decStr)
	p := pointing(f.Start, ra*15, dec)
	r := f.rng(streamTelescope)
	jitter := func(v, d float64) float64 { return math.Round((v+d*(2*r.Float64()-1))*100) / 100 }

	s := fits.StringCard
	x := fits.FloatCard
	cards := []fits.Card{
		s("TELRA", raStr, side+" Telescope Achieved RA [hms]"),
		s("TELDEC", decStr, side+" Telescope Achieved DEC [dms]"),
		x("POSANGLE", 0.0, side+" Instrument Celestial PA [deg]"),
		s("HA", dms(p.ha/15, 2, true), "Telescope Hour Angle at start of obs [hms]"),
		x("AIRMASS", p.airmass, "Airmass (secZD) at start of obs"),
		x("PARANGLE", p.parangle, "Parallactic Angle at start of obs [deg]"),
		s("OBS_LST", dms(p.lst/15, 1, false), "Local Sidereal Time at start of obs"),
		x("ROTANGLE", p.parangle, side+" Rotator Angle at start of obs [deg]"),
		s("ROTMODE", "POSITION", side+" Rotator Mode"),
		x("DGROTPOS", p.parangle+90, side+" Direct Gregorian Rotator Angle [deg]"),
		s("OBJRA", raStr, "Target RA"),
		s("OBJDEC", decStr, "Target DEC"),
		x("OBJPMRA", 0.0, "Target RA proper motion [mas/yr]"),
		x("OBJPMDEC", 0.0, "Target DEC proper motion [mas/yr]"),
		s("GUIRA", "02:42:51.093", "Guide Star RA"),
		s("GUIDEC", "-00:03:12.41", "Guide Star DEC"),
		x("AGWXGP", 41.803, "AGW Guide Probe X focal plane position [mm]"),
		x("AGWYGP", -86.512, "AGW Guide Probe Y focal plane position [mm]"),
		x("M1CTEMP", jitter(3.4, 0.5), side+" Primary Temperature [deg C]"),
		x("M2CTEMP", jitter(2.9, 0.5), side+" Secondary Temperature [deg C]"),
		s("LBTWLINK", "1", "LBT Weather Station Link State"),
		x("LBTPRES", jitter(692.4, 0.3), "LBT Ambient Pressure [hPa]"),
		x("LBTTEMP", jitter(1.8, 0.4), "LBT Ambient Temperature [deg C]"),
		x("LBTHUM", jitter(23.5, 2), "LBT Relative Humidity [percent]"),
		x("LBTDWPT", jitter(-18.7, 0.5), "LBT Dew Point [deg C]"),
		fits.IntCard("NONSIDER", 0, "Target is non-sidereal"),
		x("NSRARATE", 0.0, "Differential RA tracking rate [arcsec/h]"),
		x("NSDERATE", 0.0, "Differential Dec tracking rate [arcsec/h]"),
		strCard("NSTYPE", "", "Non-sidereal target type"),
		strCard("NSEPHFIL", "", "Non-sidereal ephemeris file name"),
	}
	if f.DMSAltAz {
		return append(cards,
			s("TELALT", dms(p.alt, 1, false), "Telescope Altitude at start of obs [dms]"),
			s("TELAZ", dms(p.az, 1, false), "Telescope Azimuth at start of obs [dms]"))
	}
	return append(cards,
		x("TELALT", p.alt, "Telescope Altitude at start of obs [deg]"),
		x("TELAZ", p.az, "Telescope Azimuth at start of obs [deg]"))
}

// sky holds the pointing quantities the TCS reports, in degrees.
type sky struct {
	lst, ha, alt, az, parangle, airmass float64
}

// pointing converts RA/Dec (degrees) at time t into what the TCS reports at
// the LBT; good to a fraction of a degree, which is all a header needs.
func pointing(t time.Time, ra, dec float64) sky {
	jd := float64(t.UnixNano())/86400e9 + 2440587.5
	gmst := 280.46061837 + 360.98564736629*(jd-2451545.0)
	lst := math.Mod(gmst-siteWestLongitude, 360)
	if lst < 0 {
		lst += 360
	}
	ha := math.Mod(lst-ra+540, 360) - 180
	rad := math.Pi / 180
	phi, d, h := siteLatitude*rad, dec*rad, ha*rad
	sinAlt := math.Sin(phi)*math.Sin(d) + math.Cos(phi)*math.Cos(d)*math.Cos(h)
	alt := math.Asin(sinAlt)
	az := math.Atan2(-math.Sin(h)*math.Cos(d), math.Cos(phi)*math.Sin(d)-math.Sin(phi)*math.Cos(d)*math.Cos(h))
	if az < 0 {
		az += 2 * math.Pi
	}
	q := math.Atan2(math.Sin(h), math.Tan(phi)*math.Cos(d)-math.Sin(d)*math.Cos(h))
	airmass := 1 / math.Max(sinAlt, 0.05)
	return sky{lst: lst, ha: ha, alt: alt / rad, az: az / rad, parangle: q / rad, airmass: airmass}
}

// parseSexagesimal reads [+-]dd:mm:ss.s; the sign applies to the whole
// value even when the degrees are zero.
func parseSexagesimal(s string) (float64, error) {
	neg := strings.HasPrefix(s, "-")
	parts := strings.Split(strings.TrimLeft(s, "+-"), ":")
	if len(parts) != 3 {
		return 0, fmt.Errorf("%q is not dd:mm:ss", s)
	}
	var v float64
	for i, p := range parts {
		x, err := strconv.ParseFloat(p, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not dd:mm:ss", s)
		}
		v += x / math.Pow(60, float64(i))
	}
	if neg {
		v = -v
	}
	return v, nil
}

// dms formats degrees (or hours, for hh:mm:ss) as [+-]dd:mm:ss with the given decimals,
// rounding before splitting so that 59.96 s never prints as 60.0.
func dms(v float64, decimals int, signed bool) string {
	sign := ""
	if v < 0 {
		sign, v = "-", -v
	} else if signed {
		sign = "+"
	}
	scale := math.Pow(10, float64(decimals))
	units := math.Round(v * 3600 * scale)
	sec := math.Mod(units, 60*scale) / scale
	mins := int(units/(60*scale)) % 60
	whole := int(units / (3600 * scale))
	width := 2
	if decimals > 0 {
		width = 3 + decimals
	}
	return fmt.Sprintf("%s%02d:%02d:%0*.*f", sign, whole, mins, width, decimals, sec)
}

// instrumentCards is a realistic subset of the Instrument section azcam
// fills from the IIF and ISTATUS (instHdr_<CHAN>.txt): a long-slit
// spectroscopic setup. CCDTEMP and AGWXGP/AGWYGP are left out because azcam
// moves a keyword to the last section that has it (Temperature, Telescope).
func instrumentCards(ch channelInfo) []fits.Card {
	grating, grnum, filter, filtnum, filtinfo := "G400L", 1, "Clear", 1, "Clear (no filter)"
	if ch.color == "RED" {
		grating, grnum, filter, filtnum, filtinfo = "G670L", 1, "GG495", 2, "GG495 order blocker"
	}
	s := fits.StringCard
	x := fits.FloatCard
	i := func(key string, v int, comment string) fits.Card { return fits.IntCard(key, int64(v), comment) }
	return []fits.Card{
		s("HATCH", "OPEN", "Instrument Dark Hatch [open|closed]"),
		s("CALIB", "OUT", "Calibration Tower Position [in|out]"),
		s("CALLAMPS", "None", "Calibration Lamps"),
		x("VFLAT", 0.0, "Variable Intensity Flat Lamp Intensity"),
		i("SLITMASK", 3, "Slit Mask Cassette position"),
		s("MASKPOS", "IN", "Slit Mask Position"),
		s("MASKNAME", "LS60x5", "Slit Mask Name"),
		s("MASKINFO", "0.6 arcsec x 5 arcmin long slit", "Slit Mask Description"),
		i("DICHROIC", 1, "Dichroic Turret Position"),
		s("DICHNAME", "Dual", "Dichroic Beam Selector position ID"),
		s("DICHINFO", "Dual Grating Mode Dichroic", "Dichroic Beam Selector Description"),
		i("COLFOCUS", 11640, "Collimator Focus (A+B+C) [microns]"),
		i("COLTTFA", 3880, "Collimator TTF actuator A [microns]"),
		i("COLTTFB", 3880, "Collimator TTF actuator B [microns]"),
		i("COLTTFC", 3880, "Collimator TTF actuator C [microns]"),
		i("GRATING", grnum, "Grating Turret Position"),
		s("GRATNAME", grating, "Name of the Disperser at GRATING"),
		s("GRATINFO", grating+" low-res grating", "Description of the Disperser"),
		i("GRATTILT", 0, "Grating Tilt [microns]"),
		i("FILTER", filtnum, "Camera Filter Wheel Position"),
		s("FILTNAME", filter, "Camera Filter Name"),
		s("FILTINFO", filtinfo, "Camera Filter Description"),
		i("CAMFOCUS", 2360, "Camera Primary Mirror Focus [microns]"),
		s("IRLASER", "ON", "IMCS IR Laser AC Power On or Off"),
		s("IRBEAM", "ENABLED", "IMCS IR Laser Beam Enabled or Disabled"),
		x("IRPOUT", 1.02, "IMCS IR Laser Beam Power Output [mW]"),
		x("IRTEMP", 25.01, "IMCS IR Laser Head Temperature [deg C]"),
		i("AGWFILT", 1, "Guide Camera Filter Wheel position"),
		s("AGWFNAME", "Clear", "Guide Camera Filter Name"),
		x("AGWXS", 41.803, "AGW Stage X actuator position [mm]"),
		x("AGWYS", 86.512, "AGW Stage Y actuator position [mm]"),
		x("AGWFS", 11.25, "AGW Stage Focus actuator position [mm]"),
		x("DEWPRES", 2.1e-07, "Dewar Pressure [torr]"),
		x("DEWTEMP", -195.4, "Dewar LN2 Reservoir Temperature [deg C]"),
		x("HEBTEMP", 12.6, "HEB Air Temperature [deg C]"),
		s("IGPOWER", "OFF", "Dewar Vacuum Ion Gauge Power State"),
		s("ARPOWER", "ON", "Archon CCD Controller Power State"),
		x("AMBTEMP", 1.9, "Outside Ambient Air Temperature [deg C]"),
		x("TAIRTOP", 4.2, "MODS Inside Air Temp at Top [deg C]"),
		x("TAIRBOT", 3.7, "MODS Inside Air Temp at Bottom [deg C]"),
		x("TCOLLTOP", 3.9, "Collimator Truss Tube Top Temp [deg C]"),
		x("TCOLLBOT", 3.6, "Collimator Truss Tube Bottom Temp [deg C]"),
		x("IEBTEMPB", 14.8, "Blue IEB Air Temperature [deg C]"),
		x("IEBTEMPR", 15.3, "Red IEB Air Temperature [deg C]"),
		x("IUBTAIR", 11.2, "Utility Box Air Temperature [deg C]"),
		x("GSPRES", 61.4, "Glycol Supply Pressure [psi-g]"),
		x("GSTEMP", 0.8, "Glycol Supply Temperature [deg C]"),
		x("GRPRES", 38.9, "Glycol Return Pressure [psi-g]"),
		x("GRTEMP", 2.1, "Glycol Return Temperature [deg C]"),
	}
}
