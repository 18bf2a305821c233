package preview

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"github.com/obsdata/dataman/fits"
	"image/png"
	"math"
	"os"
	"testing"
)

func TestWriteSizes(t *testing.T) {
	stored := conditioned(t, "1kx1k")
	for _, asinh := range []bool{false, true} {
		res, err := Write(stored, Options{Asinh: asinh})
		if err != nil {
			t.Fatal(err)
		}
		for path, side := range map[string]int{res.Preview: 1024 / 4, res.Thumb: 200} {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := png.DecodeConfig(f)
			f.Close()
			if err != nil {
				t.Fatal(path, err)
			}
			if long := max(cfg.Width, cfg.Height); long > side+side/8 || long < side/2 {
				t.Errorf("%s: %d×%d, about %d on the longer side expected", path, cfg.Width, cfg.Height, side)
			}
		}
	}
}

// BenchmarkFull draws both previews of a synthetic full frame's MERGED
// (compare with go test ./fits -run '^$' -bench ConditionFull).
func BenchmarkFull(b *testing.B) {
	stored := conditioned(b, "full")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := Write(stored, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFullReduce is the part of BenchmarkFull that reads MERGED:
// the block average and the zscale limits, no PNG.
func BenchmarkFullReduce(b *testing.B) {
	stored := conditioned(b, "full")
	f, err := fits.Open(stored)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := Reduce(f, f.HDUs[fits.MergedExt], DefaultZScale); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFullPNG is the other part: grey levels and PNG encoding of the
// preview and the thumbnail, without files.
func BenchmarkFullPNG(b *testing.B) {
	stored := conditioned(b, "full")
	f, err := fits.Open(stored)
	if err != nil {
		b.Fatal(err)
	}
	m, err := Reduce(f, f.HDUs[fits.MergedExt], DefaultZScale)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var size int
	for range b.N {
		var buf bytes.Buffer
		if err := encode(&buf, m.gray(m.Small, false)); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
		if err := encode(&buf, m.gray(m.Small.block(thumbFactor(m.Small)), false)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size), "preview-bytes")
	b.ReportMetric(float64(m.Small.W), "preview-width")
}

// imageHDU is a minimal FITS file holding one float32 image.
func imageHDU(t *testing.T, w, h int, v []float32) (*bytes.Reader, *fits.HDU) {
	t.Helper()
	var hdr bytes.Buffer
	for _, c := range []string{"SIMPLE  =                    T", "BITPIX  =                  -32", "NAXIS   =                    2",
		fmt.Sprintf("NAXIS1  = %20d", w), fmt.Sprintf("NAXIS2  = %20d", h), "END"} {
		fmt.Fprintf(&hdr, "%-80s", c)
	}
	for hdr.Len()%2880 != 0 {
		hdr.WriteByte(' ')
	}
	for _, x := range v {
		binary.Write(&hdr, binary.BigEndian, x)
	}
	for hdr.Len()%2880 != 0 {
		hdr.WriteByte(0)
	}
	r := bytes.NewReader(hdr.Bytes())
	hdus, err := fits.Scan(r, r.Size())
	if err != nil {
		t.Fatal(err)
	}
	return r, hdus[0]
}

// TestReduce checks the streamed pass against the plain definitions: the
// limits of Limits (which TestZScaleAstropy checks against astropy) and
// the mean of the finite pixels of each 4×4 block, edges and non-finite
// pixels included.
func TestReduce(t *testing.T) {
	imgs := testImages()
	for _, c := range []struct {
		name string
		w, h int
	}{{"noise", 512, 300}, {"stars", 777, 313}, {"nans", 401, 257}, {"tiny", 37, 1}, {"flat", 1, 4000}, {"steps", 3001, 1}} {
		v := imgs[c.name]
		r, hdu := imageHDU(t, c.w, c.h, v)
		m, err := Reduce(r, hdu, DefaultZScale)
		if err != nil {
			t.Fatal(c.name, err)
		}
		lo, hi, _ := DefaultZScale.Limits(v)
		if m.Lo != lo || m.Hi != hi {
			t.Errorf("%s: limits %g, %g; Limits %g, %g", c.name, m.Lo, m.Hi, lo, hi)
		}
		w, h := (c.w+factor-1)/factor, (c.h+factor-1)/factor
		if m.Small.W != w || m.Small.H != h {
			t.Fatalf("%s: %d×%d, want %d×%d", c.name, m.Small.W, m.Small.H, w, h)
		}
		for by := range h {
			for bx := range w {
				var sum, n float64
				for y := by * factor; y < min(c.h, (by+1)*factor); y++ {
					for x := bx * factor; x < min(c.w, (bx+1)*factor); x++ {
						if v := v[y*c.w+x]; isFinite(v) {
							sum += float64(v)
							n++
						}
					}
				}
				a := float64(m.Small.Pix[by*w+bx])
				if n == 0 && !math.IsNaN(a) || n > 0 && math.Abs(a-sum/n) > 1e-5*max(1, math.Abs(sum/n)) {
					t.Fatalf("%s: block %d,%d = %g, want %g (%g pixels)", c.name, bx, by, a, sum/n, n)
				}
			}
		}
	}
}

// TestGrayLinear: the linear stretch maps the limits to 0 and 255, clips
// outside them, leaves blocks with no finite pixel black, and puts the FITS
// bottom row at the bottom of the picture.
func TestGrayLinear(t *testing.T) {
	m := Reduced{Lo: 100, Hi: 200}
	p := Plane{W: 5, H: 2, Pix: []float32{
		50, 100, 150, 200, 250, // FITS row 1: the bottom
		float32(math.NaN()), 125, 175, 199.9, 100.1,
	}}
	img := m.gray(p, false)
	want := [][]uint8{{0, 64, 191, 255, 0}, {0, 0, 128, 255, 255}}
	for y, row := range want {
		got := img.Pix[y*img.Stride : y*img.Stride+p.W]
		if !bytes.Equal(got, row) {
			t.Errorf("picture row %d: %v, want %v", y, got, row)
		}
	}
}
