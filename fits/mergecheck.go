package fits

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
)

// The checks of a conditioned file's MERGED extension that need only the
// file: mergedHeader's rule read backwards, and a pixel comparison with a
// recomputation. dataman verify runs them.

// FindMerged returns the MERGED extension among hdus, or nil.
func FindMerged(hdus []*HDU) *HDU {
	for _, h := range hdus[1:] {
		if strings.EqualFold(h.Name(), "MERGED") {
			return h
		}
	}
	return nil
}

// The cards MERGED may lack or add (see mergedHeader): the primary's
// structure and provenance cards, MERGED's own structure, name and bias
// statistics, the checksums, and LONGSTRN, which only declares a convention
// each header may use.
var (
	primaryOnly = setOf("SIMPLE", "BITPIX", "NAXIS", "EXTEND", "CHECKSUM", "DATASUM", KeyVersion, KeyConfig, "LONGSTRN")
	mergedOnly  = setOf("XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "PCOUNT", "GCOUNT", "EXTNAME", "CHECKSUM", "DATASUM", "LONGSTRN",
		"Q1BIAS", "Q1STD", "Q2BIAS", "Q2STD", "Q3BIAS", "Q3STD", "Q4BIAS", "Q4STD")
)

func setOf(keys ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// MergedHeaderDiffs names the keywords on which MERGED and the primary
// disagree. Cards are compared as written, and COMMENT and HISTORY cards in
// order; where a card sits in the header does not matter.
func MergedHeaderDiffs(primary, merged *Header) []string {
	p, m := cardImages(primary, primaryOnly), cardImages(merged, mergedOnly)
	var out []string
	for _, k := range slices.Sorted(maps.Keys(p)) {
		switch mv, ok := m[k]; {
		case !ok:
			out = append(out, k+" missing")
		case !slices.Equal(p[k], mv):
			out = append(out, k+" differs")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if _, ok := p[k]; !ok {
			out = append(out, k+" not in the primary")
		}
	}
	return out
}

func cardImages(h *Header, skip map[string]bool) map[string][]string {
	out := map[string][]string{}
	for i := range h.Cards {
		c := &h.Cards[i]
		key := c.Key
		if c.Hierarch {
			key = "HIERARCH " + key
		} else if skip[key] {
			continue
		}
		imgs, err := c.Images()
		if err != nil {
			imgs = []string{"unformattable: " + err.Error()}
		}
		out[key] = append(out[key], imgs...)
	}
	return out
}

// DiffMergedData compares two MERGED data units, ha in a and hb in b, and
// describes the difference: how many pixels differ, and the first, as FITS
// (x, y) from 1. It returns "" when they are identical.
func DiffMergedData(a io.ReaderAt, ha *HDU, b io.ReaderAt, hb *HDU) (string, error) {
	na1, _ := ha.Header.Int("NAXIS1")
	nb1, _ := hb.Header.Int("NAXIS1")
	if ha.DataSize != hb.DataSize || na1 != nb1 {
		return fmt.Sprintf("MERGED is %d bytes wide %d, the recomputation %d bytes wide %d", ha.DataSize, na1, hb.DataSize, nb1), nil
	}
	bitpix, _ := ha.Header.Int("BITPIX")
	px := max(1, int64(math.Abs(float64(bitpix)))/8)
	const chunk = 1 << 20
	bufA, bufB := make([]byte, chunk), make([]byte, chunk)
	var count, first int64 = 0, -1
	var firstA, firstB []byte
	for off := int64(0); off < ha.DataSize; off += chunk {
		n := min(chunk, ha.DataSize-off)
		if _, err := a.ReadAt(bufA[:n], ha.DataStart()+off); err != nil {
			return "", err
		}
		if _, err := b.ReadAt(bufB[:n], hb.DataStart()+off); err != nil {
			return "", err
		}
		if bytes.Equal(bufA[:n], bufB[:n]) {
			continue
		}
		for i := int64(0); i+px <= n; i += px {
			if !bytes.Equal(bufA[i:i+px], bufB[i:i+px]) {
				if first < 0 {
					first = (off + i) / px
					firstA, firstB = slices.Clone(bufA[i:i+px]), slices.Clone(bufB[i:i+px])
				}
				count++
			}
		}
	}
	if count == 0 {
		return "", nil
	}
	x, y := first%max(1, na1)+1, first/max(1, na1)+1
	return fmt.Sprintf("MERGED differs from its recomputation in %d of %d pixels, first at (%d, %d): %s, recomputed %s",
		count, ha.DataSize/px, x, y, pixel(firstA, bitpix), pixel(firstB, bitpix)), nil
}

func pixel(b []byte, bitpix int64) string {
	if bitpix == -32 && len(b) == 4 {
		return fmt.Sprint(math.Float32frombits(binary.BigEndian.Uint32(b)))
	}
	return fmt.Sprintf("%x", b)
}
