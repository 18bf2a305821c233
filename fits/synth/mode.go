package synth

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Mode is a readout mode: the region of interest in unbinned detector pixels
// of the current (2026) geometry, and the binning. Each amplifier reads one
// quarter, so the ROI must be centred on the detector.
type Mode struct {
	Name           string
	C1, C2, R1, R2 int
	BinX, BinY     int
}

// The detector as azcam describes it since 2026-01-02 (detector_mods.py) and
// before (the December 2025 files): the serial prescan changed with the
// pixel count.
const (
	detWidth       = 8292
	detHeight      = 3088
	prescan        = 50
	legacyWidth    = 8288
	legacyPrescan  = 48
	overscanCols   = 32
	maxBin         = 16
	azcamRefPixelY = detHeight / 2
)

var modes = []Mode{
	{"full", 1, 8292, 1, 3088, 1, 1},
	{"3kx3k", 2603, 5690, 1, 3088, 1, 1},
	{"1kx1k", 3635, 4658, 1033, 2056, 1, 1},
	{"4kx3k", 2099, 6194, 1, 3088, 1, 1},
	{"full-2x2", 1, 8292, 1, 3088, 2, 2},
	{"full-1x2", 1, 8292, 1, 3088, 1, 2},
	{"1k-2x2", 3635, 4658, 1033, 2056, 2, 2},
}

// aliases are the other names mods.set_roiByName accepts.
var aliases = map[string]string{"off": "full", "8kx3k": "full", "3k": "3kx3k", "1k": "1kx1k"}

// Modes lists the named modes.
func Modes() []Mode { return append([]Mode(nil), modes...) }

// ModeByName finds a mode by its name or one of azcam's aliases.
func ModeByName(name string) (Mode, error) {
	key := strings.ToLower(name)
	if a, ok := aliases[key]; ok {
		key = a
	}
	for _, m := range modes {
		if m.Name == key {
			return m, nil
		}
	}
	names := make([]string, 0, len(modes)+len(aliases))
	for _, m := range modes {
		names = append(names, m.Name)
	}
	for a := range aliases {
		names = append(names, a)
	}
	slices.Sort(names)
	return Mode{}, fmt.Errorf("unknown readout mode %q (valid: %s)", name, strings.Join(names, ", "))
}

// geometry is a mode laid out on a detector: everything the headers and
// pixels need, in azcam's terms.
type geometry struct {
	width, height  int // unbinned detector size
	prescan        int // serial prescan columns at each amplifier
	c1, c2, r1, r2 int // ROI on this detector
	bx, by         int
	xdata, ny      int // binned data columns and rows per amplifier
}

func newGeometry(m Mode, legacy bool) (geometry, error) {
	g := geometry{width: detWidth, height: detHeight, prescan: prescan,
		c1: m.C1, c2: m.C2, r1: m.R1, r2: m.R2, bx: m.BinX, by: m.BinY}
	bad := func(format string, a ...any) (geometry, error) {
		return geometry{}, fmt.Errorf("mode %q: %s", m.Name, fmt.Sprintf(format, a...))
	}
	if m.BinX < 1 || m.BinY < 1 || m.BinX > maxBin || m.BinY > maxBin {
		return bad("binning %d×%d is not between 1 and %d", m.BinX, m.BinY, maxBin)
	}
	if m.C1 < 1 || m.C2 > detWidth || m.R1 < 1 || m.R2 > detHeight || m.C1 > m.C2 || m.R1 > m.R2 {
		return bad("ROI [%d:%d,%d:%d] is not inside [1:%d,1:%d]", m.C1, m.C2, m.R1, m.R2, detWidth, detHeight)
	}
	if m.C1+m.C2 != detWidth+1 || m.R1+m.R2 != detHeight+1 {
		return bad("ROI [%d:%d,%d:%d] is not centred, so the four amplifiers cannot read equal quarters", m.C1, m.C2, m.R1, m.R2)
	}
	if legacy {
		// The old 8288-column geometry kept centred ROIs of the same size,
		// two columns lower; the full frame shrank to the smaller detector.
		half := min((m.C2-m.C1+1)/2, legacyWidth/2)
		g.width, g.prescan = legacyWidth, legacyPrescan
		g.c1, g.c2 = legacyWidth/2-half+1, legacyWidth/2+half
	}
	w, h := g.c2-g.c1+1, g.r2-g.r1+1
	if w%(2*g.bx) != 0 || h%(2*g.by) != 0 {
		return bad("ROI %d×%d does not split into two binned halves with binning %d×%d", w, h, g.bx, g.by)
	}
	g.xdata, g.ny = w/g.bx/2, h/g.by/2
	return g, nil
}

// nx is NAXIS1: binned data columns plus the overscan, which is never binned.
func (g geometry) nx() int { return g.xdata + overscanCols }

func (g geometry) refX() int { return g.width / 2 }

// detToQuad maps an unbinned detector pixel to quadrant q (IM1..IM4 as 0..3)
// and the 0-based row and column of its IMx array; the inverse of
// quadToDet below. ok is false outside the ROI.
func (g geometry) detToQuad(x, y int) (q, row, col int, ok bool) {
	if x < g.c1 || x > g.c2 || y < g.r1 || y > g.r2 {
		return 0, 0, 0, false
	}
	mx, my := (x-g.c1)/g.bx, (y-g.r1)/g.by
	if mx >= 2*g.xdata || my >= 2*g.ny {
		return 0, 0, 0, false
	}
	col, row = mx, my
	if mx >= g.xdata {
		q, col = 1, 2*g.xdata-1-mx
	}
	if my >= g.ny {
		q, row = q+2, my-g.ny
	}
	return q, row, col, true
}

// quadToDet returns the unbinned detector pixel where binned IMx pixel
// (row, col) starts, following azcam's DETSEC layout: IM1 lower left, IM2
// lower right read from the right, IM3 upper left, IM4 upper right read from
// the right. dataMan's MERGED image is this mosaic flipped top to bottom
// (spec 5.6), so a scene laid out on the detector through this mapping looks
// continuous in MERGED.
func (g geometry) quadToDet(q, row, col int) (x, y int) {
	mx, my := col, row
	if q%2 == 1 {
		mx = 2*g.xdata - 1 - col
	}
	if q >= 2 {
		my = row + g.ny
	}
	return g.c1 + mx*g.bx, g.r1 + my*g.by
}

// isPrescan reports whether binned data column col of any quadrant starts in
// the serial prescan: columns count from the amplifier, and a ROI skips its
// first c1−1 pixels.
func (g geometry) isPrescan(col int) bool {
	return g.c1-1+col*g.bx < g.prescan
}

// extValues are the coordinate keywords azcam writes into one IMx header
// (image_headers.py _write_extension_header, _write_wcs_keywords,
// _write_focalplane_keywords), before dataMan corrects any of them.
type extValues struct {
	biassec, datasec, ampsec, detsec, ccdsec1  string
	ltm1, ltm2, ltv1, ltv2                     float64
	atm1, atv1, atv2                           int
	crpix1, crpix2, cd11, cd12, cd21, cd22     float64
	ampCfg, extPosX, extPosY, ampPix1, ampPix2 int
}

// ext computes extValues for quadrant q with azcam's own formulas, so every
// mode gets what azcam would write, including its quirks: DETSEC of the
// flipped or upper amplifiers of a ROI is placed from the far detector edge
// by the ROI's first column (the 1k "bugs"), CCDSEC1 mixes binned and
// unbinned numbers, and LTV and CD are rounded through float32 as azcam's
// numpy arrays are.
func (g geometry) ext(q int) extValues {
	ampX, ampY := g.width/2, g.height/2
	flip := q%2 == 1
	posX, posY := q%2+1, q/2+1
	bx, by := float64(g.bx), float64(g.by)
	v := extValues{extPosX: posX, extPosY: posY, atm1: 1}

	v.biassec = section(g.xdata+1, g.xdata+overscanCols, 1, g.ny)
	v.datasec = section(1, g.xdata, 1, g.ny)
	v.ampsec = section(1, ampX, 1, ampY)
	x1, x2 := (posX-1)*ampX+g.c1, posX*ampX
	y1, y2 := (posY-1)*ampY+g.r1, posY*ampY
	skipX1, skipY1 := float64(g.c1-1), float64(g.r1-1)
	skipY2 := float64(max(0, ampY-g.r2))
	xc1, xc2 := skipX1/bx+1, (float64(ampX)-skipX1)/bx
	if flip {
		v.ampsec = section(ampX, 1, 1, ampY)
		x1, x2 = x2, x1
		xc1 = (float64(posX*ampX) - skipX1) / bx
		xc2 = (float64((posX-1)*ampX) - skipX1) / bx
		v.atm1, v.ampCfg = -1, 1
	}
	yc1, yc2 := skipY1/by+1, (float64(ampY)-skipY2)/by
	v.detsec = section(x1, x2, y1, y2)
	v.ccdsec1 = section(int(max(1, xc1)), int(max(1, xc2)), int(max(1, yc1)), int(max(1, yc2)))

	v.ltm1 = float64(float32(float64(v.atm1) / bx))
	v.ltm2 = float64(float32(1 / by))
	v.ltv1 = float64(float32((float64(-v.atm1*x1) + 1) / bx))
	v.ltv2 = float64(float32((float64(-y1) + 1) / by))
	if flip {
		v.atv1 = ampX*posX + 1
	} else {
		v.atv1 = -(ampX * (posX - 1))
	}
	v.atv2 = -(ampY * (posY - 1))

	sizeX, sizeY := g.xdata*g.bx, g.ny*g.by
	f := 0
	if flip {
		f = 1
	}
	v.ampPix1 = (posX-1)*sizeX + f*sizeX + 1 - f
	v.ampPix2 = (posY-1)*sizeY + 1
	v.crpix1 = (float64((g.refX()-v.ampPix1)*v.atm1) - skipX1) / bx
	v.crpix2 = (float64(azcamRefPixelY-v.ampPix2) - skipY1) / by

	// azcam multiplies a float32 1/3600 by the binning, cos or −sin of a zero
	// rotation and the flip, so the off-diagonal terms are signed zeros.
	scale := float64(float32(1.0 / 3600))
	sx, sy := float64(v.atm1), 1.0
	v.cd11 = scale * bx * sx
	v.cd12 = scale * by * negZero * sy
	v.cd21 = scale * bx * 0 * sx
	v.cd22 = scale * by * sy
	return v
}

var negZero = math.Copysign(0, -1)

func section(x1, x2, y1, y2 int) string { return fmt.Sprintf("[%d:%d,%d:%d]", x1, x2, y1, y2) }
