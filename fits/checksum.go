package fits

import (
	"encoding/binary"
	"io"
)

// The FITS checksum convention (FITS standard 4.0, appendix J): DATASUM is
// the 32-bit ones' complement sum of the data words, and CHECKSUM encodes a
// value that makes the ones' complement sum of the whole HDU -0 (all ones).

// onesAdd adds two 32-bit values with end-around carry.
func onesAdd(a, b uint32) uint32 {
	s := uint64(a) + uint64(b)
	return uint32(s&0xffffffff + s>>32)
}

// fold reduces a 64-bit accumulation of 32-bit words to a ones' complement
// sum: every carry out of bit 31 is added back in at bit 0.
func fold(s uint64) uint32 {
	for s>>32 != 0 {
		s = s&0xffffffff + s>>32
	}
	return uint32(s)
}

// sum32 returns the ones' complement sum of b, whose length must be a
// multiple of 4, read as big-endian 32-bit words.
func sum32(b []byte) uint32 {
	var s uint64
	for len(b) >= 32 {
		x0 := binary.BigEndian.Uint64(b)
		x1 := binary.BigEndian.Uint64(b[8:])
		x2 := binary.BigEndian.Uint64(b[16:])
		x3 := binary.BigEndian.Uint64(b[24:])
		s += x0>>32 + x0&0xffffffff + x1>>32 + x1&0xffffffff +
			x2>>32 + x2&0xffffffff + x3>>32 + x3&0xffffffff
		b = b[32:]
	}
	for len(b) >= 4 {
		s += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	return fold(s)
}

// summer accumulates a ones' complement sum over a byte stream written in
// pieces of any length.
type summer struct {
	sum  uint32
	tail [4]byte
	nt   int
	n    int64
}

func (s *summer) Write(p []byte) (int, error) {
	n := len(p)
	s.n += int64(n)
	if s.nt > 0 {
		k := copy(s.tail[s.nt:], p)
		s.nt += k
		p = p[k:]
		if s.nt < 4 {
			return n, nil
		}
		s.sum = onesAdd(s.sum, binary.BigEndian.Uint32(s.tail[:]))
		s.nt = 0
	}
	whole := len(p) &^ 3
	s.sum = onesAdd(s.sum, sum32(p[:whole]))
	s.nt = copy(s.tail[:], p[whole:])
	return n, nil
}

// Sum returns the sum of everything written, zero-padded to a whole word,
// which is what the block padding of a FITS data unit amounts to.
func (s *summer) Sum() uint32 {
	if s.nt == 0 {
		return s.sum
	}
	var w [4]byte
	copy(w[:], s.tail[:s.nt])
	return onesAdd(s.sum, binary.BigEndian.Uint32(w[:]))
}

// encodeChecksum renders the 16-character CHECKSUM value for a ones'
// complement sum: each byte of the complement is spread over four printable
// characters, punctuation is avoided, and the result is rotated one place.
func encodeChecksum(sum uint32) string {
	value := ^sum
	var asc [16]byte
	for i := 0; i < 4; i++ {
		b := int(value >> (24 - 8*uint(i)) & 0xff)
		q, r := b/4+'0', b%4
		ch := [4]int{q + r, q, q, q}
		for changed := true; changed; {
			changed = false
			for j := 0; j < 4; j += 2 {
				for isPunct(ch[j]) || isPunct(ch[j+1]) {
					ch[j]++
					ch[j+1]--
					changed = true
				}
			}
		}
		for j := 0; j < 4; j++ {
			asc[4*j+i] = byte(ch[j])
		}
	}
	var out [16]byte
	for i := range out {
		out[i] = asc[(i+15)%16]
	}
	return string(out[:])
}

// isPunct reports the characters between the digits and the letters, and
// between upper and lower case, that the encoding must not produce.
func isPunct(c int) bool {
	return (c >= 0x3a && c <= 0x40) || (c >= 0x5b && c <= 0x60)
}

// SumReader returns the ones' complement sum of n bytes read from r,
// zero-padded to whole words, reusing buf as scratch space.
func SumReader(r io.Reader, n int64, buf []byte) (uint32, error) {
	var s summer
	if _, err := io.CopyBuffer(&s, io.LimitReader(r, n), buf); err != nil {
		return 0, err
	}
	if s.n != n {
		return 0, io.ErrUnexpectedEOF
	}
	return s.Sum(), nil
}
