package fits

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/obsdata/dataman/internal/astro"
)

// fixDETSEC corrects DETSEC, CCDSEC and LTV of the quadrant headers
// (dataMan fixDataSec, spec 5.2, with the corrections of spec 13 rows 1–2).
// Unbinned frames get exactly dataMan's cards (integer LTVs on IM2–IM4);
// binned frames get fractional LTVs on every quadrant, as LTM is ±1/bin.
func fixDETSEC(g Geometry, quads [nQuad]*Header) {
	for q, h := range quads {
		sec := g.detsec(q)
		h.Set(StringCard("DETSEC", sec, "Corrected DETSEC"))
		h.Set(StringCard("CCDSEC", sec, "Corrected CCDSEC"))
		ltv1, ltv2 := g.ltv(q)
		if g.BinX == 1 && g.BinY == 1 {
			if q == 1 || q == 3 {
				h.Set(IntCard("LTV1", int64(ltv1), "Corrected LTV1"))
			}
			if q >= 2 {
				h.Set(IntCard("LTV2", int64(ltv2), "Corrected LTV2"))
			}
			continue
		}
		h.Set(FloatCard("LTV1", ltv1, "Corrected LTV1"))
		h.Set(FloatCard("LTV2", ltv2, "Corrected LTV2"))
	}
}

// exposureStart returns the ISO UTC start of the exposure: DATE-OBS joined
// with UTC-OBS, or DATE-OBS alone when it already holds a time. Either way
// azcam's ".1000" fraction rolls over into the next second, and a second 60
// in a minute with no leap second is read as astropy (and so dataMan) reads
// it, as the first second of the next minute; note then says so. changed
// reports whether DATE-OBS must be rewritten.
func exposureStart(p *Header) (iso string, changed bool, note string, err error) {
	date, err := p.String("DATE-OBS")
	if err != nil {
		return "", false, "", err
	}
	day, clock, hasTime := strings.Cut(date, "T")
	what := fmt.Sprintf("DATE-OBS %q", date)
	if !hasTime {
		if clock, err = p.String("UTC-OBS"); err != nil {
			return "", false, "", err
		}
		what += fmt.Sprintf(" with UTC-OBS %q", clock)
	}
	iso, err = astro.CombineDateTime(day, clock)
	if err != nil {
		d, c, ok := astro.CarrySecond60(day, clock)
		if !ok {
			return "", false, "", fmt.Errorf("%s: %w", what, err)
		}
		if iso, err = astro.CombineDateTime(d, c); err != nil {
			return "", false, "", fmt.Errorf("%s: %w", what, err)
		}
		note = fmt.Sprintf("%s: second 60 in a minute with no leap second, read as %s, as astropy reads it", what, iso)
	}
	return iso, iso != date, note, nil
}

// uniqName is UNIQNAME: <instrume>.<YYYYmmdd>.<HHMMSS>.fits from the UTC
// exposure start (an ISO time from exposureStart), so the same raw file
// always gets the same name (dataMan used the processing host's local
// clock).
func uniqName(instrume, iso string) string {
	return fmt.Sprintf("%s.%s%s%s.%s%s%s.fits", strings.ToLower(instrume),
		iso[0:4], iso[5:7], iso[8:10], iso[11:13], iso[14:16], iso[17:19])
}

// hashName is UNIQNAME for a raw file whose header gives no exposure
// start: <instrume>.<the first 12 hex digits of the SHA-256 of the raw
// primary header>.fits. It is as deterministic as the exposure start (the
// same raw file, the same name), differs between frames, whose headers name
// the file and the exposure, and looks like no time.
func hashName(raw *File, instrume string) (string, error) {
	b := make([]byte, raw.HDUs[0].HeaderSize)
	if _, err := raw.ReadAt(b, raw.HDUs[0].Start); err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return fmt.Sprintf("%s.%s.fits", strings.ToLower(instrume), hex.EncodeToString(sum[:6])), nil
}

// fixDateTime writes the ISO DATE-OBS, MJD-OBS, HJD-OBS and BJD-OBS (spec
// 5.3, corrected by spec 13 rows 3–4). It is idempotent: a DATE-OBS that
// already holds a time is only rewritten to roll over a ".1000" or a second
// 60. Anything it cannot compute is left out with a warning naming the
// reason, never silently dropped, and DATE-OBS is then left as it is (dataMan
// wrote "<date>T<garbage>" there).
func fixDateTime(p *Header, fallback astro.Site) []string {
	var warns []string
	iso, changed, note, err := exposureStart(p)
	if err != nil {
		return []string{"fixDateTime: " + err.Error() + ": no exposure start, so DATE-OBS is left as it is and MJD-OBS, HJD-OBS and BJD-OBS are not written"}
	}
	if note != "" {
		warns = append(warns, "fixDateTime: "+note)
	}
	t, err := astro.ParseISO(iso)
	if err != nil {
		return append(warns, fmt.Sprintf("fixDateTime: DATE-OBS %q: %v: DATE-OBS is left as it is and MJD-OBS, HJD-OBS and BJD-OBS are not written", iso, err))
	}
	if changed {
		p.Set(StringCard("DATE-OBS", iso, "UTC Date at start of obs"))
	}
	p.Set(FloatCard("MJD-OBS", t.MJD(), "Modified JD at start of obs [UTC]"))

	ra, errRA := angleOf(p, "TELRA")
	dec, errDec := angleOf(p, "TELDEC")
	if why := reasons(errRA, errDec); why != "" {
		return append(warns, "fixDateTime: "+why+": HJD-OBS and BJD-OBS not written")
	}
	site := fallback
	lat, e1 := p.Float("LATITUDE")
	lon, e2 := p.Float("LONGITUD")
	elev, e3 := p.Float("ELEVATIO")
	if errors.Join(e1, e2, e3) == nil {
		site = astro.SiteFromHeader(lat, lon, elev)
	}
	p.Set(FloatCard("HJD-OBS", astro.HJD(t, ra*15, dec, site), "Heliocentric MJD at start of obs [UTC]"))
	p.Set(FloatCard("BJD-OBS", astro.BJD(t, ra*15, dec, site), "Barycentric MJD at start of obs [TDB]"))
	return warns
}

// reasons joins the non-nil errors with "; ": a warning is one log line,
// which errors.Join's newlines would break.
func reasons(errs ...error) string {
	var out []string
	for _, err := range errs {
		if err != nil {
			out = append(out, err.Error())
		}
	}
	return strings.Join(out, "; ")
}

// angleOf reads a sexagesimal or numeric angle card in its own unit.
func angleOf(p *Header, key string) (float64, error) {
	c, ok := p.Get(key)
	if !ok {
		return 0, &MissingError{key}
	}
	if v, ok := c.Number(); ok {
		return v, nil
	}
	if c.Kind != KindString {
		return 0, fmt.Errorf("%s %s is not an angle", key, c.ValueString())
	}
	v, err := astro.ParseSexagesimal(c.Str)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return v, nil
}

// Conpars is the Archon status snapshot of the CONPARS table.
type Conpars map[string]string

// readConpars decodes a binary table with Keyword and Value string columns.
func readConpars(h *HDU, data []byte) (Conpars, error) {
	if x, _ := h.Header.String("XTENSION"); x != "BINTABLE" {
		return nil, fmt.Errorf("%s is not a binary table", h.Name())
	}
	width, _ := h.Header.Int("NAXIS1")
	rows, _ := h.Header.Int("NAXIS2")
	nf, err := h.Header.Int("TFIELDS")
	if err != nil || nf < 1 || nf > 999 {
		return nil, fmt.Errorf("%s: bad TFIELDS", h.Name())
	}
	type col struct{ off, width int64 }
	cols := map[string]col{}
	var off int64
	for i := int64(1); i <= nf; i++ {
		n := strconv.FormatInt(i, 10)
		form, err := h.Header.String("TFORM" + n)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", h.Name(), err)
		}
		w, isString, err := tformWidth(form)
		if err != nil {
			return nil, fmt.Errorf("%s: TFORM%s: %w", h.Name(), n, err)
		}
		if name, err := h.Header.String("TTYPE" + n); err == nil && isString {
			cols[strings.ToUpper(strings.TrimSpace(name))] = col{off, w}
		}
		off += w
	}
	if off != width || width*rows != int64(len(data)) {
		return nil, fmt.Errorf("%s: columns add up to %d bytes, rows are %d", h.Name(), off, width)
	}
	kc, ok1 := cols["KEYWORD"]
	vc, ok2 := cols["VALUE"]
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("%s has no Keyword and Value string columns", h.Name())
	}
	out := Conpars{}
	for r := int64(0); r < rows; r++ {
		row := data[r*width : (r+1)*width]
		k := cstring(row[kc.off : kc.off+kc.width])
		out[k] = cstring(row[vc.off : vc.off+vc.width])
	}
	return out, nil
}

// cstring trims a fixed-width table string at its first NUL and of
// trailing blanks, as astropy does when reading.
func cstring(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return strings.TrimRight(string(b), " ")
}

// tformWidth returns the byte width of a binary table TFORM.
func tformWidth(form string) (int64, bool, error) {
	form = strings.TrimSpace(form)
	i := 0
	for i < len(form) && form[i] >= '0' && form[i] <= '9' {
		i++
	}
	r := int64(1)
	if i > 0 {
		v, err := strconv.ParseInt(form[:i], 10, 64)
		if err != nil || v > 1<<20 {
			return 0, false, fmt.Errorf("%q: bad repeat count", form)
		}
		r = v
	}
	if i >= len(form) {
		return 0, false, fmt.Errorf("%q: no type", form)
	}
	size := map[byte]int64{'L': 1, 'B': 1, 'A': 1, 'I': 2, 'J': 4, 'K': 8, 'E': 4, 'D': 8, 'C': 8, 'M': 16, 'P': 8, 'Q': 16}
	t := form[i]
	if t == 'X' {
		return (r + 7) / 8, false, nil
	}
	s, ok := size[t]
	if !ok {
		return 0, false, fmt.Errorf("%q: unknown type %c", form, t)
	}
	if t == 'P' || t == 'Q' {
		r = min(r, 1)
	}
	return r * s, t == 'A', nil
}

// noRead is dataMan's value for a temperature it could not read.
const noRead = -999.9

// fixTemps sets CCDTEMP, BASETEMP and ARCHTEMP from the CONPARS snapshot
// (dataMan fixArchonTemps, spec 5.4). The sensors are wired differently on
// MODS1 and MODS2.
func fixTemps(p *Header, instrume string, cp Conpars) []string {
	var warns []string
	ccd, base := "MOD10/TEMPA", "MOD10/TEMPB"
	if instrume == "MODS1B" || instrume == "MODS1R" {
		ccd, base = base, ccd
	}
	read := func(key string) float64 {
		s, ok := cp[key]
		if !ok {
			warns = append(warns, fmt.Sprintf("fixTemps: CONPARS has no %s: written as %g", key, noRead))
			return noRead
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			warns = append(warns, fmt.Sprintf("fixTemps: CONPARS %s = %q is not a temperature: written as %g", key, s, noRead))
			return noRead
		}
		return v
	}
	p.Set(FloatCard("CCDTEMP", read(ccd), "CCD Detector Temperature [deg C]"))
	p.Set(FloatCard("BASETEMP", read(base), "CCD Mount Base Temperature [deg C]"))
	p.Set(FloatCard("ARCHTEMP", read("BACKPLANE_TEMP"), "Archon Controller Backplane Temperature [deg C]"))
	return warns
}

// fixMisc applies dataMan's miscellaneous rules in their order (spec 5.5),
// with NSTYPE/NSEPHFIL handled one card at a time and NONSIDER parsed
// strictly (spec 13 row 12).
func fixMisc(p *Header, g Geometry) []string {
	var warns []string
	alt, errAlt := angleOf(p, "TELALT")
	az, errAz := angleOf(p, "TELAZ")
	if errAlt == nil && errAz == nil {
		p.Set(FloatCard("TELALT", alt, "Telescope Altitude at start of obs [deg]"))
		p.Set(FloatCard("TELAZ", az, "Telescope Azimuth at start of obs [deg]"))
	} else {
		for _, e := range []error{errAlt, errAz} {
			var miss *MissingError
			if e != nil && !errors.As(e, &miss) {
				warns = append(warns, "fixMisc: "+e.Error()+": TELALT and TELAZ left as they are")
			}
		}
	}
	zd := -99.99
	if errAlt == nil {
		zd = 90 - alt
	}
	p.Set(FloatCard("ZD", zd, "Zenith distance at start of obs [deg]"))

	link := "Unknown"
	if v, ok := pyInt(p, "LBTWLINK"); ok {
		link = "Down"
		if v == 1 {
			link = "Up"
		}
	}
	p.Set(StringCard("LBTWLINK", link, "LBT Weather Station Link State"))

	p.Set(StringCard("CCDROI", g.ccdroi(), "CCD readout ROI coords"))
	if g.NoCCDSUM {
		// dataMan reads the factors from IM1's CCDSUM and writes nothing
		// without it: a guess here would look like a reading.
		warns = append(warns, "fixMisc: extension 1 has no CCDSUM: CCDXBIN and CCDYBIN not written")
	} else {
		p.Set(IntCard("CCDXBIN", g.BinX, "CCD X-axis Binning Factor"))
		p.Set(IntCard("CCDYBIN", g.BinY, "CCD Y-axis Binning Factor"))
	}

	if c, ok := p.Get("OBJECT"); ok {
		obj := *c
		obj.Key, obj.Comment, obj.raw = "OBJNAME", "Target Name", nil
		p.Set(obj)
	} else {
		p.Set(StringCard("OBJNAME", "None", "Target name"))
	}
	p.Set(StringCard("OBJRADEC", "FK5", "Target coordinate system"))
	p.Set(StringCard("OBJEQUIN", "J2000", "Target coordinate system equinox"))
	p.Set(FloatCard("OBJEPOCH", 2000, "Target epoch"))
	p.Set(StringCard("GUINAME", "None", "Guide star name"))
	p.Set(StringCard("GUIRADEC", "FK5", "Guide star coordinate system"))
	p.Set(StringCard("GUIEQUIN", "J2000", "Guide star coordinate system equinox"))
	p.Set(FloatCard("GUIPMRA", 0, "Guide star RA proper motion [mas/yr]"))
	p.Set(FloatCard("GUIPMDEC", 0, "Guide star DEC proper motion [mas/yr]"))
	p.Set(FloatCard("GUIEPOCH", 2000, "Guide star epoch"))

	for _, k := range []struct{ key, comment string }{
		{"NSTYPE", "Non-sidereal target type"},
		{"NSEPHFIL", "Non-sidereal ephemeris file name"},
	} {
		c, ok := p.Get(k.key)
		if !ok || (c.Kind == KindString && strings.TrimSpace(c.Str) == "") || c.Kind == KindNone {
			p.Set(StringCard(k.key, "None", k.comment))
		}
	}

	if c, ok := p.Get("NONSIDER"); ok {
		if v, ok := strictInt(c); ok {
			p.Set(BoolCard("NONSIDER", v != 0, "Target is non-sidereal"))
		} else if c.Kind != KindBool {
			warns = append(warns, fmt.Sprintf("fixMisc: NONSIDER %q is not an integer: left as it is", c.ValueString()))
		}
	}
	p.Delete("NEXTEND")
	if s, err := p.String("IMAGETYP"); err == nil {
		p.Set(StringCard("IMAGETYP", strings.ToUpper(s), "Image type"))
	}
	return warns
}

// pyInt mirrors Python's int() on a header value, as dataMan's LBTWLINK rule
// uses it: integers, reals (truncated), booleans and integer strings convert.
func pyInt(p *Header, key string) (int64, bool) {
	c, ok := p.Get(key)
	if !ok {
		return 0, false
	}
	switch c.Kind {
	case KindInt:
		return c.Int, true
	case KindFloat:
		return int64(c.Float), true
	case KindBool:
		if c.Bool {
			return 1, true
		}
		return 0, true
	case KindString:
		v, err := strconv.ParseInt(strings.TrimSpace(c.Str), 10, 64)
		return v, err == nil
	}
	return 0, false
}

// strictInt accepts an integer card, an integral real, or a string that is
// an integer: what NONSIDER may honestly hold.
func strictInt(c *Card) (int64, bool) {
	switch c.Kind {
	case KindInt:
		return c.Int, true
	case KindFloat:
		if c.Float == math.Trunc(c.Float) {
			return int64(c.Float), true
		}
	case KindString:
		v, err := strconv.ParseInt(strings.TrimSpace(c.Str), 10, 64)
		return v, err == nil
	}
	return 0, false
}
