package synth

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/obsdata/dataman/fits"
)

// banner is the rule azcam puts above and below each section title.
var banner = strings.Repeat("=", 66)

// headerSection is one azcam header object: a title and its keywords.
type headerSection struct {
	title string
	cards []fits.Card
}

// primaryHeader builds the primary header as azcam's _write_PHU does: the
// fixed cards, then each non-empty section in azcam.db.headerorder with its
// keywords sorted by name.
func primaryHeader(f Frame, ch channelInfo, g geometry) *fits.Header {
	h := &fits.Header{}
	add := func(c fits.Card) { h.Cards = append(h.Cards, c) }
	add(fits.BoolCard("SIMPLE", true, "conforms to FITS standard"))
	add(fits.IntCard("BITPIX", 8, "array data type"))
	add(fits.IntCard("NAXIS", 0, "number of array dimensions"))
	add(fits.BoolCard("EXTEND", true, ""))
	// NEXTEND counts the quadrants: CONPARS is appended after the file is
	// written and azcam never updates it.
	add(fits.IntCard("NEXTEND", 4, "Number of extensions"))
	add(fits.StringCard("DETSIZE", section(1, g.width, 1, g.height), "Detector size"))
	add(fits.StringCard("CCDSUM", fmt.Sprintf("%d %d", g.bx, g.by), "CCD pixel summing"))
	add(fits.IntCard("CCDBIN1", int64(g.bx), "Binning factor along axis 1"))
	add(fits.IntCard("CCDBIN2", int64(g.by), "Binning factor along axis 2"))
	add(strCard("FILENAME", f.Name(), "base filename at acquisition"))
	add(fits.IntCard("NCCDS", 1, "Number of CCDs"))
	add(fits.IntCard("NAMPS", 4, "Number of amplifiers"))

	sections := []headerSection{
		{"MODS", []fits.Card{fits.StringCard("DEWAR", ch.instrume, "CCD Dewar")}},
		{"Controller", controllerCards(f)},
		{"Instrument", nil},
		{"Exposure", exposureCards(f, ch)},
		{"Telescope", nil},
		{"Temperature", []fits.Card{
			fits.FloatCard("BASETEMP", -999.9, "CCD mount base temperature [deg C]"),
			fits.FloatCard("CCDTEMP", -999.9, "CCD detector temperature [deg C]"),
		}},
		{"AzCam Focal plane", focalPlaneCards(g)},
	}
	if f.Instrument {
		sections[2].cards = instrumentCards(ch)
	}
	if f.Telescope {
		sections[4].cards = telescopeCards(f, ch)
	}
	for _, s := range sections {
		if len(s.cards) == 0 {
			continue
		}
		add(fits.CommentCard("COMMENT", banner))
		add(fits.CommentCard("COMMENT", s.title))
		add(fits.CommentCard("COMMENT", banner))
		cards := slices.Clone(s.cards)
		slices.SortStableFunc(cards, func(a, b fits.Card) int { return strings.Compare(a.Key, b.Key) })
		for _, c := range cards {
			add(c)
		}
	}
	if f.EditPrimary != nil {
		f.EditPrimary(h)
	}
	return h
}

func controllerCards(f Frame) []fits.Card {
	return []fits.Card{
		fits.IntCard("INTMS", int64(expMillis(f.ExpTime)), "Open shutter exposure time (ms)"),
		fits.IntCard("NOINTMS", 500, "Closed shutter exposure time (ms)"),
	}
}

// expMillis is the exposure time in whole milliseconds, the resolution of
// the Archon shutter timer.
func expMillis(t float64) int { return int(math.Round(t * 1000)) }

func exposureCards(f Frame, ch channelInfo) []fits.Card {
	date, hms, loc := obsTimes(f)
	exptime := float64(expMillis(f.ExpTime)) / 1000
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	return []fits.Card{
		fits.StringCard("CCDCTRLR", "Archon", "STA Archon CCD controller"),
		fits.StringCard("CHANNEL", ch.color, "MODS Channel [blue|red]"),
		fits.FloatCard("DARKTIME", exptime, "Dark time (seconds)"),
		fits.StringCard("DATE", date, "UTC date and time file writtten"),
		fits.StringCard("DATE-OBS", date, "UTC shutter opened"),
		fits.StringCard("DETECTOR", ch.detector, "Detector name"),
		fits.IntCard("DISPAXIS", 1, "Spectral Dispersion Axis"),
		fits.FloatCard("ELEVATIO", 3221.0, "Site Elevation [meters]"),
		fits.FloatCard("EQUINOX", 2000.0, "Equinox of coordinates"),
		fits.FloatCard("EXPTIME", exptime, "Exposure time (seconds)"),
		fits.FloatCard("FOCSCALE", 1.67, "Focal Plane Scale [arcsec per mm]"),
		fits.IntCard("GRORDER", 1, "Grating order used"),
		strCard("IMAGETYP", imageType(f.ImageType), "Image type"),
		fits.StringCard("INSTRUME", ch.instrume, "Instrument Name"),
		fits.FloatCard("LATITUDE", siteLatitude, "Site Latitude [deg N]"),
		fits.StringCard("LOCTIME", loc, "Local time at start of exposure"),
		fits.FloatCard("LONGITUD", siteWestLongitude, "Site Longitude [deg W]"),
		strCard("OBJECT", strings.ReplaceAll(f.Object, "'", ""), ""),
		fits.StringCard("OBSERVAT", "MGIO-LBT", "Observatory Site"),
		strCard("OBSERVER", or(f.Observer, "None"), "Observer(s)"),
		fits.StringCard("ORIGIN", "MGIO-LBT", "Location where the data was generated"),
		strCard("PARTNER", or(f.Partner, "NOPARTNER"), "LBT Project Partner(s)"),
		fits.FloatCard("PIXSCALE", ch.pixscale, "Unbinned pixel scale [arcsec per pixel]"),
		fits.FloatCard("PIXSIZE", 15.0, "Unbinned pixel size [microns]"),
		strCard("PI_NAME", or(f.PIName, "NOTSPECIFIED"), "Project PI Name(s)"),
		strCard("PROPID", or(f.PropID, "NOTSPECIFIED"), "Observing Proposal ID"),
		fits.StringCard("RADECSYS", "FK5", "Coordinate System"),
		strCard("SUPPORT", or(f.Support, "None"), "LBT Support Scientist(s) on duty"),
		fits.StringCard("TELESCOP", ch.telescop, "Telescope and Focal Station"),
		strCard("TELOPS", or(f.TelOps, "None"), "LBT Telescope Operator(s) on duty"),
		fits.StringCard("TIME-OBS", hms, "UTC at start of exposure"),
		fits.StringCard("TIMESYS", "UTC", "Time system"),
		fits.StringCard("TIMEZONE", pyFloat(f.TimeZone), "Local time zone"),
		fits.StringCard("UT", hms, "UTC at start of exposure"),
		fits.StringCard("UTC-OBS", hms, "UTC at start of exposure"),
	}
}

// imageType is IMAGETYP as mods.py records it: lowercase, and comp for a
// type it does not know.
func imageType(t string) string {
	t = strings.ToLower(t)
	switch t {
	case "object", "bias", "flat", "dark", "comp", "std", "zero":
		return t
	}
	return "comp"
}

// obsTimes returns DATE-OBS, the UTC-OBS time and LOCTIME. azcam formats
// the fraction as int(1000*round(frac, 3)) from a separate time() call, so
// a fraction that rounds up to a whole second is written ".1000" after the
// unchanged seconds: dataman reads that as the next second.
func obsTimes(f Frame) (date, hms, local string) {
	u := f.Start.UTC()
	t := u.Round(time.Millisecond)
	frac := fmt.Sprintf(".%03d", t.Nanosecond()/int(time.Millisecond))
	if f.Fraction1000 {
		t, frac = u.Truncate(time.Second), ".1000"
	}
	loc := u.Add(-time.Duration(f.TimeZone * float64(time.Hour)))
	return t.Format("2006-01-02"), t.Format("15:04:05") + frac, loc.Format("15:04:05")
}

// pyFloat formats a float as Python's str() does for the values azcam
// stores as text.
func pyFloat(v float64) string {
	s := strconv.FormatFloat(v, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eIN") {
		s += ".0"
	}
	return s
}

func focalPlaneCards(g geometry) []fits.Card {
	n := func(key string, v int64, comment string) fits.Card { return fits.IntCard(key, v, comment) }
	return []fits.Card{
		{Key: "AZCAM-HEAD", Hierarch: true, Kind: fits.KindString, Str: "OK", Comment: "AzCam Header flag"},
		n("N-AMPS-X", 2, "Number of amplifiers in X"),
		n("N-AMPS-Y", 2, "Number of amplifiers in Y"),
		n("N-DET-X", 1, "Number of detectors in X"),
		n("N-DET-Y", 1, "Number of detectors in Y"),
		n("NUM-AMPX", 2, "Number of amplifiers in X"),
		n("NUM-AMPY", 2, "Number of amplifiers in Y"),
		n("NUM-DETX", 1, "Number of detectors in X"),
		n("NUM-DETY", 1, "Number of detectors in Y"),
		n("REF-PIX1", int64(g.refX()), "Reference pixel 1"),
		n("REF-PIX2", azcamRefPixelY, "Reference pixel 2"),
	}
}

// extHeader builds the 73-card header of quadrant q as astropy writes the
// ImageHDU azcam scales to int16 (image_io.py _write_mef_file).
func extHeader(f Frame, g geometry, q int) *fits.Header {
	v := g.ext(q)
	name := fmt.Sprintf("IM%d", q+1)
	if f.Legacy {
		name = fmt.Sprintf("Q%d", q+1)
	}
	h := &fits.Header{}
	add := func(c ...fits.Card) { h.Cards = append(h.Cards, c...) }
	i := func(key string, v int, comment string) fits.Card { return fits.IntCard(key, int64(v), comment) }
	r := func(key string, v float64, comment string) fits.Card { return fits.FloatCard(key, v, comment) }
	s := func(key, v, comment string) fits.Card { return fits.StringCard(key, v, comment) }
	title := func(t string) {
		add(fits.CommentCard("COMMENT", banner), fits.CommentCard("COMMENT", t), fits.CommentCard("COMMENT", banner))
	}
	detsize := section(1, g.width, 1, g.height)
	const lt, at, dt = "CCD to image transformation", "CCD to amplifier transformation", "CCD to detector transformation"

	add(s("XTENSION", "IMAGE", "Image extension"),
		i("BITPIX", 16, "array data type"),
		i("NAXIS", 2, "number of array dimensions"),
		i("NAXIS1", g.nx(), ""),
		i("NAXIS2", g.ny, ""),
		i("PCOUNT", 0, "number of parameters"),
		i("GCOUNT", 1, "number of groups"),
		s("EXTNAME", name, "extension name"),
		r("BZERO", 32768.0, ""),
		r("BSCALE", 1.0, ""),
		fits.BoolCard("INHERIT", true, "extension inherits PHDU keyword/values?"),
		s("BUNIT", "ADU", "Physical unit of array values"))

	title("Image")
	add(i("IMAGEID", q+1, "Image ID"),
		s("CCDNAME", "ccd1", "CCD name"),
		s("DETSIZE", detsize, "Detector size"),
		s("CCDSIZE", detsize, "CCD size"),
		s("BIASSEC", v.biassec, "Bias section"),
		s("DATASEC", v.datasec, "Data section"),
		s("TRIMSEC", v.datasec, "Trim section"),
		s("AMPSEC", v.ampsec, "Amplifier section"),
		s("DETSEC", v.detsec, "Detector section"),
		s("CCDSEC", v.detsec, "CCD section"),
		s("CCDSEC1", v.ccdsec1, "CCD section with binning"),
		i("OVRSCAN1", overscanCols, "Overscan on axis 1"),
		i("OVRSCAN2", 0, "Overscan on axis 2"),
		i("PRESCAN1", 0, "Underscan on axis 1"),
		i("PRESCAN2", 0, "Underscan on axis 2"),
		s("CCDSUM", fmt.Sprintf("%d %d", g.bx, g.by), "CCD pixel summing"),
		r("LTM1_1", v.ltm1, lt),
		r("LTM2_2", v.ltm2, lt),
		r("LTV1", v.ltv1, lt),
		r("LTV2", v.ltv2, lt),
		i("ATM1_1", v.atm1, at),
		i("ATM2_2", 1, at),
		i("ATV1", v.atv1, at),
		i("ATV2", v.atv2, at),
		i("DTM1_1", 1, dt),
		i("DTM2_2", 1, dt),
		i("DTV1", 0, dt),
		i("DTV2", 0, dt))

	title("WCS")
	add(i("EQUINOX", 2000, "Equinox of WCS"),
		i("WCSDIM", 2, "WCS Dimensionality"),
		s("CTYPE1", "RA---TAN", "Coordinate type"),
		s("CTYPE2", "DEC--TAN", "Coordinate type"),
		// azcam looks up a telescope keyword RA that LBTTelescope does not
		// define, and falls back to 00:00:00.00.
		r("CRVAL1", 0.0, "Coordinate reference value"),
		r("CRVAL2", 0.0, "Coordinate reference value"),
		r("CRPIX1", v.crpix1, "Coordinate reference pixel"),
		r("CRPIX2", v.crpix2, "Coordinate reference pixel"),
		r("CD1_1", v.cd11, "Coordinate matrix"),
		r("CD1_2", v.cd12, "Coordinate matrix"),
		r("CD2_1", v.cd21, "Coordinate matrix"),
		r("CD2_2", v.cd22, "Coordinate matrix"))

	title("AzCam Focal plane")
	add(i("AMP-CFG", v.ampCfg, "Amplifier configuration"),
		i("DET-NUM", 1, "Detector number"),
		i("EXT-NUM", q+1, "extension number"),
		i("JPG-EXT", q+1, "Image section"),
		i("DET-POSX", 1, "Detector position in X"),
		i("DET-POSY", 1, "Detector position in Y"),
		i("EXT-POSX", v.extPosX, "Amplifier position in X"),
		i("EXT-POSY", v.extPosY, "Amplifier position in Y"),
		i("AMP-PIX1", v.ampPix1, "Amplifier pixel position in X"),
		i("AMP-PIX2", v.ampPix2, "Amplifier pixel position in Y"),
		// Placeholders in server.py, never measured values.
		r("GAIN", 2.0, "Amplifier gain"),
		r("RDNOISE", 2.0, "Amplifier read noise"))
	return h
}

// conparsHeader is the header astropy writes for BinTableHDU.from_columns
// with two 20A columns, named CONPARS by azcam.
func conparsHeader(rows int) *fits.Header {
	return &fits.Header{Cards: []fits.Card{
		fits.StringCard("XTENSION", "BINTABLE", "binary table extension"),
		fits.IntCard("BITPIX", 8, "array data type"),
		fits.IntCard("NAXIS", 2, "number of array dimensions"),
		fits.IntCard("NAXIS1", 2*statusWidth, "length of dimension 1"),
		fits.IntCard("NAXIS2", int64(rows), "length of dimension 2"),
		fits.IntCard("PCOUNT", 0, "number of group parameters"),
		fits.IntCard("GCOUNT", 1, "number of groups"),
		fits.IntCard("TFIELDS", 2, "number of table fields"),
		fits.StringCard("TTYPE1", "Keyword", ""),
		fits.StringCard("TFORM1", fmt.Sprintf("%dA", statusWidth), ""),
		fits.StringCard("TTYPE2", "Value", ""),
		fits.StringCard("TFORM2", fmt.Sprintf("%dA", statusWidth), ""),
		fits.StringCard("EXTNAME", "CONPARS", "extension name"),
	}}
}

// strCard builds a string card that may be empty. astropy writes an empty
// string as a bare ” where the fits package pads it to eight blanks like
// any short string, so an empty value is built from its card image.
func strCard(key, value, comment string) fits.Card {
	if value != "" {
		return fits.StringCard(key, value, comment)
	}
	img := fmt.Sprintf("%-8s= ''", key)
	if comment != "" {
		img += " / " + comment
	}
	return parsedCard(img)
}

// parsedCard turns one card image into a Card that keeps those bytes.
func parsedCard(img string) fits.Card {
	block := fmt.Sprintf("%-80s%-80s", img, "END")
	block += strings.Repeat(" ", fits.BlockLen-len(block))
	h, _, err := fits.ParseHeader([]byte(block))
	if err != nil || len(h.Cards) != 1 {
		panic(fmt.Sprintf("synth: card image %q does not parse: %v", img, err))
	}
	return h.Cards[0]
}
