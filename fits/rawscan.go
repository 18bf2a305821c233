package fits

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
)

// A sequential writer must know every DATASUM before the data go out. One
// read of the raw file gives them all: the sums of the data units copied
// unchanged, and, for MERGED, a histogram of each quadrant's stored values,
// since a MERGED pixel depends on nothing but its stored value (see
// quadReader.table). The same read gathers the bias boxes.

// rawScan is what one read of the raw file tells before anything is
// written.
type rawScan struct {
	datasum []uint32 // of each HDU's data unit, by index
}

// quadScan gathers in the read pass what MERGED needs of the quadrants
// IM1..IM4: the stored bytes of each bias box, and for BITPIX 16 the counts
// of the stored values of each trimmed region, the pixels MERGED is made of.
type quadScan struct {
	hdus [nQuad]*HDU
	g    Geometry
	box  [nQuad][]byte
	hist [nQuad]*[1 << 16]uint32 // nil for other BITPIX
}

func newQuadScan(hdus [nQuad]*HDU, g Geometry) *quadScan {
	s := &quadScan{hdus: hdus, g: g}
	rows := max(0, g.NY-2*biasRowSkip)
	for i := range s.box {
		s.box[i] = make([]byte, rows*s.boxWidth())
	}
	// Counts are 32-bit: a quadrant of 2³² pixels or more (none exists)
	// would have its MERGED computed twice instead.
	if g.BITPIX == 16 && g.NX*g.NY < 1<<32 {
		for i := range s.hist {
			s.hist[i] = new([1 << 16]uint32)
		}
	}
	return s
}

// boxWidth is the bytes of one row of the bias box, the columns after the
// trimmed region and biasColSkip more.
func (s *quadScan) boxWidth() int64 {
	return max(0, s.g.NX-s.g.XTrim()-biasColSkip) * s.g.bytesPerPixel()
}

// add takes b, read at file offset off, row piece by row piece. Reads
// start at multiples of scanBufSize and data units at multiples of 2880,
// so a piece never begins inside a pixel.
func (s *quadScan) add(b []byte, off int64) {
	stride := s.g.NX * s.g.bytesPerPixel()
	trim := s.g.XTrim() * s.g.bytesPerPixel()
	boxW := s.boxWidth()
	for i, h := range s.hdus {
		seg, rel := overlap(b, off, h.DataStart(), h.DataSize)
		for len(seg) > 0 {
			row, col := rel/stride, rel%stride
			n := min(int64(len(seg)), stride-col)
			if s.hist[i] != nil && col < trim {
				countPixels(s.hist[i], seg[:min(n, trim-col)])
			}
			if lo := max(col, stride-boxW); row >= biasRowSkip && row < s.g.NY-biasRowSkip && lo < col+n {
				copy(s.box[i][(row-biasRowSkip)*boxW+lo-(stride-boxW):], seg[lo-col:n])
			}
			seg, rel = seg[n:], rel+n
		}
	}
}

// scanBufSize is the size of each read: large enough for few system calls,
// small enough to stay in the CPU cache while both goroutines use it.
const scanBufSize = 1 << 20

// bufPool keeps the read buffers between files: fresh megabytes for every
// frame would keep the garbage collector busy on the cores the work needs.
var bufPool = sync.Pool{New: func() any { return new([scanBufSize]byte) }}

// scanRaw reads raw once, in order: it sums every data unit and feeds
// quads if not nil, the quadrants on a second goroutine fed the same
// buffers.
func scanRaw(raw *File, quads *quadScan) (*rawScan, error) {
	sums := make([]summer, len(raw.HDUs))
	sum := func(b []byte, off int64) {
		for i, h := range raw.HDUs {
			if seg, _ := overlap(b, off, h.DataStart(), h.DataSize); len(seg) > 0 {
				sums[i].Write(seg)
			}
		}
	}
	var side func([]byte, int64)
	if quads != nil {
		side = quads.add
	}
	if err := readPass(raw, raw.HDUs[len(raw.HDUs)-1].End(), sum, side); err != nil {
		return nil, err
	}
	s := &rawScan{datasum: make([]uint32, len(raw.HDUs))}
	for i := range sums {
		s.datasum[i] = sums[i].Sum()
	}
	return s, nil
}

// readPass reads r from 0 to end in buffers of scanBufSize and hands each,
// with its offset, to work on this goroutine and to side, if not nil, on
// another. A buffer is reused only once both are done with it.
func readPass(r io.ReaderAt, end int64, work, side func(b []byte, off int64)) error {
	nbuf := 1
	if side != nil {
		nbuf = 4
	}
	type chunk struct {
		b   []byte
		off int64
	}
	free := make(chan []byte, nbuf)
	for range nbuf {
		b := bufPool.Get().(*[scanBufSize]byte)
		defer bufPool.Put(b)
		free <- b[:]
	}
	toSide := make(chan chunk, nbuf)
	sideDone := make(chan struct{})
	if side != nil {
		go func() {
			defer close(sideDone)
			for c := range toSide {
				side(c.b, c.off)
				free <- c.b[:cap(c.b)]
			}
		}()
	}
	defer func() {
		if side != nil {
			close(toSide)
			<-sideDone
		}
	}()
	for off := int64(0); off < end; {
		buf := <-free
		buf = buf[:min(int64(len(buf)), end-off)]
		if _, err := r.ReadAt(buf, off); err != nil {
			return fmt.Errorf("reading bytes %d..%d: %w", off, off+int64(len(buf)), err)
		}
		if side != nil {
			// side puts it back in free while work may still read it;
			// that is safe, since only this goroutine takes from free,
			// after work is done.
			toSide <- chunk{buf, off}
		}
		work(buf, off)
		if side == nil {
			free <- buf
		}
		off += int64(len(buf))
	}
	return nil
}

// overlap returns the part of buf, read at file offset off, that lies in
// [start, start+n), and where that part begins relative to start.
func overlap(buf []byte, off, start, n int64) ([]byte, int64) {
	lo, hi := max(off, start), min(off+int64(len(buf)), start+n)
	if lo >= hi {
		return nil, 0
	}
	return buf[lo-off : hi-off], lo - start
}

// countPixels adds the big-endian 16-bit values of b to hist, four at a
// time.
func countPixels(hist *[1 << 16]uint32, b []byte) {
	for ; len(b) >= 8; b = b[8:] {
		x := binary.BigEndian.Uint64(b)
		hist[uint16(x>>48)]++
		hist[uint16(x>>32)]++
		hist[uint16(x>>16)]++
		hist[uint16(x)]++
	}
	for ; len(b) >= 2; b = b[2:] {
		hist[binary.BigEndian.Uint16(b)]++
	}
}

// countedSum returns the ones' complement sum of the 32-bit words
// lut[v], each taken count[v] times. The running end-around-carry sum of
// words is 0 when they are all 0, else ((S−1) mod (2³²−1)) + 1 for their
// plain sum S; fold keeps exactly that while reducing, so products may be
// folded one by one and their folds added.
func countedSum(count, lut *[1 << 16]uint32) uint32 {
	var acc uint64 // at most 2¹⁶ folds below 2³², no overflow
	for v, c := range count {
		if c != 0 {
			acc += uint64(fold(uint64(c) * uint64(lut[v])))
		}
	}
	return fold(acc)
}
