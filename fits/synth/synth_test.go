package synth

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/obsdata/dataman/fits"
)

// generated files are shared by the tests of one run: full frames cost a
// few hundred milliseconds each.
var (
	genDir   string
	genMu    sync.Mutex
	genPaths = map[string]string{}
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "synth-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	genDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// generated writes (once) the default mods1b frame of a mode.
func generated(t testing.TB, mode string) (string, Frame) {
	t.Helper()
	m, err := ModeByName(mode)
	if err != nil {
		t.Fatal(err)
	}
	seq := slices.IndexFunc(modes, func(x Mode) bool { return x.Name == m.Name }) + 1
	f := Default("mods1b", seq, mode)
	genMu.Lock()
	defer genMu.Unlock()
	if p, ok := genPaths[m.Name]; ok {
		return p, f
	}
	p, err := WriteFile(genDir, f)
	if err != nil {
		t.Fatal(err)
	}
	genPaths[m.Name] = p
	return p, f
}

func open(t testing.TB, path string) *fits.File {
	t.Helper()
	f, err := fits.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// legacyDumpFrame has the parameters of the real December 2025 header of
// mods2r.20251210.0009.fits (spec section 11).
func legacyDumpFrame() Frame {
	return Frame{
		Channel:   "mods2r",
		Seq:       9,
		Mode:      Mode{Name: "1k"},
		Legacy:    true,
		Start:     time.Date(2025, 12, 10, 19, 8, 7, 251e6, time.UTC),
		ExpTime:   1,
		ImageType: "object",
		Object:    "Sieve Mask 1Kx1K 500ms",
		Seed:      20251210,
		Scene:     SceneSpectrum,
		Observer:  "Observer Name(s)",
		Partner:   "ENGINEERING",
		PIName:    "ENGINEERING",
		PropID:    "ENGINEERING",
		Support:   "Support Name(s)",
		TelOps:    "TelOps Name(s)",
	}
}

// TestRealHeaderDump is the key fidelity test: with the parameters of the
// one real raw header, the primary header must be that header, card for
// card and byte for byte, followed by END.
func TestRealHeaderDump(t *testing.T) {
	want, err := os.ReadFile("../../testdata/synth/real-header-dump.txt")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(want), "\n"), "\n")
	if len(lines) != 78 {
		t.Fatalf("dump has %d cards, want 78", len(lines))
	}
	f := legacyDumpFrame()
	if f.Name() != "mods2r.20251210.0009.fits" {
		t.Errorf("name %s, want mods2r.20251210.0009.fits", f.Name())
	}
	path, err := WriteFile(t.TempDir(), f)
	if err != nil {
		t.Fatal(err)
	}
	file := open(t, path)
	p := file.HDUs[0]
	raw := make([]byte, p.HeaderSize)
	if _, err := file.ReadAt(raw, p.Start); err != nil {
		t.Fatal(err)
	}
	for i, line := range lines {
		got := string(raw[i*fits.CardLen : (i+1)*fits.CardLen])
		if got != line {
			t.Errorf("card %d:\n got %q\nwant %q", i+1, got, line)
		}
	}
	if end := strings.TrimRight(string(raw[78*fits.CardLen:79*fits.CardLen]), " "); end != "END" {
		t.Errorf("card 79 is %q, want END", end)
	}
	if names := hduNames(file); !slices.Equal(names, []string{"PRIMARY", "Q1", "Q2", "Q3", "Q4", "CONPARS"}) {
		t.Errorf("HDUs %v", names)
	}
	// The quadrant headers printed in the same notebook.
	for q, detsec := range []string{"[3633:4144,1033:1544]", "[8288:7777,1033:1544]", "[3633:4144,2577:3088]", "[8288:7777,2577:3088]"} {
		h := file.HDUs[q+1].Header
		checkString(t, h, "DETSEC", detsec)
		checkString(t, h, "CCDSEC", detsec)
		checkString(t, h, "BIASSEC", "[513:544,1:512]")
		checkString(t, h, "DATASEC", "[1:512,1:512]")
	}
	if n := file.HDUs[5].Header.Cards; len(n) != 13 {
		t.Errorf("CONPARS has %d cards, want 13", len(n))
	}
	if rows, _ := file.HDUs[5].Header.Int("NAXIS2"); rows != 205 {
		t.Errorf("CONPARS has %d rows, want 205", rows)
	}
}

func hduNames(f *fits.File) []string {
	var out []string
	for _, h := range f.HDUs {
		out = append(out, h.Name())
	}
	return out
}

func checkString(t *testing.T, h *fits.Header, key, want string) {
	t.Helper()
	if got, err := h.String(key); err != nil || got != want {
		t.Errorf("%s = %q (%v), want %q", key, got, err, want)
	}
}

// checkValue compares a card's value as written, so that 4145.0 (a real)
// and 4145 (an integer) differ.
func checkValue(t *testing.T, h *fits.Header, ext, key, want string) {
	t.Helper()
	c, ok := h.Get(key)
	if !ok {
		t.Errorf("%s: no %s", ext, key)
		return
	}
	if got := c.ValueString(); got != want {
		t.Errorf("%s %s = %s, want %s", ext, key, got, want)
	}
}

// TestModeSizes writes every mode and checks the structure against the
// table of spec 3.2.
func TestModeSizes(t *testing.T) {
	sizes := map[string][2]int64{
		"full": {4178, 1544}, "3kx3k": {1576, 1544}, "1kx1k": {544, 512}, "4kx3k": {2080, 1544},
		"full-2x2": {2105, 772}, "full-1x2": {4178, 772}, "1k-2x2": {288, 256},
	}
	if len(sizes) != len(Modes()) {
		t.Fatalf("%d modes, table has %d", len(Modes()), len(sizes))
	}
	for _, m := range Modes() {
		t.Run(m.Name, func(t *testing.T) {
			path, _ := generated(t, m.Name)
			f := open(t, path)
			if names := hduNames(f); !slices.Equal(names, []string{"PRIMARY", "IM1", "IM2", "IM3", "IM4", "CONPARS"}) {
				t.Fatalf("HDUs %v", names)
			}
			if f.HDUs[0].DataSize != 0 {
				t.Errorf("primary has %d data bytes", f.HDUs[0].DataSize)
			}
			want := sizes[m.Name]
			for q := 1; q <= 4; q++ {
				h := f.HDUs[q].Header
				nx, _ := h.Int("NAXIS1")
				ny, _ := h.Int("NAXIS2")
				if nx != want[0] || ny != want[1] {
					t.Errorf("IM%d is %d×%d, want %d×%d", q, nx, ny, want[0], want[1])
				}
				if len(h.Cards) != 73 {
					t.Errorf("IM%d has %d cards, want 73", q, len(h.Cards))
				}
				if f.HDUs[q].DataSize != 2*want[0]*want[1] {
					t.Errorf("IM%d data %d bytes", q, f.HDUs[q].DataSize)
				}
			}
			if size := f.HDUs[5].End(); size != f.Size {
				t.Errorf("file is %d bytes, HDUs end at %d", f.Size, size)
			}
		})
	}
}

// TestExtensionHeaders checks the IMx values azcam writes against the
// table of spec 4.3, quirks included.
func TestExtensionHeaders(t *testing.T) {
	type row struct{ key, im1, im2, im3, im4 string }
	cases := map[string][]row{
		"full": {
			{"BIASSEC", "[4147:4178,1:1544]", "[4147:4178,1:1544]", "[4147:4178,1:1544]", "[4147:4178,1:1544]"},
			{"DATASEC", "[1:4146,1:1544]", "[1:4146,1:1544]", "[1:4146,1:1544]", "[1:4146,1:1544]"},
			{"TRIMSEC", "[1:4146,1:1544]", "[1:4146,1:1544]", "[1:4146,1:1544]", "[1:4146,1:1544]"},
			{"AMPSEC", "[1:4146,1:1544]", "[4146:1,1:1544]", "[1:4146,1:1544]", "[4146:1,1:1544]"},
			{"DETSEC", "[1:4146,1:1544]", "[8292:4147,1:1544]", "[1:4146,1545:3088]", "[8292:4147,1545:3088]"},
			{"CCDSEC", "[1:4146,1:1544]", "[8292:4147,1:1544]", "[1:4146,1545:3088]", "[8292:4147,1545:3088]"},
			{"CCDSEC1", "[1:4146,1:1544]", "[8292:4146,1:1544]", "[1:4146,1:1544]", "[8292:4146,1:1544]"},
			{"LTM1_1", "1.0", "-1.0", "1.0", "-1.0"},
			{"LTV1", "0.0", "8293.0", "0.0", "8293.0"},
			{"LTV2", "0.0", "0.0", "-1544.0", "-1544.0"},
			{"ATV1", "0", "8293", "0", "8293"},
			{"ATV2", "0", "0", "-1544", "-1544"},
			{"CRPIX1", "4145.0", "4146.0", "4145.0", "4146.0"},
			{"CRPIX2", "1543.0", "1543.0", "-1.0", "-1.0"},
			{"AMP-PIX1", "1", "8292", "1", "8292"},
			{"AMP-PIX2", "1", "1", "1545", "1545"},
			{"AMP-CFG", "0", "1", "0", "1"},
		},
		"1kx1k": {
			{"BIASSEC", "[513:544,1:512]", "[513:544,1:512]", "[513:544,1:512]", "[513:544,1:512]"},
			{"DATASEC", "[1:512,1:512]", "[1:512,1:512]", "[1:512,1:512]", "[1:512,1:512]"},
			{"AMPSEC", "[1:4146,1:1544]", "[4146:1,1:1544]", "[1:4146,1:1544]", "[4146:1,1:1544]"},
			{"DETSEC", "[3635:4146,1033:1544]", "[8292:7781,1033:1544]", "[3635:4146,2577:3088]", "[8292:7781,2577:3088]"},
			{"CCDSEC", "[3635:4146,1033:1544]", "[8292:7781,1033:1544]", "[3635:4146,2577:3088]", "[8292:7781,2577:3088]"},
			{"CCDSEC1", "[3635:512,1033:1544]", "[4658:512,1033:1544]", "[3635:512,1033:1544]", "[4658:512,1033:1544]"},
			{"LTM1_1", "1.0", "-1.0", "1.0", "-1.0"},
			{"LTV1", "-3634.0", "8293.0", "-3634.0", "8293.0"},
			{"LTV2", "-1032.0", "-1032.0", "-2576.0", "-2576.0"},
			{"ATV1", "0", "8293", "0", "8293"},
			{"ATV2", "0", "0", "-1544", "-1544"},
			{"CRPIX1", "511.0", "-6756.0", "511.0", "-6756.0"},
			{"CRPIX2", "511.0", "511.0", "-1.0", "-1.0"},
			{"AMP-PIX1", "1", "1024", "1", "1024"},
			{"AMP-PIX2", "1", "1", "513", "513"},
		},
		"3kx3k": {
			{"BIASSEC", "[1545:1576,1:1544]", "[1545:1576,1:1544]", "[1545:1576,1:1544]", "[1545:1576,1:1544]"},
			{"DATASEC", "[1:1544,1:1544]", "[1:1544,1:1544]", "[1:1544,1:1544]", "[1:1544,1:1544]"},
			{"DETSEC", "[2603:4146,1:1544]", "[8292:6749,1:1544]", "[2603:4146,1545:3088]", "[8292:6749,1545:3088]"},
			{"LTV1", "-2602.0", "8293.0", "-2602.0", "8293.0"},
			{"LTV2", "0.0", "0.0", "-1544.0", "-1544.0"},
		},
		"4kx3k": {
			{"BIASSEC", "[2049:2080,1:1544]", "[2049:2080,1:1544]", "[2049:2080,1:1544]", "[2049:2080,1:1544]"},
			{"DATASEC", "[1:2048,1:1544]", "[1:2048,1:1544]", "[1:2048,1:1544]", "[1:2048,1:1544]"},
			{"DETSEC", "[2099:4146,1:1544]", "[8292:6245,1:1544]", "[2099:4146,1545:3088]", "[8292:6245,1545:3088]"},
			{"LTV1", "-2098.0", "8293.0", "-2098.0", "8293.0"},
			{"LTV2", "0.0", "0.0", "-1544.0", "-1544.0"},
		},
		"full-2x2": {
			{"BIASSEC", "[2074:2105,1:772]", "[2074:2105,1:772]", "[2074:2105,1:772]", "[2074:2105,1:772]"},
			{"DATASEC", "[1:2073,1:772]", "[1:2073,1:772]", "[1:2073,1:772]", "[1:2073,1:772]"},
			{"DETSEC", "[1:4146,1:1544]", "[8292:4147,1:1544]", "[1:4146,1545:3088]", "[8292:4147,1545:3088]"},
			{"CCDSUM", "2 2", "2 2", "2 2", "2 2"},
			{"LTM1_1", "0.5", "-0.5", "0.5", "-0.5"},
			{"LTM2_2", "0.5", "0.5", "0.5", "0.5"},
			{"LTV1", "0.0", "4146.5", "0.0", "4146.5"},
			{"LTV2", "0.0", "0.0", "-772.0", "-772.0"},
		},
	}
	common := []row{
		{"EXTNAME", "IM1", "IM2", "IM3", "IM4"},
		{"BZERO", "32768.0", "32768.0", "32768.0", "32768.0"},
		{"BSCALE", "1.0", "1.0", "1.0", "1.0"},
		{"OVRSCAN1", "32", "32", "32", "32"},
		{"DETSIZE", "[1:8292,1:3088]", "[1:8292,1:3088]", "[1:8292,1:3088]", "[1:8292,1:3088]"},
		{"EQUINOX", "2000", "2000", "2000", "2000"},
		{"DTM1_1", "1", "1", "1", "1"},
		{"DTV1", "0", "0", "0", "0"},
		{"CD1_2", "-0.0", "-0.0", "-0.0", "-0.0"},
		{"CD2_1", "0.0", "-0.0", "0.0", "-0.0"},
		{"GAIN", "2.0", "2.0", "2.0", "2.0"},
	}
	for mode, rows := range cases {
		t.Run(mode, func(t *testing.T) {
			path, _ := generated(t, mode)
			f := open(t, path)
			for _, r := range append(rows, common...) {
				for q, want := range []string{r.im1, r.im2, r.im3, r.im4} {
					checkValue(t, f.HDUs[q+1].Header, fmt.Sprintf("IM%d", q+1), r.key, want)
				}
			}
			// float32(1/3600)×binning, cut to 20 characters as astropy does.
			cd1, cd2 := "0.000277777784503996", "-0.00027777778450399"
			if mode == "full-2x2" {
				cd1, cd2 = "0.000555555569007992", "-0.00055555556900799"
			}
			checkValue(t, f.HDUs[1].Header, "IM1", "CD1_1", cd1)
			checkValue(t, f.HDUs[2].Header, "IM2", "CD1_1", cd2)
		})
	}
}

// TestPrimaryStructure checks the sections of a frame with both IIF
// sections: banners in azcam's order, keywords sorted within each, and the
// keywords the consumers need, with their types.
func TestPrimaryStructure(t *testing.T) {
	path, frame := generated(t, "1kx1k")
	h := open(t, path).HDUs[0].Header
	var titles []string
	var keys [][]string
	for i := 0; i < len(h.Cards); i++ {
		c := h.Cards[i]
		if c.Key == "COMMENT" && c.Comment == banner {
			titles = append(titles, h.Cards[i+1].Comment)
			keys = append(keys, nil)
			i += 2
			continue
		}
		if len(keys) > 0 {
			keys[len(keys)-1] = append(keys[len(keys)-1], c.Key)
		}
	}
	want := []string{"MODS", "Controller", "Instrument", "Exposure", "Telescope", "Temperature", "AzCam Focal plane"}
	if !slices.Equal(titles, want) {
		t.Fatalf("sections %v, want %v", titles, want)
	}
	for i, k := range keys {
		if !slices.IsSorted(k) {
			t.Errorf("section %s is not sorted: %v", titles[i], k)
		}
	}
	kinds := map[string]fits.Kind{
		"DATE-OBS": fits.KindString, "UTC-OBS": fits.KindString, "IMAGETYP": fits.KindString, "OBJECT": fits.KindString,
		"INSTRUME": fits.KindString, "CHANNEL": fits.KindString, "REF-PIX1": fits.KindInt, "REF-PIX2": fits.KindInt,
		"TELRA": fits.KindString, "TELDEC": fits.KindString, "TELALT": fits.KindFloat, "TELAZ": fits.KindFloat,
		"LBTWLINK": fits.KindString, "NONSIDER": fits.KindInt, "NSTYPE": fits.KindString, "NSEPHFIL": fits.KindString,
		"AIRMASS": fits.KindFloat, "CCDTEMP": fits.KindFloat, "BASETEMP": fits.KindFloat, "FILTNAME": fits.KindString,
		"MASKNAME": fits.KindString, "MASKPOS": fits.KindString, "TIMEZONE": fits.KindString, "INTMS": fits.KindInt,
		"EXPTIME": fits.KindFloat, "NEXTEND": fits.KindInt, "CCDSUM": fits.KindString,
	}
	for key, kind := range kinds {
		c, ok := h.Get(key)
		if !ok || c.Kind != kind {
			t.Errorf("%s: present %v, kind %v, want kind %v", key, ok, c, kind)
		}
	}
	checkString(t, h, "DATE-OBS", "2026-01-19")
	checkString(t, h, "IMAGETYP", "object")
	checkString(t, h, "LBTWLINK", "1")
	checkString(t, h, "NSTYPE", "")
	checkString(t, h, "FILENAME", frame.Name())
	if v, _ := h.Float("CCDTEMP"); v != -999.9 {
		t.Errorf("CCDTEMP %v", v)
	}
	if v, _ := h.Int("REF-PIX1"); v != 4146 {
		t.Errorf("REF-PIX1 %d", v)
	}
	if alt, _ := h.Float("TELALT"); alt < 0 || alt > 90 {
		t.Errorf("TELALT %v", alt)
	}
	if c, ok := h.Get("AZCAM-HEAD"); !ok || !c.Hierarch || c.Str != "OK" {
		t.Errorf("AZCAM-HEAD %+v", c)
	}
}

func TestPrimaryVariants(t *testing.T) {
	f := Default("mods2b", 3, "1k")
	f.DMSAltAz = true
	f.Fraction1000 = true
	f.ImageType = "Twilight"
	f.Start = time.Date(2026, 2, 1, 10, 0, 0, 999_700_000, time.UTC)
	_, g, err := f.check()
	if err != nil {
		t.Fatal(err)
	}
	ch, _ := f.channel()
	h := primaryHeader(f, ch, g)
	for _, key := range []string{"TELALT", "TELAZ"} {
		v, err := h.String(key)
		if err != nil || len(strings.Split(v, ":")) != 3 || !strings.Contains(v, ".") {
			t.Errorf("%s = %q (%v), want a DMS string", key, v, err)
		}
	}
	for _, key := range []string{"UTC-OBS", "TIME-OBS", "UT"} {
		checkString(t, h, key, "10:00:00.1000")
	}
	checkString(t, h, "IMAGETYP", "comp")
	checkString(t, h, "LOCTIME", "03:00:00")
	checkString(t, h, "TIMEZONE", "7.0")
	c, _ := h.Get("TELRA")
	if !strings.HasPrefix(c.Comment, "DX ") {
		t.Errorf("MODS2 TELRA comment %q", c.Comment)
	}

	f.Fraction1000, f.Telescope, f.Instrument = false, false, false
	f.EditPrimary = func(h *fits.Header) { h.Delete("INSTRUME") }
	h = primaryHeader(f, ch, g)
	checkString(t, h, "UTC-OBS", "10:00:01.000")
	for _, key := range []string{"TELRA", "FILTNAME", "INSTRUME"} {
		if h.Has(key) {
			t.Errorf("%s present", key)
		}
	}
}

func TestObsDate(t *testing.T) {
	cases := []struct {
		utc       string
		obs, noon string
	}{
		{"2026-01-19T03:12:45Z", "20260119", "20260118"}, // 20:12 the evening before in Arizona
		{"2026-01-19T18:59:59Z", "20260119", "20260118"}, // 11:59 local
		{"2026-01-19T19:00:00Z", "20260120", "20260119"}, // 12:00 local: afternoon calibrations
		{"2026-01-19T23:59:59Z", "20260120", "20260119"}, // 16:59 local
		{"2026-01-20T00:00:00Z", "20260120", "20260119"}, // 17:00 local
		{"2025-12-31T22:00:00Z", "20260101", "20251231"},
	}
	az := time.FixedZone("MST", -7*3600)
	for _, c := range cases {
		tm, err := time.Parse(time.RFC3339, c.utc)
		if err != nil {
			t.Fatal(err)
		}
		if got := ObsDate(tm); got != c.obs {
			t.Errorf("ObsDate(%s) = %s, want %s", c.utc, got, c.obs)
		}
		if got := LocalObsDate(tm.In(az)); got != c.noon {
			t.Errorf("LocalObsDate(%s) = %s, want %s", c.utc, got, c.noon)
		}
	}
	if got := Default("mods1r", 7, "full").Name(); got != "mods1r.20260119.0007.fits" {
		t.Errorf("Default name %s", got)
	}
	if got := (Frame{Channel: "mods1b", Seq: 12345, Start: time.Date(2026, 3, 1, 5, 0, 0, 0, time.UTC)}).Name(); got != "mods1b.20260301.12345.fits" {
		t.Errorf("five-digit name %s", got)
	}
}

func TestModeByName(t *testing.T) {
	for name, want := range map[string]string{"off": "full", "8kx3k": "full", "FULL": "full", "3k": "3kx3k",
		"1k": "1kx1k", "4kx3k": "4kx3k", "full-2x2": "full-2x2", "full-1x2": "full-1x2", "1k-2x2": "1k-2x2"} {
		m, err := ModeByName(name)
		if err != nil || m.Name != want {
			t.Errorf("ModeByName(%q) = %v, %v; want %s", name, m, err, want)
		}
	}
	_, err := ModeByName("2k")
	if err == nil || !strings.Contains(err.Error(), "1kx1k") || !strings.Contains(err.Error(), "full-2x2") {
		t.Errorf("unknown mode error %v does not list the valid names", err)
	}
}

func TestInvalidFrames(t *testing.T) {
	base := Default("mods1b", 1, "1k")
	cases := map[string]func(*Frame){
		"channel":   func(f *Frame) { f.Channel = "mods3b" },
		"mode name": func(f *Frame) { f.Mode = Mode{Name: "2k"} },
		"off centre": func(f *Frame) {
			f.Mode = Mode{Name: "odd", C1: 1, C2: 1024, R1: 1, R2: 3088, BinX: 1, BinY: 1}
		},
		"outside":  func(f *Frame) { f.Mode = Mode{Name: "big", C1: 0, C2: 8293, R1: 1, R2: 3088, BinX: 1, BinY: 1} },
		"binning":  func(f *Frame) { f.Mode.BinX = 3 },
		"start":    func(f *Frame) { f.Start = time.Time{} },
		"exposure": func(f *Frame) { f.ExpTime = -1 },
		"rows":     func(f *Frame) { f.ConparsRows = 100000 },
		"scene":    func(f *Frame) { f.Scene = 7 },
	}
	for name, edit := range cases {
		f := base
		edit(&f)
		dir := t.TempDir()
		if _, err := WriteFile(dir, f); err == nil {
			t.Errorf("%s: no error", name)
		}
		if left, _ := os.ReadDir(dir); len(left) != 0 {
			t.Errorf("%s: left %v behind", name, left)
		}
	}
	f := base
	f.Mode = Mode{Name: "3k"}
	if _, err := WriteFile(t.TempDir(), f); err != nil {
		t.Errorf("a mode given by name only: %v", err)
	}
}

func TestWriteFileNeverReplaces(t *testing.T) {
	dir := t.TempDir()
	f := Default("mods2r", 4, "1k-2x2")
	path, err := WriteFile(dir, f)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	f.Seed++
	if _, err := WriteFile(dir, f); err == nil {
		t.Fatal("second write of the same name succeeded")
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) || filepath.Base(path) != f.Name() {
		t.Error("existing file changed")
	}
}

func TestDeterminism(t *testing.T) {
	write := func(f Frame) []byte {
		var m bytes.Buffer
		if err := Write(&m, f); err != nil {
			t.Fatal(err)
		}
		return m.Bytes()
	}
	f := Default("mods1r", 5, "1k")
	a, b := write(f), write(f)
	if !bytes.Equal(a, b) {
		t.Fatal("the same frame gave different bytes")
	}
	f.Status = map[string]string{"ZZ": "1", "AA": "2", "MOD10/TEMPA": "x"}
	if c, d := write(f), write(f); !bytes.Equal(c, d) {
		t.Fatal("status overrides made the output vary")
	}
	f.Status = nil
	f.Seed++
	if c := write(f); bytes.Equal(a, c) {
		t.Fatal("a different seed gave the same bytes")
	}
}

// quadrant reads IMx (1-based) as physical values, rows first.
func quadrant(t *testing.T, f *fits.File, q int) (pix []float64, nx, ny int) {
	t.Helper()
	h := f.HDUs[q]
	x, _ := h.Header.Int("NAXIS1")
	y, _ := h.Header.Int("NAXIS2")
	raw := make([]byte, h.DataSize)
	if _, err := io.ReadFull(f.Data(h), raw); err != nil {
		t.Fatal(err)
	}
	pix = make([]float64, x*y)
	for i := range pix {
		pix[i] = float64(int16(binary.BigEndian.Uint16(raw[2*i:]))) + 32768
	}
	return pix, int(x), int(y)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func meanStd(v []float64) (float64, float64) {
	var sum, sq float64
	for _, x := range v {
		sum += x
	}
	m := sum / float64(len(v))
	for _, x := range v {
		sq += (x - m) * (x - m)
	}
	return m, math.Sqrt(sq / float64(len(v)))
}

// TestOverscanStatistics measures a full frame the way dataMan does and
// compares with the real December 2025 numbers (spec 3.3 and 11).
func TestOverscanStatistics(t *testing.T) {
	path, frame := generated(t, "full")
	f := open(t, path)
	bias := frame.Bias()
	for q := 1; q <= 4; q++ {
		pix, nx, ny := quadrant(t, f, q)
		xtrim := nx - overscanCols
		at := func(r, c int) float64 { return pix[r*nx+c] }
		var box, rowMedians []float64
		for r := 2; r < ny-2; r++ {
			row := pix[r*nx+xtrim+2 : (r+1)*nx]
			box = append(box, row...)
			rowMedians = append(rowMedians, median(row))
		}
		med := median(box)
		_, std := meanStd(box)
		_, rowStd := meanStd(rowMedians)
		if math.Abs(med-bias[q-1]) > 0.75 || med < 950 || med > 1050 {
			t.Errorf("IM%d overscan median %v, bias %v", q, med, bias[q-1])
		}
		if std < 1.35 || std > 1.75 {
			t.Errorf("IM%d overscan std %.3f, want about 1.5", q, std)
		}
		if rowStd < 0.3 || rowStd > 0.6 {
			t.Errorf("IM%d row-median std %.3f, want about 0.45", q, rowStd)
		}
		var hotCol, hotRows, prescan []float64
		for r := 2; r < ny-2; r++ {
			hotCol = append(hotCol, at(r, xtrim))
			prescan = append(prescan, pix[r*nx+2:r*nx+48]...)
		}
		for _, r := range []int{0, 1, ny - 2, ny - 1} {
			hotRows = append(hotRows, pix[r*nx+xtrim+2:(r+1)*nx]...)
		}
		if m, _ := meanStd(hotCol); m < med+50 {
			t.Errorf("IM%d first overscan column mean %.1f is not hot (bias %.1f)", q, m, med)
		}
		if m, _ := meanStd(hotRows); m < med+30 {
			t.Errorf("IM%d edge rows mean %.1f are not hot (bias %.1f)", q, m, med)
		}
		if m := median(prescan); math.Abs(m-med) > 1 {
			t.Errorf("IM%d prescan median %v, overscan %v", q, m, med)
		}
		if m := median(pix[600*nx+100 : 600*nx+xtrim]); m < med+10 {
			t.Errorf("IM%d illuminated median %v, no light above bias %v", q, m, med)
		}
	}
}

// TestMergedContinuity assembles MERGED exactly as spec 5.6 does and checks
// that the scene runs across the quadrant boundaries: the spectrum trace
// peaks in the same row on both sides of the vertical boundary.
func TestMergedContinuity(t *testing.T) {
	path, frame := generated(t, "1kx1k")
	f := open(t, path)
	bias := frame.Bias()
	var quads [4][]float64
	var nx, ny int
	for q := range 4 {
		quads[q], nx, ny = quadrant(t, f, q+1)
	}
	xtrim := nx - overscanCols
	merged := func(r, c int) float64 { // numpy [r, c] of spec 5.6
		var q, qr, qc int
		switch {
		case r < ny && c < xtrim:
			q, qr, qc = 2, ny-1-r, c
		case r < ny:
			q, qr, qc = 3, ny-1-r, 2*xtrim-1-c
		case c < xtrim:
			q, qr, qc = 0, 2*ny-1-r, c
		default:
			q, qr, qc = 1, 2*ny-1-r, 2*xtrim-1-c
		}
		return quads[q][qr*nx+qc] - bias[q]
	}
	peakRow := func(c int) int {
		best := 0
		for r := range 2 * ny {
			if merged(r, c) > merged(best, c) {
				best = r
			}
		}
		return best
	}
	for _, c := range [][2]int{{xtrim - 3, xtrim + 2}, {xtrim - 40, xtrim + 40}} {
		l, r := peakRow(c[0]), peakRow(c[1])
		if l != r && l != r+1 && l != r-1 {
			t.Errorf("trace at row %d left of the boundary, %d right of it", l, r)
		}
		if merged(l, c[0]) < 1000 {
			t.Errorf("no trace: peak %v", merged(l, c[0]))
		}
	}
}

// TestMappingInverse checks, pixel by pixel on a binned ROI, that the
// detector position the scene uses for each IMx pixel is where spec 5.6's
// MERGED places it: column c1 + X·binx, row r1 + (2·ny−1−Y)·biny.
func TestMappingInverse(t *testing.T) {
	g, err := newGeometry(Mode{Name: "t", C1: 4131, C2: 4162, R1: 1529, R2: 1560, BinX: 2, BinY: 2}, false)
	if err != nil {
		t.Fatal(err)
	}
	xt, ny := g.xdata, g.ny
	for Y := range 2 * ny {
		for X := range 2 * xt {
			var q, r, c int
			switch {
			case Y < ny && X < xt:
				q, r, c = 2, ny-1-Y, X
			case Y < ny:
				q, r, c = 3, ny-1-Y, 2*xt-1-X
			case X < xt:
				q, r, c = 0, 2*ny-1-Y, X
			default:
				q, r, c = 1, 2*ny-1-Y, 2*xt-1-X
			}
			x, y := g.quadToDet(q, r, c)
			if x != g.c1+X*g.bx || y != g.r1+(2*ny-1-Y)*g.by {
				t.Fatalf("MERGED (%d,%d) from IM%d (%d,%d) is detector (%d,%d)", X, Y, q+1, r, c, x, y)
			}
			if bq, br, bc, ok := g.detToQuad(x+1, y+1); !ok || bq != q || br != r || bc != c {
				t.Fatalf("detToQuad(%d,%d) = IM%d (%d,%d) %v, want IM%d (%d,%d)", x+1, y+1, bq+1, br, bc, ok, q+1, r, c)
			}
		}
	}
}

func TestConpars(t *testing.T) {
	for _, c := range []struct {
		channel string
		ccd     string // which sensor reads the CCD
	}{{"mods1b", "MOD10/TEMPB"}, {"mods2r", "MOD10/TEMPA"}} {
		f := Default(c.channel, 1, "1k")
		rows, err := f.Conpars()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 205 {
			t.Errorf("%d rows", len(rows))
		}
		vals := map[string]string{}
		for _, r := range rows {
			if len(r.Key) > statusWidth || len(r.Value) > statusWidth {
				t.Errorf("row %+v too wide", r)
			}
			vals[r.Key] = r.Value
		}
		var ccd float64
		if _, err := fmt.Sscan(vals[c.ccd], &ccd); err != nil || ccd > -100 || ccd < -110 {
			t.Errorf("%s: CCD sensor %s = %q", c.channel, c.ccd, vals[c.ccd])
		}
		if vals["BACKPLANE_TEMP"] == "" || vals["MOD10/TEMPA"] == vals["MOD10/TEMPB"] {
			t.Errorf("%s: temperatures %v", c.channel, vals)
		}
	}

	f := Default("mods1b", 1, "1k")
	f.ConparsRows = 5
	f.Status = map[string]string{"MOD10/TEMPB": "-999.0x", "EXTRA": "1"}
	rows, err := f.Conpars()
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range rows {
		keys = append(keys, r.Key)
	}
	if want := []string{"VALID", "COUNT", "BACKPLANE_TEMP", "MOD10/TEMPA", "MOD10/TEMPB", "EXTRA"}; !slices.Equal(keys, want) {
		t.Errorf("short table %v, want %v", keys, want)
	}
	if rows[4].Value != "-999.0x" {
		t.Errorf("override not applied: %+v", rows[4])
	}

	// The table bytes: NUL padding as astropy writes 'A' fields.
	path, frame := generated(t, "1kx1k")
	file := open(t, path)
	want, _ := frame.Conpars()
	raw := make([]byte, file.HDUs[5].DataSize)
	if _, err := io.ReadFull(file.Data(file.HDUs[5]), raw); err != nil {
		t.Fatal(err)
	}
	if len(raw) != 2*statusWidth*len(want) {
		t.Fatalf("table is %d bytes", len(raw))
	}
	for i, r := range want {
		k := string(raw[2*statusWidth*i : 2*statusWidth*i+statusWidth])
		v := string(raw[2*statusWidth*i+statusWidth : 2*statusWidth*(i+1)])
		if k != r.Key+strings.Repeat("\x00", statusWidth-len(r.Key)) || v != r.Value+strings.Repeat("\x00", statusWidth-len(r.Value)) {
			t.Fatalf("row %d is %q %q, want %+v NUL-padded", i, k, v, r)
		}
	}
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func BenchmarkWriteFull(b *testing.B) {
	f := Default("mods1b", 1, "full")
	var c counter
	if err := Write(&c, f); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(c.n)
	b.ReportAllocs()
	for b.Loop() {
		if err := Write(io.Discard, f); err != nil {
			b.Fatal(err)
		}
	}
}
