package synth

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// need finds an independent reader: skipped where it is not installed,
// a failure in CI (CI=true), which installs it.
func need(t *testing.T, tool string, check ...string) {
	t.Helper()
	_, err := exec.LookPath(tool)
	if err == nil && len(check) > 0 {
		err = exec.Command(tool, check...).Run()
	}
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s %s is not usable in CI: %v", tool, strings.Join(check, " "), err)
	}
	t.Skipf("%s not usable: %v", tool, err)
}

func TestFitsverify(t *testing.T) {
	need(t, "fitsverify")
	dir := t.TempDir()
	for i, m := range Modes() {
		for k, legacy := range []bool{false, true} {
			if legacy && m.BinX*m.BinY == 1 && m.C1 == 1 {
				continue // the format is the same as the binned legacy full frame's
			}
			f := Default(Channels[i%len(Channels)], 100+2*i+k, m.Name)
			f.Legacy = legacy
			f.ConparsRows = 14
			f.Telescope, f.DMSAltAz = i%2 == 0, i%3 == 0
			path, err := WriteFile(dir, f)
			if err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("fitsverify", "-q", path).CombinedOutput()
			if err != nil || !bytes.HasPrefix(out, []byte("verification OK")) {
				t.Errorf("%s (legacy %v): fitsverify -q: %v\n%s", m.Name, legacy, err, out)
			}
			os.Remove(path)
		}
	}
}

// astropyInfo prints, per HDU, the card count, the dimensions and the
// format astropy's info() reports, then what the consumers read.
const astropyInfo = `
import sys
from astropy.io import fits
with fits.open(sys.argv[1]) as h:
    for row in h.info(output=False):
        print("HDU|%d|%s|%s|%s" % (row[4], row[1], row[5], row[6]))
    print("DTYPE|%s" % h[1].data.dtype.name)
    t = {k: v for k, v in zip(h[5].data["Keyword"], h[5].data["Value"])}
    print("TEMPS|%s|%s|%s" % (t["MOD10/TEMPA"], t["MOD10/TEMPB"], t["BACKPLANE_TEMP"]))
    p = h[0].header
    print("KEYS|%s|%s|%s|%s|%s" % (p["AZCAM-HEAD"], p["IMAGETYP"], p["FILTNAME"], p["MASKPOS"], repr(p["NSTYPE"])))
`

// TestAstropy has Debian's astropy 5.2.1, what azcam and dataMan use, read
// a 1k frame: card counts, the int16 rescaled to uint16, the CONPARS
// strings and the values modsDisp reads.
func TestAstropy(t *testing.T) {
	const python = "/usr/bin/python3"
	need(t, python, "-c", "import astropy.io.fits")
	path, frame := generated(t, "1kx1k")
	out, err := exec.Command(python, "-c", astropyInfo, path).CombinedOutput()
	if err != nil {
		t.Fatalf("astropy: %v\n%s", err, out)
	}
	ch, g, _ := frame.check()
	primaryCards := len(primaryHeader(frame, ch, g).Cards)
	// Per section: 12 fixed cards, then three banner cards and the keywords
	// of MODS, Controller, Instrument, Exposure, Telescope, Temperature and
	// the focal plane.
	sections := 12 + (3 + 1) + (3 + 2) + (3 + len(instrumentCards(ch))) + (3 + 35) +
		(3 + len(telescopeCards(frame, ch))) + (3 + 2) + (3 + 11)
	if primaryCards != sections {
		t.Errorf("primary has %d cards, sections add up to %d", primaryCards, sections)
	}
	rows, _ := frame.Conpars()
	want := []string{
		fmt.Sprintf("HDU|%d|PRIMARY|()|", primaryCards),
		"HDU|73|IM1|(544, 512)|int16 (rescales to uint16)",
		"HDU|73|IM2|(544, 512)|int16 (rescales to uint16)",
		"HDU|73|IM3|(544, 512)|int16 (rescales to uint16)",
		"HDU|73|IM4|(544, 512)|int16 (rescales to uint16)",
		"HDU|13|CONPARS|" + strconv.Itoa(len(rows)) + "R x 2C|[20A, 20A]",
		"DTYPE|uint16",
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < len(want)+2 {
		t.Fatalf("astropy said:\n%s", out)
	}
	for i, w := range want {
		if lines[i] != w {
			t.Errorf("astropy line %d: %q, want %q", i, lines[i], w)
		}
	}
	temps := map[string]string{}
	for _, r := range rows {
		temps[r.Key] = r.Value
	}
	if w := fmt.Sprintf("TEMPS|%s|%s|%s", temps["MOD10/TEMPA"], temps["MOD10/TEMPB"], temps["BACKPLANE_TEMP"]); lines[len(want)] != w {
		t.Errorf("astropy read %q, want %q", lines[len(want)], w)
	}
	if w := "KEYS|OK|object|Clear|IN|''"; lines[len(want)+1] != w {
		t.Errorf("astropy read %q, want %q", lines[len(want)+1], w)
	}
}
