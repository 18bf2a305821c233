package fits

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

func TestMergedHeaderDiffs(t *testing.T) {
	prim := func(cards ...Card) *Header {
		h := &Header{}
		h.Add(BoolCard("SIMPLE", true, ""))
		h.Add(IntCard("BITPIX", 16, ""))
		h.Add(IntCard("NAXIS", 0, ""))
		h.Add(BoolCard("EXTEND", true, ""))
		for _, c := range cards {
			h.Add(c)
		}
		h.Add(StringCard(KeyVersion, "1.0", ""))
		h.Add(StringCard("CHECKSUM", "xxxx", ""))
		return h
	}
	merged := func(cards ...Card) *Header {
		h := &Header{}
		h.Add(StringCard("XTENSION", "IMAGE", ""))
		h.Add(IntCard("BITPIX", -32, ""))
		h.Add(IntCard("NAXIS", 2, ""))
		h.Add(IntCard("NAXIS1", 4, ""))
		h.Add(IntCard("NAXIS2", 4, ""))
		h.Add(IntCard("PCOUNT", 0, ""))
		h.Add(IntCard("GCOUNT", 1, ""))
		for _, c := range cards {
			h.Add(c)
		}
		h.Add(StringCard("EXTNAME", "MERGED", ""))
		h.Add(FloatCard("Q1BIAS", 1000, ""))
		h.Add(StringCard("DATASUM", "0", ""))
		return h
	}
	obj := StringCard("OBJECT", "NGC 1068", "")
	exp := FloatCard("EXPTIME", 60, "")
	c1, c2 := CommentCard("COMMENT", "one"), CommentCard("HISTORY", "two")
	tests := []struct {
		name string
		p, m *Header
		want string
	}{
		{"same", prim(obj, exp, c1, c2), merged(obj, exp, c1, c2), ""},
		{"order of keywords does not matter", prim(obj, exp), merged(exp, obj), ""},
		{"value", prim(obj, exp), merged(obj, FloatCard("EXPTIME", 61, "")), "EXPTIME differs"},
		{"comment", prim(obj), merged(StringCard("OBJECT", "NGC 1068", "other comment")), "OBJECT differs"},
		{"missing", prim(obj, exp), merged(obj), "EXPTIME missing"},
		{"added", prim(obj), merged(obj, exp), "EXPTIME not in the primary"},
		{"commentary order", prim(CommentCard("COMMENT", "a"), CommentCard("COMMENT", "b")),
			merged(CommentCard("COMMENT", "b"), CommentCard("COMMENT", "a")), "COMMENT differs"},
		{"a repeated keyword", prim(obj, obj), merged(obj), "OBJECT differs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(MergedHeaderDiffs(tt.p, tt.m), ", "); got != tt.want {
				t.Errorf("MergedHeaderDiffs = %q, want %q", got, tt.want)
			}
		})
	}
}

// mergedData is an HDU of float pixels, wide columns, as FindMerged and
// DiffMergedData see it.
func mergedData(t *testing.T, wide int, pixels ...float32) (*bytes.Reader, *HDU) {
	t.Helper()
	h := &Header{}
	h.Add(IntCard("BITPIX", -32, ""))
	h.Add(IntCard("NAXIS1", int64(wide), ""))
	b := make([]byte, 4*len(pixels))
	for i, p := range pixels {
		binary.BigEndian.PutUint32(b[4*i:], math.Float32bits(p))
	}
	return bytes.NewReader(b), &HDU{Index: 1, Header: h, DataSize: int64(len(b))}
}

func TestDiffMergedData(t *testing.T) {
	a, ha := mergedData(t, 2, 1, 2, 3, 4)
	tests := []struct {
		name   string
		pixels []float32
		wide   int
		want   string
	}{
		{"identical", []float32{1, 2, 3, 4}, 2, ""},
		{"one pixel", []float32{1, 2, 3.5, 4}, 2, "MERGED differs from its recomputation in 1 of 4 pixels, first at (1, 2): 3, recomputed 3.5"},
		{"two pixels", []float32{1, 0, 0, 4}, 2, "in 2 of 4 pixels, first at (2, 1): 2, recomputed 0"},
		{"another shape", []float32{1, 2, 3, 4}, 4, "MERGED is 16 bytes wide 2, the recomputation 16 bytes wide 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, hb := mergedData(t, tt.wide, tt.pixels...)
			got, err := DiffMergedData(a, ha, b, hb)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("DiffMergedData = %q, want %q", got, tt.want)
			}
		})
	}
}
