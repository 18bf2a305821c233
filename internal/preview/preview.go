package preview

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/internal/atomicfile"
)

// Options say how a preview is drawn.
type Options struct {
	ZScale ZScale // zero is DefaultZScale
	Asinh  bool   // an asinh stretch after the zscale limits (astropy's AsinhStretch, a = 0.1)
}

const (
	factor     = 4   // the preview is a quarter of the width and height of MERGED
	thumbSide  = 200 // the thumbnail's longer side, about
	asinhA     = 0.1 // astropy's AsinhStretch default
	pngSuffix  = ".png"
	thumbSufix = ".thumb.png"
)

// Paths are the preview and the thumbnail of the stored copy stored.
func Paths(stored string) (preview, thumb string) {
	return stored + pngSuffix, stored + thumbSufix
}

// IsPreview says whether a file name in a store folder is a preview's, not
// a stored copy's.
func IsPreview(name string) bool { return strings.HasSuffix(name, pngSuffix) }

// Result says what Write drew.
type Result struct {
	Preview, Thumb string
	Lo, Hi         float64 // the zscale limits
}

// Write draws the previews of the conditioned file stored beside it,
// each written atomically.
func Write(stored string, o Options) (Result, error) {
	f, err := fits.Open(stored)
	if err != nil {
		return Result{}, fmt.Errorf("preview %s: %w", stored, err)
	}
	defer f.Close()
	if err := fits.CheckMergedExt(f.HDUs); err != nil {
		return Result{}, fmt.Errorf("preview %s: %w", stored, err)
	}
	m, err := Reduce(f, f.HDUs[fits.MergedExt], o.zscale())
	if err != nil {
		return Result{}, fmt.Errorf("preview %s: MERGED: %w", stored, err)
	}
	return draw(stored, m, o)
}

// WriteGathered draws the previews of the conditioned file stored from
// what g gathered of its MERGED while it was conditioned: the stored copy
// is read again only if MERGED has non-finite pixels.
func WriteGathered(stored string, g *Gatherer, o Options) (Result, error) {
	m, err := g.Reduced(func(z ZScale, finite int) ([]float32, error) {
		f, err := fits.Open(stored)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := fits.CheckMergedExt(f.HDUs); err != nil {
			return nil, err
		}
		return finiteSamples(f, f.HDUs[fits.MergedExt], z, finite)
	})
	if err != nil {
		return Result{}, fmt.Errorf("preview %s: MERGED: %w", stored, err)
	}
	return draw(stored, m, o)
}

// draw writes the preview and the thumbnail of m beside stored.
func draw(stored string, m Reduced, o Options) (Result, error) {
	pre, thumb := Paths(stored)
	res := Result{Preview: pre, Thumb: thumb, Lo: m.Lo, Hi: m.Hi}
	small := m.Small
	if err := writePNG(pre, m.gray(small, o.Asinh)); err != nil {
		return res, err
	}
	if err := writePNG(thumb, m.gray(small.block(thumbFactor(small)), o.Asinh)); err != nil {
		return res, err
	}
	return res, nil
}

// thumbFactor is the block size that brings the preview to about 200
// pixels on its longer side.
func thumbFactor(p Plane) int { return max(1, (max(p.W, p.H)+thumbSide-1)/thumbSide) }

func (o Options) zscale() ZScale {
	if o.ZScale == (ZScale{}) {
		return DefaultZScale
	}
	return o.ZScale
}

// Plane is an image of float32 pixels, row 0 first as in FITS (the bottom);
// NaN where no pixel was finite.
type Plane struct {
	W, H int
	Pix  []float32
}

// block averages b×b blocks of finite pixels (partial at the edges).
func (p Plane) block(b int) Plane {
	w, h := (p.W+b-1)/b, (p.H+b-1)/b
	sum := make([]float32, w*h)
	cnt := make([]int32, w*h)
	for y := range p.H {
		row := p.Pix[y*p.W : (y+1)*p.W]
		out := (y / b) * w
		for x, v := range row {
			if !math.IsNaN(float64(v)) {
				sum[out+x/b] += v
				cnt[out+x/b]++
			}
		}
	}
	return averaged(w, h, sum, cnt)
}

func averaged(w, h int, sum []float32, cnt []int32) Plane {
	for i := range sum {
		if cnt[i] == 0 {
			sum[i] = float32(math.NaN())
		} else {
			sum[i] /= float32(cnt[i])
		}
	}
	return Plane{W: w, H: h, Pix: sum}
}

// Reduced is MERGED read once: its zscale limits and its block average.
type Reduced struct {
	Lo, Hi float64
	Small  Plane
}

// Gatherer takes the rows of a W×H float32 image in order, big-endian as
// FITS stores them, and gathers what the previews need as they pass: the
// 4×4 block sums and astropy's zscale sample. The conditioner feeds it
// MERGED as it computes it, so that the previews need not read the stored
// copy back; Reduce feeds it from a file.
type Gatherer struct {
	w, h      int // the image
	bw        int // blocks per row
	z         ZScale
	st        int // the sample's stride, over every pixel
	sum       []float32
	miss      []int32 // non-finite pixels per block; nil until there is one
	samples   []float32
	nonFinite int
	y         int // rows taken
}

// NewGatherer starts gathering a w×h image.
func NewGatherer(w, h int, z ZScale) *Gatherer {
	if z == (ZScale{}) {
		z = DefaultZScale
	}
	bw, bh := (w+factor-1)/factor, (h+factor-1)/factor
	return &Gatherer{w: w, h: h, bw: bw, z: z, st: z.stride(w * h),
		sum: make([]float32, bw*bh), samples: make([]float32, 0, z.NSamples)}
}

// Rows takes whole rows, the next ones of the image.
func (g *Gatherer) Rows(b []byte) error {
	stride := 4 * g.w
	if len(b)%stride != 0 || g.y+len(b)/stride > g.h {
		return fmt.Errorf("preview: %d bytes after row %d are not whole rows of a %d×%d image", len(b), g.y, g.w, g.h)
	}
	full := g.w / factor // blocks with all four pixels in the row
	for ; len(b) > 0; b, g.y = b[stride:], g.y+1 {
		row := b[:stride]
		by := g.y / factor
		out := g.sum[by*g.bw : (by+1)*g.bw]
		out = out[:full]
		// Two pixels a load; a block with a NaN or an infinity (exponent
		// all ones) takes the slow path, which counts what it leaves out.
		const exp = 0x7f800000
		for bx := range out {
			p := row[16*bx : 16*bx+16 : 16*bx+16]
			x := binary.BigEndian.Uint64(p[0:])
			y := binary.BigEndian.Uint64(p[8:])
			a, c, d, e := uint32(x>>32), uint32(x), uint32(y>>32), uint32(y)
			if a&exp == exp || c&exp == exp || d&exp == exp || e&exp == exp {
				g.addFinite(p, by, bx)
				continue
			}
			out[bx] += math.Float32frombits(a) + math.Float32frombits(c) + math.Float32frombits(d) + math.Float32frombits(e)
		}
		if full < g.bw {
			g.addFinite(row[16*full:], by, full)
		}
		if g.nonFinite == 0 {
			base := g.y * g.w
			for i := (base + g.st - 1) / g.st * g.st; i < base+g.w && len(g.samples) < g.z.NSamples; i += g.st {
				g.samples = append(g.samples, math.Float32frombits(binary.BigEndian.Uint32(row[4*(i-base):])))
			}
		}
	}
	return nil
}

// addFinite adds the finite pixels of p to block (by, bx) and counts the
// others, in the block and in the image.
func (g *Gatherer) addFinite(p []byte, by, bx int) {
	var n int32
	bad := addFinite(p, &g.sum[by*g.bw+bx], &n)
	if bad > 0 {
		if g.miss == nil {
			g.miss = make([]int32, len(g.sum))
		}
		g.miss[by*g.bw+bx] += int32(bad)
		g.nonFinite += bad
	}
}

// averaged turns the block sums into means over the finite pixels of each
// block (partial at the right and top edges); NaN where there were none.
func (g *Gatherer) averaged() Plane {
	bh := (g.h + factor - 1) / factor
	for by := range bh {
		rows := min(factor, g.h-by*factor)
		for bx := range g.bw {
			i := by*g.bw + bx
			n := int32(rows * min(factor, g.w-bx*factor))
			if g.miss != nil {
				n -= g.miss[i]
			}
			if n == 0 {
				g.sum[i] = float32(math.NaN())
			} else {
				g.sum[i] /= float32(n)
			}
		}
	}
	return Plane{W: g.bw, H: bh, Pix: g.sum}
}

// Reduced returns the block average and the zscale limits of the image
// taken. An image with non-finite pixels needs its sample taken again,
// since astropy's stride counts finite pixels only: again gives it, or
// nil if the image cannot be read again.
func (g *Gatherer) Reduced(again func(z ZScale, finite int) ([]float32, error)) (Reduced, error) {
	if g.y != g.h {
		return Reduced{}, fmt.Errorf("preview: %d of %d rows taken", g.y, g.h)
	}
	// The sums become the averages: a Gatherer gives its image once.
	res := Reduced{Small: g.averaged()}
	samples := g.samples
	if g.nonFinite > 0 {
		if again == nil {
			return res, fmt.Errorf("preview: %d non-finite pixels; the sample must be taken from the file", g.nonFinite)
		}
		var err error
		if samples, err = again(g.z, g.w*g.h-g.nonFinite); err != nil {
			return Reduced{}, err
		}
	}
	var ok bool
	if res.Lo, res.Hi, ok = g.z.fromSamples(samples); !ok {
		return res, errors.New("no finite pixel")
	}
	return res, nil
}

// Reduce reads a float32 image HDU once, streaming: it block-averages it by
// 4 and takes the zscale sample as it goes. Only an image with non-finite
// pixels is read a second time, since astropy's stride counts finite
// pixels only.
func Reduce(r io.ReaderAt, h *fits.HDU, z ZScale) (Reduced, error) {
	W, H, err := imageSize(h)
	if err != nil {
		return Reduced{}, err
	}
	g := NewGatherer(W, H, z)
	const rows = 64
	buf := make([]byte, 4*W*rows)
	for y0 := 0; y0 < H; y0 += rows {
		n := min(rows, H-y0)
		b := buf[:4*W*n]
		if _, err := r.ReadAt(b, h.DataStart()+int64(4*W*y0)); err != nil {
			return Reduced{}, fmt.Errorf("rows %d-%d: %w", y0+1, y0+n, err)
		}
		if err := g.Rows(b); err != nil {
			return Reduced{}, err
		}
	}
	return g.Reduced(func(z ZScale, finite int) ([]float32, error) { return finiteSamples(r, h, z, finite) })
}

// imageSize checks that h is a 2-d float32 image and returns its size.
func imageSize(h *fits.HDU) (w, hh int, err error) {
	bitpix, err := h.Header.Int("BITPIX")
	if err != nil {
		return 0, 0, err
	}
	naxis, err := h.Header.Int("NAXIS")
	if err != nil {
		return 0, 0, err
	}
	if bitpix != -32 || naxis != 2 {
		return 0, 0, fmt.Errorf("BITPIX %d NAXIS %d: a 2-d float32 image is expected", bitpix, naxis)
	}
	n1, err1 := h.Header.Int("NAXIS1")
	n2, err2 := h.Header.Int("NAXIS2")
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, err
	}
	W, H := int(n1), int(n2)
	if W <= 0 || H <= 0 || int64(W)*int64(H)*4 != h.DataSize {
		return 0, 0, fmt.Errorf("image %d×%d does not fill %d bytes", W, H, h.DataSize)
	}
	return W, H, nil
}

// addFinite adds the finite big-endian float32 pixels of p to *sum and
// counts them in *n; it returns how many were not finite.
func addFinite(p []byte, sum *float32, n *int32) (nonFinite int) {
	for i := 0; i+4 <= len(p); i += 4 {
		v := math.Float32frombits(binary.BigEndian.Uint32(p[i:]))
		if !isFinite(v) {
			nonFinite++
			continue
		}
		*sum += v
		*n++
	}
	return nonFinite
}

// finiteSamples is astropy's sample of an image with non-finite pixels:
// every stride-th finite pixel, stride counted over the finite ones.
func finiteSamples(r io.ReaderAt, h *fits.HDU, z ZScale, finite int) ([]float32, error) {
	st := z.stride(finite)
	samples := make([]float32, 0, z.NSamples)
	br := bufio.NewReaderSize(io.NewSectionReader(r, h.DataStart(), h.DataSize), 1<<20)
	var b [4]byte
	for k := 0; len(samples) < z.NSamples; {
		if _, err := io.ReadFull(br, b[:]); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		v := math.Float32frombits(binary.BigEndian.Uint32(b[:]))
		if !isFinite(v) {
			continue
		}
		if k%st == 0 {
			samples = append(samples, v)
		}
		k++
	}
	return samples, nil
}

// gray maps p through the limits (and the stretch) to 8-bit grey, the
// FITS bottom row at the bottom of the picture, as ds9 shows it.
func (m Reduced) gray(p Plane, asinh bool) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, p.W, p.H))
	span := m.Hi - m.Lo
	norm := math.Asinh(1 / asinhA)
	if !asinh && span > 0 {
		// The linear stretch, the default, without the general loop's
		// branches: the same arithmetic as below.
		for y := range p.H {
			src := p.Pix[y*p.W : (y+1)*p.W]
			dst := img.Pix[(p.H-1-y)*img.Stride:]
			dst = dst[:len(src)]
			for x, f := range src {
				v := float64(f)
				if v != v { // NaN: no finite pixel in the block
					continue
				}
				dst[x] = uint8(min(1, max(0, (v-m.Lo)/span))*255 + 0.5)
			}
		}
		return img
	}
	for y := range p.H {
		src := p.Pix[y*p.W : (y+1)*p.W]
		dst := img.Pix[(p.H-1-y)*img.Stride:]
		for x, f := range src {
			v := float64(f)
			if math.IsNaN(v) {
				continue
			}
			t := 0.0
			if span > 0 {
				t = min(1, max(0, (v-m.Lo)/span))
			} else if v > m.Lo {
				t = 1
			}
			if asinh {
				t = math.Asinh(t/asinhA) / norm
			}
			dst[x] = uint8(math.Round(t * 255))
		}
	}
	return img
}

func writePNG(path string, img image.Image) error {
	f, err := atomicfile.Create(filepath.Dir(path), filepath.Base(path), 0o644)
	if err != nil {
		return fmt.Errorf("preview %s: %w", path, err)
	}
	defer f.Abort()
	if err := encode(f, img); err != nil {
		return fmt.Errorf("preview %s: write: %w", path, err)
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("preview %s: %w", path, err)
	}
	return nil
}

// encode writes img as PNG. A large picture is stored uncompressed: the
// encoder's row filtering and deflate cost four times the rest of the
// preview (80 ms against 20 ms for a full frame's, here) to halve a file of
// 1.6 MB, a hundredth of the frame. The thumbnail is compressed.
func encode(w io.Writer, img image.Image) error {
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if b := img.Bounds(); b.Dx()*b.Dy() > 4*thumbSide*thumbSide {
		enc.CompressionLevel = png.NoCompression
	}
	return enc.Encode(w, img)
}
