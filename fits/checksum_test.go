package fits

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
)

func nan() float64 { return math.NaN() }

func naiveSum(b []byte) uint32 {
	var s uint32
	for i := 0; i+4 <= len(b); i += 4 {
		s = onesAdd(s, binary.BigEndian.Uint32(b[i:]))
	}
	return s
}

func TestSumMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 4, 28, 32, 36, 2880, 100004} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		if got, want := sum32(b), naiveSum(b); got != want {
			t.Errorf("n=%d: sum32 %08x, naive %08x", n, got, want)
		}
		// Written in odd pieces, the stream sum is the same.
		var s summer
		for off := 0; off < n; {
			k := min(n-off, 1+int(r.UintN(37)))
			s.Write(b[off : off+k])
			off += k
		}
		if got := s.Sum(); got != naiveSum(b) {
			t.Errorf("n=%d: summer %08x", n, got)
		}
	}
	all := make([]byte, 8)
	for i := range all {
		all[i] = 0xff
	}
	if got := sum32(all); got != 0xffffffff {
		t.Errorf("sum of -0 words = %08x", got)
	}
}

// TestEncodeChecksum checks the encoding against the worked property of the
// FITS convention: a header carrying the encoded complement sums to -0.
func TestEncodeChecksum(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		h := &Header{}
		h.Append(BoolCard("SIMPLE", true, ""))
		h.Append(IntCard("BITPIX", 8, ""))
		h.Append(IntCard("NAXIS", 0, ""))
		h.Append(IntCard("RAND", int64(r.Uint32()), ""))
		setChecksumCards(h, zeroChecksum, 0)
		b, _ := h.Bytes()
		enc := encodeChecksum(sum32(b))
		for _, c := range enc {
			if isPunct(int(c)) || c < '0' || c > 'z' {
				t.Fatalf("encoding %q has %q", enc, c)
			}
		}
		setChecksumCards(h, enc, 0)
		b, _ = h.Bytes()
		if s := sum32(b); s != 0xffffffff {
			t.Fatalf("header with CHECKSUM %q sums to %08x", enc, s)
		}
	}
}
