package fits

import (
	"math/big"
	"math/rand/v2"
	"testing"
)

// TestCountedSum: the sum of a multiset of words from its counts equals the
// end-around-carry sum of the words streamed one by one.
func TestCountedSum(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	type table struct {
		name        string
		count, lut  func(v int) uint32
		streamable  bool
		wantIfKnown *uint32
	}
	u := func(x uint32) *uint32 { return &x }
	small := func(int) uint32 { return r.Uint32N(4) * r.Uint32N(2) }
	words := func(int) uint32 { return r.Uint32() }
	cases := []table{
		{"random", small, words, true, nil},
		{"all zero words", small, func(int) uint32 { return 0 }, true, u(0)},
		{"no words", func(int) uint32 { return 0 }, words, true, u(0)},
		{"all -0 words", small, func(int) uint32 { return 0xffffffff }, true, u(0xffffffff)},
		{"zero and -0", small, func(v int) uint32 { return uint32(v&1) * 0xffffffff }, true, u(0xffffffff)},
		{"one word 1", func(v int) uint32 { return b2u(v == 7) }, func(int) uint32 { return 1 }, true, u(1)},
		{"high words", small, func(int) uint32 { return 0xffffffff - r.Uint32N(3) }, true, nil},
		// Counts as large as a quadrant can have: checked against the
		// closed form with big integers.
		{"large counts", func(int) uint32 { return r.Uint32() }, words, false, nil},
		{"large counts of -0", func(int) uint32 { return r.Uint32() }, func(int) uint32 { return 0xffffffff }, false, u(0xffffffff)},
	}
	for _, c := range cases {
		var count, lut [1 << 16]uint32
		for v := range count {
			count[v], lut[v] = c.count(v), c.lut(v)
		}
		got := countedSum(&count, &lut)
		if c.wantIfKnown != nil && got != *c.wantIfKnown {
			t.Errorf("%s: %08x, want %08x", c.name, got, *c.wantIfKnown)
		}
		var want uint32
		if c.streamable {
			var s summer
			var w [4]byte
			for v, n := range count {
				for range n {
					w = [4]byte{byte(lut[v] >> 24), byte(lut[v] >> 16), byte(lut[v] >> 8), byte(lut[v])}
					s.Write(w[:])
				}
			}
			want = s.Sum()
		} else {
			want = closedForm(&count, &lut)
		}
		if got != want {
			t.Errorf("%s: counted sum %08x, streamed %08x", c.name, got, want)
		}
	}
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// closedForm is 0 for a plain sum S of 0, else ((S−1) mod (2³²−1)) + 1.
func closedForm(count, lut *[1 << 16]uint32) uint32 {
	s := new(big.Int)
	for v := range count {
		s.Add(s, new(big.Int).Mul(big.NewInt(int64(count[v])), big.NewInt(int64(lut[v]))))
	}
	if s.Sign() == 0 {
		return 0
	}
	m := big.NewInt(1<<32 - 1)
	s.Sub(s, big.NewInt(1)).Mod(s, m)
	return uint32(s.Int64() + 1)
}

// TestCountedSumClosedForm checks the closed form itself against the
// stream on a small case, so the large-count cases above prove something.
func TestCountedSumClosedForm(t *testing.T) {
	var count, lut [1 << 16]uint32
	count[1], lut[1] = 3, 0xffffffff
	count[2], lut[2] = 2, 0x80000000
	count[3], lut[3] = 1, 5
	var s uint32
	for range 3 {
		s = onesAdd(s, 0xffffffff)
	}
	s = onesAdd(onesAdd(onesAdd(s, 0x80000000), 0x80000000), 5)
	if got := closedForm(&count, &lut); got != s {
		t.Fatalf("closed form %08x, stream %08x", got, s)
	}
}

// BenchmarkCountPixels counts a quadrant's worth of bias-like pixels (a few
// DN of noise: many repeats, the hard case for a histogram).
func BenchmarkCountPixels(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	px := make([]byte, 2*4178*1544)
	for i := 0; i < len(px); i += 2 {
		v := uint16(33000 + r.NormFloat64()*4)
		px[i], px[i+1] = byte(v>>8), byte(v)
	}
	var h [1 << 16]uint32
	b.SetBytes(int64(len(px)))
	for range b.N {
		countPixels(&h, px)
	}
}
