package fits

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"slices"
)

// The bias box of dataMan's otmProc: numpy [2:-2, xtrim+2:nx], that is
// FITS rows 3..ny−2 and the last OVRSCAN1−2 columns; the skipped rows and
// columns can hold hot values.
const (
	biasRowSkip = 2
	biasColSkip = 2
)

// quadReader decodes rows of one raw quadrant to physical values.
type quadReader struct {
	r      io.ReaderAt
	hdu    *HDU
	g      Geometry
	bscale float64
	bzero  float64
	raw    []byte

	lut     *[1 << 16]uint32
	lutBias float64
}

func newQuadReader(r io.ReaderAt, h *HDU, g Geometry) (*quadReader, error) {
	q := &quadReader{r: r, hdu: h, g: g, bscale: 1}
	for _, k := range []struct {
		key string
		dst *float64
	}{{"BSCALE", &q.bscale}, {"BZERO", &q.bzero}} {
		if h.Header.Has(k.key) {
			v, err := h.Header.Float(k.key)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", h.Name(), err)
			}
			*k.dst = v
		}
	}
	return q, nil
}

// rows reads n consecutive rows starting at row (0-based) as raw bytes.
func (q *quadReader) rows(row, n int64) ([]byte, error) {
	stride := q.g.NX * q.g.bytesPerPixel()
	size := n * stride
	if int64(cap(q.raw)) < size {
		q.raw = make([]byte, size)
	}
	buf := q.raw[:size]
	if _, err := q.r.ReadAt(buf, q.hdu.DataStart()+row*stride); err != nil {
		return nil, fmt.Errorf("%s: reading rows %d..%d: %w", q.hdu.Name(), row+1, row+n, err)
	}
	return buf, nil
}

// decode converts raw big-endian pixels to physical values, as astropy does
// for the BITPIX 16 + BZERO 32768 files (exact uint16) and in general.
func (q *quadReader) decode(dst []float64, src []byte) {
	switch q.g.BITPIX {
	case 16:
		for i := range dst {
			dst[i] = float64(int16(binary.BigEndian.Uint16(src[2*i:])))*q.bscale + q.bzero
		}
	case 32:
		for i := range dst {
			dst[i] = float64(int32(binary.BigEndian.Uint32(src[4*i:])))*q.bscale + q.bzero
		}
	case -32:
		for i := range dst {
			dst[i] = float64(math.Float32frombits(binary.BigEndian.Uint32(src[4*i:])))*q.bscale + q.bzero
		}
	case -64:
		for i := range dst {
			dst[i] = math.Float64frombits(binary.BigEndian.Uint64(src[8*i:]))*q.bscale + q.bzero
		}
	}
}

// table maps every 16-bit stored value to the bits of its MERGED pixel,
// float32(float64(stored)·BSCALE + BZERO − bias): for BITPIX 16 a pixel
// depends on nothing else, so one lookup gives exactly what the arithmetic
// gives.
func (q *quadReader) table(bias float64) *[1 << 16]uint32 {
	if q.lut != nil && q.lutBias == bias {
		return q.lut
	}
	q.lut, q.lutBias = new([1 << 16]uint32), bias
	for v := range q.lut {
		phys := float64(int16(uint16(v)))*q.bscale + q.bzero
		q.lut[v] = math.Float32bits(float32(phys - bias))
	}
	return q.lut
}

// biasStats returns numpy's median and population standard deviation of
// the bias box, whose stored bytes, row after row, the read pass gathered.
func (q *quadReader) biasStats(box []byte) (median, std float64, err error) {
	vals := make([]float64, int64(len(box))/q.g.bytesPerPixel())
	q.decode(vals, box)
	return medianStd(vals)
}

// medianStd computes numpy's median (the mean of the two middle values for
// an even count) and np.std with ddof 0: the mean first, then the mean of
// the squared deviations.
func medianStd(vals []float64) (float64, float64, error) {
	n := len(vals)
	if n == 0 {
		return 0, 0, fmt.Errorf("empty bias box")
	}
	var sum float64
	for _, v := range vals {
		if math.IsNaN(v) {
			return 0, 0, fmt.Errorf("bias box holds NaN")
		}
		sum += v
	}
	mean := sum / float64(n)
	var ss float64
	for _, v := range vals {
		d := v - mean
		ss += d * d
	}
	std := math.Sqrt(ss / float64(n))
	slices.Sort(vals)
	med := vals[n/2]
	if n%2 == 0 {
		med = (vals[n/2-1] + vals[n/2]) / 2
	}
	return med, std, nil
}

// mergedFill streams the MERGED image of dataMan's otmProc row by row:
// MERGED is the DETSEC mosaic of the trimmed, bias-subtracted quadrants
// flipped top to bottom (spec 5.6). With 0-based numpy rows r and ny rows per
// quadrant, rows r < ny come from IM3 (left) and IM4 (right, x-reversed) row
// ny−1−r; rows r ≥ ny from IM1 and IM2 row 2ny−1−r. Each pixel is
// float32(float64(raw) − median), which is numpy's arithmetic.
//
// Blocks of rows are computed on one goroutine while the caller's writes
// (a kernel copy into the page cache) run on another: the two halves of the
// work overlap on a two-core machine. rows, if not nil, is handed each
// block once it is computed, in order.
func mergedFill(quads [nQuad]*quadReader, bias [nQuad]float64, rows func([]byte)) func(io.Writer) error {
	return func(w io.Writer) error {
		g := quads[0].g
		const block = 64
		type chunk struct {
			b   []byte
			err error
		}
		free := make(chan []byte, 3)
		for range 3 {
			free <- make([]byte, block*2*g.XTrim()*4)
		}
		full := make(chan chunk, 3)
		stop := make(chan struct{})
		go func() {
			defer close(full)
			left := make([]float64, g.NX)
			right := make([]float64, g.NX)
			for half := 0; half < 2; half++ {
				// Top half of MERGED from IM3/IM4, bottom half from IM1/IM2.
				li, ri := 2, 3
				if half == 1 {
					li, ri = 0, 1
				}
				for r0 := int64(0); r0 < g.NY; r0 += block {
					var buf []byte
					select {
					case buf = <-free:
					case <-stop:
						return
					}
					n := min(block, g.NY-r0)
					out, err := mergeBlock(buf, quads[li], quads[ri], bias[li], bias[ri], r0, n, left, right)
					if err == nil && rows != nil {
						rows(out)
					}
					full <- chunk{out, err}
					if err != nil {
						return
					}
				}
			}
		}()
		defer close(stop)
		for c := range full {
			if c.err != nil {
				return c.err
			}
			if _, err := w.Write(c.b); err != nil {
				return err
			}
			free <- c.b[:cap(c.b)]
		}
		return nil
	}
}

// mergeBlock computes MERGED rows r0..r0+n-1 of one half. Those rows read
// source rows ny-1-r0 down to ny-n-r0: one contiguous span per quadrant.
func mergeBlock(out []byte, lq, rq *quadReader, lb, rb float64, r0, n int64, left, right []float64) ([]byte, error) {
	g := lq.g
	xt := g.XTrim()
	src := g.NY - r0 - n
	lraw, err := lq.rows(src, n)
	if err != nil {
		return nil, err
	}
	rraw, err := rq.rows(src, n)
	if err != nil {
		return nil, err
	}
	stride := g.NX * lq.g.bytesPerPixel()
	out = out[:n*2*xt*4]
	if g.BITPIX == 16 {
		lt, rt := lq.table(lb), rq.table(rb)
		for i := int64(0); i < n; i++ {
			srow := n - 1 - i
			line := out[i*2*xt*4 : (i+1)*2*xt*4]
			lookupRow(line[:4*xt], lraw[srow*stride:srow*stride+2*xt], lt)
			lookupRowReversed(line[4*xt:], rraw[srow*stride:srow*stride+2*xt], rt)
		}
		return out, nil
	}
	for i := int64(0); i < n; i++ {
		srow := n - 1 - i
		lq.decode(left, lraw[srow*stride:(srow+1)*stride])
		rq.decode(right, rraw[srow*stride:(srow+1)*stride])
		line := out[i*2*xt*4 : (i+1)*2*xt*4]
		for c := int64(0); c < xt; c++ {
			binary.BigEndian.PutUint32(line[4*c:], math.Float32bits(float32(left[c]-lb)))
			binary.BigEndian.PutUint32(line[4*(xt+c):], math.Float32bits(float32(right[xt-1-c]-rb)))
		}
	}
	return out, nil
}

// lookupRow maps big-endian 16-bit pixels through t into big-endian 32-bit
// ones. dst and src are sliced to exact lengths so the loop runs without
// bounds checks.
func lookupRow(dst, src []byte, t *[1 << 16]uint32) {
	n := len(src) / 2
	dst = dst[:4*n]
	for c := 0; c < n; c++ {
		v := t[uint16(src[2*c])<<8|uint16(src[2*c+1])]
		d := dst[4*c : 4*c+4 : 4*c+4]
		d[0], d[1], d[2], d[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	}
}

// lookupRowReversed is lookupRow with the pixels in reverse order: the
// x-flip of the right-hand quadrants.
func lookupRowReversed(dst, src []byte, t *[1 << 16]uint32) {
	n := len(src) / 2
	dst = dst[:4*n]
	for c := 0; c < n; c++ {
		j := 2 * (n - 1 - c)
		v := t[uint16(src[j])<<8|uint16(src[j+1])]
		d := dst[4*c : 4*c+4 : 4*c+4]
		d[0], d[1], d[2], d[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	}
}
