package nightlog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/obsdata/dataman/fits"
)

// Header is what a row shows of a frame's headers, as text: each value
// as the header has it, "" when the keyword is missing. Values are
// untrusted: the template escapes them.
type Header struct {
	UT        string // DATE-OBS (with UTC-OBS, for a raw date alone)
	ImageType string // IMAGETYP
	Object    string
	ExpTime   string
	Mask      string // MASKNAME
	Optics    string // GRATNAME / FILTNAME
	Binning   string // CCDXBIN×CCDYBIN
	Airmass   string
	Bias      [4]string // Q1BIAS..Q4BIAS of MERGED
}

// Start is the exposure start, if UT parses.
func (h Header) Start() (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05.999999999Z07:00"} {
		if t, err := time.Parse(layout, h.UT); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// Clock is UT's time of day, or UT as it is when it does not parse.
func (h Header) Clock() string {
	if t, ok := h.Start(); ok {
		return t.Format("15:04:05")
	}
	return h.UT
}

// ReadStored reads a stored copy's headers: the primary's, and MERGED's
// overscan biases. It reads no data. A copy with no MERGED
// (processing.makeOTM off) has the primary's columns and no biases; a
// MERGED out of place is an error, with the columns it could read.
func ReadStored(path string) (Header, error) {
	f, err := fits.Open(path)
	if err != nil {
		return Header{}, err
	}
	defer f.Close()
	h := fromPrimary(f.HDUs[0].Header)
	switch err := fits.CheckMergedExt(f.HDUs); {
	case errors.Is(err, fits.ErrNoMerged):
	case err != nil:
		return h, err
	default:
		m := f.HDUs[fits.MergedExt].Header
		for q := range h.Bias {
			h.Bias[q] = number(m, fmt.Sprintf("Q%dBIAS", q+1), 'f', 2)
		}
	}
	return h, nil
}

// ReadRaw reads a raw file's primary header alone, so that a file still
// being written has its row.
func ReadRaw(path string) (Header, error) {
	hdu, err := fits.ReadPrimary(path)
	if err != nil {
		return Header{}, err
	}
	return fromPrimary(hdu.Header), nil
}

func fromPrimary(p *fits.Header) Header {
	h := Header{
		UT:        text(p, "DATE-OBS"),
		ImageType: text(p, "IMAGETYP"),
		Object:    text(p, "OBJECT"),
		ExpTime:   number(p, "EXPTIME", 'g', -1),
		Mask:      text(p, "MASKNAME"),
		Airmass:   number(p, "AIRMASS", 'f', 3),
	}
	if clock := text(p, "UTC-OBS"); h.UT != "" && !strings.Contains(h.UT, "T") && clock != "" {
		h.UT += "T" + clock // a raw file's DATE-OBS is the date alone
	}
	var optics []string
	for _, k := range []string{"GRATNAME", "FILTNAME"} {
		if v := text(p, k); v != "" {
			optics = append(optics, v)
		}
	}
	h.Optics = strings.Join(optics, " / ")
	// Conditioning writes CCDXBIN/CCDYBIN (not for 1×1 without CCDSUM,
	// as dataMan); a raw file has CCDBIN1/CCDBIN2.
	for _, k := range [][2]string{{"CCDXBIN", "CCDYBIN"}, {"CCDBIN1", "CCDBIN2"}} {
		x, y := number(p, k[0], 'f', 0), number(p, k[1], 'f', 0)
		if x != "" || y != "" {
			h.Binning = or(x, "?") + "×" + or(y, "?")
			break
		}
	}
	return h
}

func or(s, dflt string) string {
	if s == "" {
		return dflt
	}
	return s
}

// text is a keyword's value as text, trimmed.
func text(h *fits.Header, key string) string {
	c, ok := h.Get(key)
	if !ok {
		return ""
	}
	return strings.TrimSpace(c.ValueString())
}

// number formats a numeric keyword; a value that is not a number is shown
// as it is.
func number(h *fits.Header, key string, format byte, prec int) string {
	c, ok := h.Get(key)
	if !ok {
		return ""
	}
	if v, ok := c.Number(); ok {
		return strconv.FormatFloat(v, format, prec, 64)
	}
	return strings.TrimSpace(c.ValueString())
}
