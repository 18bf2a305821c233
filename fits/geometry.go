package fits

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Geometry is the readout layout of a raw MODS frame, read from its headers:
// nothing here assumes the full frame.
type Geometry struct {
	NX, NY     int64 // NAXIS1, NAXIS2 of each quadrant (binned columns incl. overscan, binned rows)
	Overscan   int64 // OVRSCAN1: trailing overscan columns, never binned
	BinX, BinY int64 // CCDSUM
	RefX, RefY int64 // REF-PIX1, REF-PIX2: the detector centre in unbinned pixels
	BITPIX     int64
	// NoCCDSUM: the first quadrant has no CCDSUM, so the binning is assumed
	// 1×1 and, as in dataMan, CCDXBIN and CCDYBIN are not written.
	NoCCDSUM bool
}

// XTrim is the number of data columns per quadrant.
func (g Geometry) XTrim() int64 { return g.NX - g.Overscan }

func (g Geometry) bytesPerPixel() int64 { return max(g.BITPIX, -g.BITPIX) / 8 }

// Quadrant extension indices in the raw file: IM1..IM4 (Q1..Q4 before 2026)
// are HDUs 1..4, addressed by position as dataMan does.
const nQuad = 4

// readGeometry checks that HDUs 1..4 are equal-sized 2-D images and reads
// the keywords the geometry comes from.
func readGeometry(primary *Header, quads [nQuad]*HDU) (Geometry, []string, error) {
	var g Geometry
	var warnings []string
	for i, q := range quads {
		bitpix, _ := q.Header.Int("BITPIX")
		naxis, _ := q.Header.Int("NAXIS")
		if naxis != 2 {
			return g, nil, fmt.Errorf("extension %d (%s) is not a 2-D image (NAXIS = %d)", i+1, q.Name(), naxis)
		}
		nx, _ := q.Header.Int("NAXIS1")
		ny, _ := q.Header.Int("NAXIS2")
		if i == 0 {
			g.NX, g.NY, g.BITPIX = nx, ny, bitpix
			continue
		}
		if nx != g.NX || ny != g.NY || bitpix != g.BITPIX {
			return g, nil, fmt.Errorf("quadrants differ: %s is %d×%d BITPIX %d, %s is %d×%d BITPIX %d",
				quads[0].Name(), g.NX, g.NY, g.BITPIX, q.Name(), nx, ny, bitpix)
		}
	}
	switch g.BITPIX {
	case 16, 32, -32, -64:
	default:
		return g, nil, fmt.Errorf("quadrant BITPIX %d is not supported", g.BITPIX)
	}
	var err error
	if g.Overscan, err = quads[0].Header.Int("OVRSCAN1"); err != nil {
		return g, nil, fmt.Errorf("%s: %w", quads[0].Name(), err)
	}
	if g.Overscan < 3 || g.Overscan >= g.NX {
		return g, nil, fmt.Errorf("%s: OVRSCAN1 = %d does not fit NAXIS1 = %d", quads[0].Name(), g.Overscan, g.NX)
	}
	if g.NY < 5 {
		return g, nil, fmt.Errorf("%s: NAXIS2 = %d leaves no overscan rows to measure", quads[0].Name(), g.NY)
	}
	for _, k := range []struct {
		key string
		dst *int64
	}{{"REF-PIX1", &g.RefX}, {"REF-PIX2", &g.RefY}} {
		v, err := primary.Float(k.key)
		if err != nil {
			return g, nil, fmt.Errorf("primary: %w", err)
		}
		*k.dst = int64(v) // dataMan takes int() of the value
	}
	g.BinX, g.BinY = 1, 1
	if s, err := quads[0].Header.String("CCDSUM"); err == nil {
		bx, by, perr := parseCCDSUM(s)
		if perr != nil {
			return g, nil, fmt.Errorf("%s: %w", quads[0].Name(), perr)
		}
		g.BinX, g.BinY = bx, by
	} else {
		g.NoCCDSUM = true
		warnings = append(warnings, fmt.Sprintf("%s has no CCDSUM: assuming unbinned", quads[0].Name()))
	}
	return g, warnings, nil
}

func parseCCDSUM(s string) (int64, int64, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("CCDSUM %q is not two binning factors", s)
	}
	bx, err1 := strconv.ParseInt(f[0], 10, 64)
	by, err2 := strconv.ParseInt(f[1], 10, 64)
	if err := errors.Join(err1, err2); err != nil || bx < 1 || by < 1 || bx > 64 || by > 64 {
		return 0, 0, fmt.Errorf("CCDSUM %q is not two binning factors", s)
	}
	return bx, by, nil
}

// section formats an IRAF image section.
func section(x1, x2, y1, y2 int64) string { return fmt.Sprintf("[%d:%d,%d:%d]", x1, x2, y1, y2) }

// detsec returns the corrected DETSEC of quadrant q (0-based IM1..IM4) in
// unbinned detector pixels: IM1 lower left, IM2 lower right read x-flipped,
// IM3 upper left, IM4 upper right x-flipped. dataMan's formula put the IM2
// and IM4 start 2×OVRSCAN1 columns too far and mixed binned NAXIS with
// unbinned REF-PIX; the data width here is (NAXIS1 − OVRSCAN1) × binning.
func (g Geometry) detsec(q int) string {
	w := g.XTrim() * g.BinX
	h := g.NY * g.BinY
	x1, x2 := g.RefX-w+1, g.RefX
	if q == 1 || q == 3 {
		x1, x2 = g.RefX+w, g.RefX+1
	}
	y1, y2 := g.RefY-h+1, g.RefY
	if q >= 2 {
		y1, y2 = g.RefY+1, g.RefY+h
	}
	return section(x1, x2, y1, y2)
}

// ltv returns the LTV1, LTV2 that map detector to image pixels for
// quadrant q with LTM = ±1/bin: image pixel 1 sits at the centre of the first
// binned pixel, counted from the quadrant's amplifier corner.
func (g Geometry) ltv(q int) (float64, float64) {
	w := g.XTrim() * g.BinX
	h := g.NY * g.BinY
	bx, by := float64(g.BinX), float64(g.BinY)
	var ltv1, ltv2 float64
	if q == 1 || q == 3 {
		ltv1 = 1 + float64(g.RefX+w)/bx - (bx-1)/(2*bx)
	} else {
		ltv1 = 1 - float64(g.RefX-w+1)/bx - (bx-1)/(2*bx)
	}
	if q >= 2 {
		ltv2 = 1 - float64(g.RefY+1)/by - (by-1)/(2*by)
	} else {
		ltv2 = 1 - float64(g.RefY-h+1)/by - (by-1)/(2*by)
	}
	return ltv1, ltv2
}

// ccdroi is the readout region of the whole detector in unbinned pixels.
func (g Geometry) ccdroi() string {
	w := g.XTrim() * g.BinX
	h := g.NY * g.BinY
	return section(g.RefX-w+1, g.RefX+w, g.RefY-h+1, g.RefY+h)
}
