package fits

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// A sequential writer must know every DATASUM before the data go out. One
// read of the raw file gives them all: the sums of the data units copied
// unchanged, and, for MERGED, a histogram of each quadrant's stored values,
// since a MERGED pixel depends on nothing but its stored value (see
// quadReader.table). The raw file's SHA-256 comes from the same read.

// rawScan is what one read of the raw file tells before anything is
// written.
type rawScan struct {
	sha256  string   // hex; only if asked for
	datasum []uint32 // of each HDU's data unit, by index
	// hist counts the 16-bit stored values of each quadrant's trimmed
	// region (IM1..IM4 in file order); nil when not asked for.
	hist [nQuad]*[1 << 16]uint32
}

// scanBufSize is the size of each read: large enough for few system calls,
// small enough to stay in the CPU cache while both goroutines use it.
const scanBufSize = 1 << 20

// scanRaw reads raw once from start to end. hashRaw computes the SHA-256
// of the whole file on a second goroutine, fed the same buffers; histQuads,
// if not nil, are the quadrant HDUs to count over the trimmed region of g.
func scanRaw(raw *File, hashRaw bool, histQuads []*HDU, g Geometry) (*rawScan, error) {
	s := &rawScan{datasum: make([]uint32, len(raw.HDUs))}
	sums := make([]summer, len(raw.HDUs))
	for i := range histQuads {
		s.hist[i] = new([1 << 16]uint32)
	}
	nbuf := 1
	if hashRaw {
		nbuf = 4
	}
	free := make(chan []byte, nbuf)
	for range nbuf {
		free <- make([]byte, scanBufSize)
	}
	var toHash chan []byte
	hashed := make(chan []byte, 1)
	if hashRaw {
		toHash = make(chan []byte, nbuf)
		go func() {
			h := sha256.New()
			for b := range toHash {
				h.Write(b)
				free <- b[:cap(b)]
			}
			hashed <- h.Sum(nil)
		}()
	}
	end := raw.Size
	if !hashRaw && len(raw.HDUs) > 0 {
		end = raw.HDUs[len(raw.HDUs)-1].End()
	}
	var err error
	for off := int64(0); off < end; {
		buf := <-free
		buf = buf[:min(int64(len(buf)), end-off)]
		if _, err = raw.ReadAt(buf, off); err != nil {
			err = fmt.Errorf("reading bytes %d..%d: %w", off, off+int64(len(buf)), err)
			break
		}
		if hashRaw {
			toHash <- buf
		}
		for i, h := range raw.HDUs {
			if seg, _ := overlap(buf, off, h.DataStart(), h.DataSize); len(seg) > 0 {
				sums[i].Write(seg)
			}
		}
		for i, h := range histQuads {
			if seg, rel := overlap(buf, off, h.DataStart(), h.DataSize); len(seg) > 0 {
				countTrimmed(s.hist[i], seg, rel, g)
			}
		}
		if !hashRaw {
			free <- buf
		}
		off += int64(len(buf))
	}
	if hashRaw {
		close(toHash)
		s.sha256 = hex.EncodeToString(<-hashed)
	}
	if err != nil {
		return nil, err
	}
	for i := range sums {
		s.datasum[i] = sums[i].Sum()
	}
	return s, nil
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

// countTrimmed counts the 16-bit stored values of seg, which begins rel
// bytes into a quadrant's data, that lie in the first XTrim columns of their
// row: the pixels MERGED is made of. Reads start at even offsets, so a
// pixel is never split between two segments.
func countTrimmed(hist *[1 << 16]uint32, seg []byte, rel int64, g Geometry) {
	stride, width := 2*g.NX, 2*g.XTrim()
	for len(seg) > 0 {
		col := rel % stride
		n := min(int64(len(seg)), stride-col)
		if col < width {
			countPixels(hist, seg[:min(n, width-col)])
		}
		seg, rel = seg[n:], rel+n
	}
}

// countPixels adds the big-endian 16-bit values of b to hist.
func countPixels(hist *[1 << 16]uint32, b []byte) {
	n := len(b) / 2
	b = b[:2*n]
	for i := 0; i < n; i++ {
		hist[uint16(b[2*i])<<8|uint16(b[2*i+1])]++
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
