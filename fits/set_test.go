package fits_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/obsdata/dataman/fits"
)

// setCases are cards as a raw header holds them, set again as dataMan sets
// them (header[key] = (value, comment)), with the card astropy 5.2.1 then
// writes: an unchanged value keeps its text when only the comment is new,
// and the whole card when the comment is the same too.
var setCases = []struct {
	raw                 string
	key, kind, val, cmt string
	want                string
}{
	// TELALT and TELAZ are reals since 2026-02-26: fixMisc sets them to the
	// same value with its own comment. astropy keeps "67.8142 " (with the
	// blank before '/') and right-justifies it.
	{"TELALT  =              67.8142 / Telescope Altitude [deg]", "TELALT", "float", "67.8142", "Telescope Altitude at start of obs [deg]",
		"TELALT  =             67.8142  / Telescope Altitude at start of obs [deg]"},
	{"TELAZ   =         6.781420D+01 / Telescope Azimuth [deg]", "TELAZ", "float", "67.8142", "Telescope Azimuth at start of obs [deg]",
		"TELAZ   =         6.781420D+01 / Telescope Azimuth at start of obs [deg]"},
	{"TELALT  = 67.8142 / Telescope Altitude at start of obs [deg]", "TELALT", "float", "67.8142", "Telescope Altitude at start of obs [deg]",
		"TELALT  = 67.8142 / Telescope Altitude at start of obs [deg]"},
	{"TELALT  =              67.8142", "TELALT", "float", "67.8142", "Telescope Altitude at start of obs [deg]",
		"TELALT  =              67.8142 / Telescope Altitude at start of obs [deg]"},
	{"CCDTEMP =               -999.9 / CCD temperature", "CCDTEMP", "float", "-999.9", "CCD Detector Temperature [deg C]",
		"CCDTEMP =              -999.9  / CCD Detector Temperature [deg C]"},
	{"A       =             1.50E+01   / c", "A", "float", "15", "d",
		"A       =             1.50E+01 / d"},
	{"B       =                  .5  / c", "B", "float", "0.5", "d",
		"B       =                 .5   / d"},
	// A new value, or a new type, is written afresh.
	{"X       =              67.8142 / c", "X", "float", "67.81", "c2",
		"X       =                67.81 / c2"},
	{"LTV1    =               8293.0 / x", "LTV1", "int", "8293", "Corrected LTV1",
		"LTV1    =                 8293 / Corrected LTV1"},
	{"ZZ      =                   67 / x", "ZZ", "float", "67", "y",
		"ZZ      =                 67.0 / y"},
	{"NONSIDER=                    0 / Target is non-sidereal", "NONSIDER", "bool", "F", "Target is non-sidereal",
		"NONSIDER=                    F / Target is non-sidereal"},
	// Strings are formatted afresh, but from the value as read, trailing
	// blanks included.
	{"DETSEC  = '[1:4146,1:1544]'    / Detector section", "DETSEC", "str", "[1:4146,1:1544]", "Corrected DETSEC",
		"DETSEC  = '[1:4146,1:1544]'    / Corrected DETSEC"},
	{"STR     = 'abcdefgh   ' / c", "STR", "str", "abcdefgh", "new",
		"STR     = 'abcdefgh   '        / new"},
	{"NONSIDER=                    F / Target is non-sidereal", "NONSIDER", "bool", "F", "Target is non-sidereal",
		"NONSIDER=                    F / Target is non-sidereal"},
}

func setCard(t *testing.T, raw, key, kind, val, cmt string) string {
	t.Helper()
	b := []byte(fmt.Sprintf("%-80s%-80s", raw, "END"))
	b = append(b, bytes.Repeat([]byte(" "), fits.BlockLen-len(b))...)
	h, _, err := fits.ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	switch kind {
	case "float":
		v, _ := strconv.ParseFloat(val, 64)
		h.Set(fits.FloatCard(key, v, cmt))
	case "int":
		v, _ := strconv.ParseInt(val, 10, 64)
		h.Set(fits.IntCard(key, v, cmt))
	case "str":
		h.Set(fits.StringCard(key, val, cmt))
	case "bool":
		h.Set(fits.BoolCard(key, val == "T", cmt))
	}
	c, _ := h.Get(key)
	imgs, err := c.Images()
	if err != nil || len(imgs) != 1 {
		t.Fatalf("%s: %v %q", key, err, imgs)
	}
	return imgs[0]
}

func TestSetLikeAstropy(t *testing.T) {
	for _, c := range setCases {
		got := setCard(t, c.raw, c.key, c.kind, c.val, c.cmt)
		if want := fmt.Sprintf("%-80s", c.want); got != want {
			t.Errorf("%q set to %s %q:\n got %q\nwant %q", c.raw, c.val, c.cmt, got, want)
		}
	}
}

// TestSetAstropyAgrees has astropy itself set every card of setCases, so the
// table says what astropy does, not what we think it does.
func TestSetAstropyAgrees(t *testing.T) {
	requireAstropy(t)
	const script = `
import json, sys, warnings
from astropy.io import fits
warnings.simplefilter("ignore")
out = []
for raw, key, kind, val, comment in json.load(sys.stdin):
    h = fits.Header.fromstring(raw.ljust(80) + "END".ljust(80) + " " * (2880 - 160))
    v = {"float": float, "int": int, "str": str, "bool": lambda s: s == "T"}[kind](val)
    h[key] = (v, comment)
    out.append(h.cards[key].image)
json.dump(out, sys.stdout)
`
	var in [][5]string
	for _, c := range setCases {
		in = append(in, [5]string{c.raw, c.key, c.kind, c.val, c.cmt})
	}
	js, _ := json.Marshal(in)
	cmd := exec.Command(python, "-c", script)
	cmd.Stdin = bytes.NewReader(js)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("astropy: %v", err)
	}
	var theirs []string
	if err := json.Unmarshal(out, &theirs); err != nil {
		t.Fatal(err)
	}
	for i, c := range setCases {
		if want := fmt.Sprintf("%-80s", c.want); theirs[i] != want {
			t.Errorf("%q: astropy writes %q, the table says %q", c.raw, theirs[i], strings.TrimRight(want, " "))
		}
	}
}

// rawCard parses one card image, as if read from a file.
func rawCard(t *testing.T, img string) fits.Card {
	t.Helper()
	b := []byte(fmt.Sprintf("%-80s%-80s", img, "END"))
	b = append(b, bytes.Repeat([]byte(" "), fits.BlockLen-len(b))...)
	h, _, err := fits.ParseHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	return h.Cards[0]
}

// TestConditionKeepsValueText: a production raw file's real TELALT and
// TELAZ get dataMan's comments and keep their value text, in the primary
// and in MERGED, as astropy writes them; MERGED's EXTNAME has astropy's
// comment.
func TestConditionKeepsValueText(t *testing.T) {
	raw := edit(t, genRaw(t, frame(t, "mods1b", 5, "1k-2x2")), nil, func(i int, h *fits.Header) {
		if i != 0 {
			return
		}
		for k, c := range map[string]string{
			"TELALT": "TELALT  =              67.8142 / Telescope Altitude [deg]",
			"TELAZ":  "TELAZ   =             123.4567 / Telescope Azimuth [deg]",
		} {
			h.Cards[h.Index(k)] = rawCard(t, c)
		}
	})
	out, _ := condition(t, raw, t.TempDir(), opts())
	f, err := fits.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[string]string{
		"TELALT": "TELALT  =             67.8142  / Telescope Altitude at start of obs [deg]",
		"TELAZ":  "TELAZ   =            123.4567  / Telescope Azimuth at start of obs [deg]",
	}
	for _, hdu := range []int{0, 6} {
		for k, w := range want {
			c, ok := f.HDUs[hdu].Header.Get(k)
			if !ok {
				t.Fatalf("%s: no %s", f.HDUs[hdu].Name(), k)
			}
			imgs, _ := c.Images()
			if imgs[0] != fmt.Sprintf("%-80s", w) {
				t.Errorf("%s %s:\n got %q\nwant %q", f.HDUs[hdu].Name(), k, imgs[0], w)
			}
		}
	}
	c, _ := f.HDUs[6].Header.Get("EXTNAME")
	if c.Comment != "extension name" {
		t.Errorf("MERGED EXTNAME comment %q, want astropy's %q", c.Comment, "extension name")
	}
}

// TestWarningsOneLine: a warning with several reasons stays on one line.
func TestWarningsOneLine(t *testing.T) {
	raw := edit(t, genRaw(t, frame(t, "mods1b", 6, "1k-2x2")), nil, func(i int, h *fits.Header) {
		if i == 0 {
			h.Delete("TELRA")
			h.Delete("TELDEC")
		}
	})
	_, res := condition(t, raw, t.TempDir(), opts())
	found := false
	for _, w := range res.Warnings {
		if strings.ContainsAny(w, "\n\r") {
			t.Errorf("warning with a newline: %q", w)
		}
		if strings.Contains(w, "TELRA") && strings.Contains(w, "TELDEC") {
			found = true
		}
	}
	if !found {
		t.Errorf("no warning names both TELRA and TELDEC: %q", res.Warnings)
	}
}
