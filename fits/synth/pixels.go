package synth

import (
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"sync"
)

// Detector behaviour, in ADU.
const (
	readNoise  = 1.5  // per-pixel rms, as in the real overscans (1.4–1.7)
	rowJitter  = 0.15 // row-to-row bias wobble: row-median overscan rms ≈ 0.45
	gainADU    = 2.0  // e-/ADU, to turn a signal into its shot noise
	hotOvscan1 = 120. // first overscan column: charge the serial register leaves behind
	hotOvscan2 = 25.
	trailFrac  = 1e-3 // fraction of the last data pixel trailing into the overscan
)

// hotRow is the extra level of the first and last two rows, which dataMan's
// bias box skips for that reason.
func hotRow(i, ny int) float64 {
	switch {
	case i == 0:
		return 300
	case i == 1:
		return 60
	case i == ny-2:
		return 40
	case i == ny-1:
		return 220
	}
	return 0
}

// Gaussian noise comes from a table of standard normal quantiles indexed by
// 16-bit slices of a PCG stream: four draws per 64-bit output, exact in
// distribution to well past 4σ, and far cheaper than a Box-Muller per pixel.
const noiseBits = 16

var gaussTable = sync.OnceValue(func() []float32 {
	n := 1 << noiseBits
	t := make([]float32, n)
	for k := range t {
		t[k] = float32(math.Sqrt2 * math.Erfinv(2*(float64(k)+0.5)/float64(n)-1))
	}
	return t
})

// fillNoise fills dst with standard normal draws.
func fillNoise(dst []float32, r *rand.PCG, tab []float32) {
	const mask = 1<<noiseBits - 1
	for j := 0; j+4 <= len(dst); j += 4 {
		u := r.Uint64()
		dst[j] = tab[u&mask]
		dst[j+1] = tab[u>>16&mask]
		dst[j+2] = tab[u>>32&mask]
		dst[j+3] = tab[u>>48]
	}
}

// scene is the light on the detector, in unbinned detector coordinates; a
// binned pixel takes the value at its centre (levels are per output pixel,
// as an observer scales the exposure to the binning).
type scene struct {
	kind    Scene
	width   float64 // detector width
	sky     []line
	emis    []line
	cosmics [4]map[int][]hit // per quadrant, by row
}

type line struct{ x, amp float64 }

type hit struct {
	col int
	amp float64
}

// Spectrum layout, in unbinned pixels.
const (
	lineSigma  = 1.9    // FWHM 4.5 px: a 0.6" slit
	traceSigma = 3.5    // about 1" seeing at 0.12"/px
	traceRow   = 1620.0 // off the amplifier boundary, inside the 1k ROI
	slitCentre = 1544.5
	slitHalf   = 1220.0 // a 5' long slit
	slitEdge   = 1.5
)

func newScene(f Frame, g geometry) *scene {
	s := &scene{kind: f.Scene, width: float64(g.width)}
	if f.Scene != SceneSpectrum {
		return s
	}
	// Sky and object lines belong to the channel, not the exposure, so
	// frames of a sequence line up as real ones do.
	h := fnv.New64a()
	h.Write([]byte(f.Channel))
	r := rand.New(rand.NewPCG(h.Sum64(), 1))
	for range 40 {
		s.sky = append(s.sky, line{60 + r.Float64()*(s.width-120), 150 * math.Pow(25, r.Float64())})
	}
	centre := s.width / 2
	s.emis = []line{{centre - 181, 18000}, {centre + 347, 6500}}
	for range 6 {
		s.emis = append(s.emis, line{60 + r.Float64()*(s.width-120), 2000 * math.Pow(12, r.Float64())})
	}
	s.addCosmics(f, g)
	return s
}

// addCosmics scatters short cosmic-ray tracks over the ROI, a few per frame
// plus more with exposure time, and files each hit under its quadrant row.
func (s *scene) addCosmics(f Frame, g geometry) {
	r := f.rng(streamCosmics)
	area := float64((g.c2-g.c1+1)*(g.r2-g.r1+1)) / (detWidth * detHeight)
	n := max(3, int(math.Round((3+1.5*f.ExpTime)*area)))
	for q := range s.cosmics {
		s.cosmics[q] = map[int][]hit{}
	}
	for range n {
		x := float64(g.c1) + r.Float64()*float64(g.c2-g.c1+1)
		y := float64(g.r1) + r.Float64()*float64(g.r2-g.r1+1)
		theta := r.Float64() * 2 * math.Pi
		length := 1 + r.IntN(7)
		amp := 800 + 11000*r.Float64()
		for k := range length {
			px := int(x + float64(k)*math.Cos(theta))
			py := int(y + float64(k)*math.Sin(theta))
			q, row, col, ok := g.detToQuad(px, py)
			if !ok || g.isPrescan(col) {
				continue
			}
			s.cosmics[q][row] = append(s.cosmics[q][row], hit{col, amp * (0.4 + 0.6*r.Float64())})
		}
	}
}

// response is the smooth throughput of the spectrograph along the
// dispersion, peaking mid-detector.
func (s *scene) response(x float64) float64 {
	u := (x - s.width/2) / (s.width / 2)
	return 0.35 + 0.65*math.Exp(-2*u*u) + 0.04*math.Sin(9*u)
}

func (s *scene) traceY(x float64) float64 {
	u := (x - s.width/2) / (s.width / 2)
	return traceRow + 6*u + 10*u*u
}

func sumLines(lines []line, x float64) float64 {
	var v float64
	for _, l := range lines {
		if d := (x - l.x) / lineSigma; d > -6 && d < 6 {
			v += l.amp * math.Exp(-d*d/2)
		}
	}
	return v
}

// quadScene holds a quadrant's per-column scene terms, so a pixel costs a
// multiply-add, and only rows near the trace evaluate its profile.
type quadScene struct {
	*scene
	flatX, skyX, objX, traceX []float64
	traceLo, traceHi          float64
}

func (s *scene) forQuad(g geometry, q int) *quadScene {
	qs := &quadScene{scene: s}
	if s.kind == SceneBias {
		return qs
	}
	qs.flatX = make([]float64, g.xdata)
	qs.skyX = make([]float64, g.xdata)
	qs.objX = make([]float64, g.xdata)
	qs.traceX = make([]float64, g.xdata)
	qs.traceLo, qs.traceHi = math.Inf(1), math.Inf(-1)
	for j := range g.xdata {
		if g.isPrescan(j) {
			continue
		}
		xd, _ := g.quadToDet(q, 0, j)
		x := float64(xd) + float64(g.bx-1)/2
		resp := s.response(x)
		switch s.kind {
		case SceneFlat:
			qs.flatX[j] = 22000 * resp
		case SceneSpectrum:
			qs.skyX[j] = 25*resp + sumLines(s.sky, x)
			qs.objX[j] = 3500*resp + sumLines(s.emis, x)
			t := s.traceY(x)
			qs.traceX[j] = t
			qs.traceLo, qs.traceHi = min(qs.traceLo, t), max(qs.traceHi, t)
		}
	}
	return qs
}

// signal fills sig with the light in binned row i (detector row y centre).
func (qs *quadScene) signal(sig []float64, y float64) {
	switch qs.kind {
	case SceneBias:
		clear(sig)
	case SceneFlat:
		u := (y - slitCentre) / slitCentre
		vig := 1 - 0.08*u*u
		for j := range sig {
			sig[j] = qs.flatX[j] * vig
		}
	case SceneSpectrum:
		slit := 1 / (1 + math.Exp(-(slitHalf-math.Abs(y-slitCentre))/slitEdge))
		for j := range sig {
			sig[j] = slit * qs.skyX[j]
		}
		if y < qs.traceLo-6*traceSigma || y > qs.traceHi+6*traceSigma {
			return
		}
		for j := range sig {
			d := (y - qs.traceX[j]) / traceSigma
			if qs.objX[j] > 0 && d > -6 && d < 6 {
				sig[j] += qs.objX[j] * math.Exp(-d*d/2)
			}
		}
	}
}

// quadWriter produces the rows of one IMx array, big-endian int16 with
// BZERO 32768, through one reused buffer.
type quadWriter struct {
	g     geometry
	q     int
	bias  float64
	scene *quadScene
	rng   *rand.PCG
	tab   []float32
	noise []float32
	sig   []float64
	out   []byte
}

func newQuadWriter(f Frame, g geometry, s *scene, q int) *quadWriter {
	nx := g.nx()
	return &quadWriter{
		g:     g,
		q:     q,
		bias:  f.Bias()[q],
		scene: s.forQuad(g, q),
		rng:   rand.NewPCG(uint64(f.Seed), streamQuad+uint64(q)),
		tab:   gaussTable(),
		noise: make([]float32, (nx+1+3)/4*4), // one extra draw for the row jitter
		sig:   make([]float64, g.xdata),
		out:   make([]byte, 2*nx),
	}
}

func (w *quadWriter) writeTo(dst io.Writer) error {
	for i := range w.g.ny {
		if _, err := dst.Write(w.row(i)); err != nil {
			return err
		}
	}
	return nil
}

func (w *quadWriter) row(i int) []byte {
	g := w.g
	nx := g.nx()
	fillNoise(w.noise, w.rng, w.tab)
	base := w.bias + rowJitter*float64(w.noise[nx]) + hotRow(i, g.ny)
	_, y := g.quadToDet(w.q, i, 0)
	w.scene.signal(w.sig, float64(y)+float64(g.by-1)/2)
	for _, h := range w.scene.cosmics[w.q][i] {
		w.sig[h.col] += h.amp
	}
	for j, s := range w.sig {
		sd := readNoise
		if s > 0 {
			sd = math.Sqrt(readNoise*readNoise + s/gainADU)
		}
		w.put(j, base+s+sd*float64(w.noise[j]))
	}
	last := 0.0
	if g.xdata > 0 {
		last = w.sig[g.xdata-1]
	}
	for j := g.xdata; j < nx; j++ {
		v := base + readNoise*float64(w.noise[j])
		switch j - g.xdata {
		case 0:
			v += hotOvscan1 + trailFrac*last
		case 1:
			v += hotOvscan2
		}
		w.put(j, v)
	}
	return w.out
}

// put stores physical value v, rounded and clipped to 0..65535, as the
// int16 v−32768: flipping the top bit of the uint16 does exactly that.
func (w *quadWriter) put(j int, v float64) {
	var u uint16
	switch {
	case v >= 65535:
		u = 65535
	case v > 0:
		u = uint16(v + 0.5)
	}
	u ^= 0x8000
	w.out[2*j] = byte(u >> 8)
	w.out[2*j+1] = byte(u)
}
