package verify

import (
	"bytes"
	"encoding/binary"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/obsdata/dataman/fits"
)

var updateFixtures = flag.Bool("update-verify-fixtures", false, "rewrite testdata/verify/*.fits from the generator in fixtures_test.go")

const fixtureDir = "../../testdata/verify"

// writeData writes one HDU whose data unit is b.
func writeData(t testing.TB, w *fits.Writer, h *fits.Header, b []byte) {
	t.Helper()
	sum, err := fits.SumReader(bytes.NewReader(b), int64(len(b)), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = w.WriteHDU(h, int64(len(b)), sum, func(dst io.Writer) error {
		_, err := dst.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// tinyConditioned is a conditioned file in miniature: a primary, one raw
// quadrant and MERGED, each with CHECKSUM and DATASUM, MERGED repeating the
// primary's cards. mergedObject lets a fixture break that agreement while
// every checksum stays valid.
func tinyConditioned(t testing.TB, object, mergedObject string, seed int) []byte {
	t.Helper()
	prim := &fits.Header{}
	for _, c := range []fits.Card{
		fits.BoolCard("SIMPLE", true, "conforms to FITS standard"),
		fits.IntCard("BITPIX", 16, "array data type"),
		fits.IntCard("NAXIS", 0, "number of array dimensions"),
		fits.BoolCard("EXTEND", true, ""),
		fits.StringCard("INSTRUME", "MODS1B", "Instrument"),
		fits.StringCard("OBJECT", object, "Object name"),
		fits.StringCard("DATE-OBS", "2026-01-19T03:13:45.678", "UTC date and time of exposure start"),
		fits.FloatCard("EXPTIME", 60, "Exposure time [s]"),
		fits.StringCard("UNIQNAME", "mods1b.20260119.031345.fits", "Unique filename"),
		fits.CommentCard("COMMENT", "a dataman verify fixture; its siblings are broken on purpose"),
	} {
		prim.Add(c)
	}
	merged := &fits.Header{}
	for _, c := range []fits.Card{
		fits.StringCard("XTENSION", "IMAGE", "Image extension"),
		fits.IntCard("BITPIX", -32, "array data type"),
		fits.IntCard("NAXIS", 2, "number of array dimensions"),
		fits.IntCard("NAXIS1", 4, ""),
		fits.IntCard("NAXIS2", 4, ""),
		fits.IntCard("PCOUNT", 0, "number of parameters"),
		fits.IntCard("GCOUNT", 1, "number of groups"),
	} {
		merged.Add(c)
	}
	for _, c := range prim.Cards[4:] {
		if c.Key == "OBJECT" {
			c = fits.StringCard("OBJECT", mergedObject, "Object name")
		}
		merged.Add(c)
	}
	merged.Add(fits.StringCard("EXTNAME", "MERGED", ""))
	for q := 1; q <= 4; q++ {
		merged.Add(fits.FloatCard("Q"+strconv.Itoa(q)+"BIAS", 1000+float64(q), "median overscan bias [DN]"))
		merged.Add(fits.FloatCard("Q"+strconv.Itoa(q)+"STD", 3, "overscan bias stdev [DN]"))
	}
	prim.Add(fits.StringCard(fits.KeyVersion, "fixture", "dataman version that conditioned this file"))
	prim.Add(fits.StringCard(fits.KeyConfig, "sha256:0000000000000000", "dataman processing config hash"))
	// IM1..IM4 and CONPARS, so that MERGED is extension 6, as modsDisp and
	// modsAlign read it.
	var out bytes.Buffer
	w := fits.NewWriter(&out)
	if err := w.WriteHDU(prim, 0, 0, nil); err != nil {
		t.Fatal(err)
	}
	for k, name := range []string{"IM1", "IM2", "IM3", "IM4", "CONPARS"} {
		im := &fits.Header{}
		for _, c := range []fits.Card{
			fits.StringCard("XTENSION", "IMAGE", "Image extension"),
			fits.IntCard("BITPIX", 16, "array data type"),
			fits.IntCard("NAXIS", 2, "number of array dimensions"),
			fits.IntCard("NAXIS1", 8, ""),
			fits.IntCard("NAXIS2", 4, ""),
			fits.IntCard("PCOUNT", 0, "number of parameters"),
			fits.IntCard("GCOUNT", 1, "number of groups"),
			fits.StringCard("EXTNAME", name, "extension name"),
		} {
			im.Add(c)
		}
		b := make([]byte, 64)
		for i := range 32 {
			binary.BigEndian.PutUint16(b[2*i:], uint16(seed+k*101+i*7))
		}
		writeData(t, w, im, b)
	}
	b := make([]byte, 64)
	for i := range 16 {
		binary.BigEndian.PutUint32(b[4*i:], math.Float32bits(float32(seed)+float32(i)/2))
	}
	writeData(t, w, merged, b)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// verifyFixtures are the deliberately broken files of testdata/verify, each
// good.fits with one fault.
func verifyFixtures(t testing.TB) map[string][]byte {
	good := tinyConditioned(t, "verify fixture", "verify fixture", 100)
	hdus, err := fits.Scan(bytes.NewReader(good), int64(len(good)))
	if err != nil {
		t.Fatal(err)
	}
	im1, merged := hdus[1], hdus[fits.MergedExt]
	edit := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	// card finds key in h's header, and the first character of its quoted
	// value.
	card := func(b []byte, h *fits.HDU, key string) (at, value int) {
		for i := h.Start; i < h.DataStart(); i += fits.CardLen {
			if strings.TrimRight(string(b[i:i+8]), " ") == key {
				return int(i), int(i) + bytes.IndexByte(b[i:i+fits.CardLen], '\'') + 1
			}
		}
		t.Fatalf("no %s card in HDU %d", key, h.Index)
		return 0, 0
	}
	blank := func(b []byte, text string) {
		copy(b, bytes.Repeat([]byte(" "), fits.CardLen))
		copy(b, text)
	}
	return map[string][]byte{
		"good.fits":          good,
		"other.fits":         tinyConditioned(t, "other fixture", "other fixture", 200),
		"merged-header.fits": tinyConditioned(t, "verify fixture", "edited fixture", 100),
		"truncated.fits":     good[:len(good)-fits.BlockLen],
		"not-fits.fits":      []byte("this is not a FITS file\n"),
		"bad-datasum.fits": edit(func(b []byte) {
			_, v := card(b, im1, "DATASUM")
			b[v] = "1234567890"[b[v]-'0'] // the next digit
		}),
		"bad-checksum.fits": edit(func(b []byte) {
			_, v := card(b, im1, "CHECKSUM")
			b[v] ^= 1
		}),
		"no-checksum.fits": edit(func(b []byte) {
			at, _ := card(b, merged, "CHECKSUM")
			blank(b[at:], "COMMENT   the CHECKSUM card was here")
		}),
		"no-end.fits": edit(func(b []byte) {
			at, _ := card(b, merged, "END")
			blank(b[at:], "")
		}),
		"edited-pixel.fits": edit(func(b []byte) { b[im1.DataStart()+11] ^= 1 }),
	}
}

// The committed fixtures are what the generator makes, so that they can be
// remade and their faults read in code rather than guessed from bytes.
func TestVerifyFixturesUpToDate(t *testing.T) {
	for name, want := range verifyFixtures(t) {
		path := filepath.Join(fixtureDir, name)
		if *updateFixtures {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (make the fixtures with go test ./internal/verify -run TestVerifyFixturesUpToDate -update-verify-fixtures)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the generator makes; rerun with -update-verify-fixtures", path)
		}
		if len(got) > 40<<10 { // six HDUs of two blocks each, as the MODS layout has
			t.Errorf("%s is %d bytes: fixtures must stay small", path, len(got))
		}
	}
}
