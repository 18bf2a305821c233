package fits_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/fits/synth"
)

const testVersion = "0.0.0-test"

// genRaw writes a synthetic raw frame into a temporary directory.
func genRaw(t testing.TB, f synth.Frame) string {
	t.Helper()
	path, err := synth.WriteFile(t.TempDir(), f)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func frame(t testing.TB, channel string, seq int, mode string) synth.Frame {
	t.Helper()
	if _, err := synth.ModeByName(mode); err != nil {
		t.Fatal(err)
	}
	return synth.Default(channel, seq, mode)
}

// condition conditions raw into dir and returns the output path.
func condition(t testing.TB, raw, dir string, opts fits.Options) (string, *fits.Result) {
	t.Helper()
	in, err := fits.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out := filepath.Join(dir, filepath.Base(raw))
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := fits.Condition(in, f, opts)
	if err != nil {
		t.Fatalf("condition %s: %v", raw, err)
	}
	return out, res
}

func sha(t testing.TB, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func opts() fits.Options { return fits.AllSteps(testVersion, "sha256:test") }

func TestConditionStructure(t *testing.T) {
	cases := []struct {
		mode           string
		legacy         bool
		nx, ny         int64 // quadrant size
		detsec         [4]string
		ccdroi         string
		xbin, ybin     int64
		mergedX, mergY int64
	}{
		{"1kx1k", false, 544, 512,
			[4]string{"[3635:4146,1033:1544]", "[4658:4147,1033:1544]", "[3635:4146,1545:2056]", "[4658:4147,1545:2056]"},
			"[3635:4658,1033:2056]", 1, 1, 1024, 1024},
		{"1k-2x2", false, 288, 256,
			[4]string{"[3635:4146,1033:1544]", "[4658:4147,1033:1544]", "[3635:4146,1545:2056]", "[4658:4147,1545:2056]"},
			"[3635:4658,1033:2056]", 2, 2, 512, 512},
		{"3kx3k", false, 1576, 1544,
			[4]string{"[2603:4146,1:1544]", "[5690:4147,1:1544]", "[2603:4146,1545:3088]", "[5690:4147,1545:3088]"},
			"[2603:5690,1:3088]", 1, 1, 3088, 3088},
		{"full-2x2", false, 2105, 772,
			[4]string{"[1:4146,1:1544]", "[8292:4147,1:1544]", "[1:4146,1545:3088]", "[8292:4147,1545:3088]"},
			"[1:8292,1:3088]", 2, 2, 4146, 1544},
		{"4kx3k", false, 2080, 1544,
			[4]string{"[2099:4146,1:1544]", "[6194:4147,1:1544]", "[2099:4146,1545:3088]", "[6194:4147,1545:3088]"},
			"[2099:6194,1:3088]", 1, 1, 4096, 3088},
		{"full-1x2", false, 4178, 772,
			[4]string{"[1:4146,1:1544]", "[8292:4147,1:1544]", "[1:4146,1545:3088]", "[8292:4147,1545:3088]"},
			"[1:8292,1:3088]", 1, 2, 8292, 1544},
		{"1kx1k", true, 544, 512,
			[4]string{"[3633:4144,1033:1544]", "[4656:4145,1033:1544]", "[3633:4144,1545:2056]", "[4656:4145,1545:2056]"},
			"[3633:4656,1033:2056]", 1, 1, 1024, 1024},
	}
	for _, c := range cases {
		name := c.mode
		if c.legacy {
			name += "-legacy"
		}
		t.Run(name, func(t *testing.T) {
			f := frame(t, "mods2r", 7, c.mode)
			f.Legacy = c.legacy
			raw := genRaw(t, f)
			rawSum := sha(t, raw)
			out, res := condition(t, raw, t.TempDir(), opts())
			if sha(t, raw) != rawSum {
				t.Fatal("raw file changed")
			}
			got, err := fits.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			names := []string{}
			for _, h := range got.HDUs {
				names = append(names, h.Name())
			}
			wantNames := "PRIMARY,IM1,IM2,IM3,IM4,CONPARS,MERGED"
			if c.legacy {
				wantNames = "PRIMARY,Q1,Q2,Q3,Q4,CONPARS,MERGED"
			}
			if strings.Join(names, ",") != wantNames || res.HDUs != 7 {
				t.Fatalf("HDUs %v", names)
			}
			buf := make([]byte, 1<<20)
			for _, h := range got.HDUs {
				st, err := fits.VerifyChecksum(got, h, buf)
				if err != nil || !st.OK() {
					t.Errorf("%s: checksum %+v %v", h.Name(), st, err)
				}
			}
			in, _ := fits.Open(raw)
			defer in.Close()
			for q := 1; q <= 5; q++ {
				a, _ := io.ReadAll(in.Data(in.HDUs[q]))
				b, _ := io.ReadAll(got.Data(got.HDUs[q]))
				if !bytes.Equal(a, b) {
					t.Errorf("%s data changed", got.HDUs[q].Name())
				}
			}
			for q := 0; q < 4; q++ {
				h := got.HDUs[q+1].Header
				if v, _ := h.String("DETSEC"); v != c.detsec[q] {
					t.Errorf("%s DETSEC %s, want %s", got.HDUs[q+1].Name(), v, c.detsec[q])
				}
				if v, _ := h.String("CCDSEC"); v != c.detsec[q] {
					t.Errorf("%s CCDSEC %s, want %s", got.HDUs[q+1].Name(), v, c.detsec[q])
				}
				if _, err := h.String("MODSQUAD"); err != nil {
					t.Errorf("%s: %v", got.HDUs[q+1].Name(), err)
				}
			}
			p := got.HDUs[0].Header
			if v, _ := p.String("CCDROI"); v != c.ccdroi {
				t.Errorf("CCDROI %s, want %s", v, c.ccdroi)
			}
			if x, _ := p.Int("CCDXBIN"); x != c.xbin {
				t.Errorf("CCDXBIN %d", x)
			}
			if y, _ := p.Int("CCDYBIN"); y != c.ybin {
				t.Errorf("CCDYBIN %d", y)
			}
			m := got.HDUs[6].Header
			mx, _ := m.Int("NAXIS1")
			my, _ := m.Int("NAXIS2")
			if mx != c.mergedX || my != c.mergY {
				t.Errorf("MERGED %d×%d, want %d×%d", mx, my, c.mergedX, c.mergY)
			}
		})
	}
}

// TestUnbinnedLTV checks the dataMan LTV values for unbinned frames and
// consistent fractional ones for binned frames.
func TestLTV(t *testing.T) {
	out, _ := condition(t, genRaw(t, frame(t, "mods1b", 1, "1kx1k")), t.TempDir(), opts())
	f, _ := fits.Open(out)
	defer f.Close()
	want := map[int][2]string{1: {"-3634.0", "-1032.0"}, 2: {"4659", "-1032.0"}, 3: {"-3634.0", "-1544"}, 4: {"4659", "-1544"}}
	for q, w := range want {
		h := f.HDUs[q].Header
		c1, _ := h.Get("LTV1")
		c2, _ := h.Get("LTV2")
		if c1.ValueString() != w[0] || c2.ValueString() != w[1] {
			t.Errorf("IM%d LTV %s %s, want %s %s", q, c1.ValueString(), c2.ValueString(), w[0], w[1])
		}
	}
	out, _ = condition(t, genRaw(t, frame(t, "mods1b", 1, "full-2x2")), t.TempDir(), opts())
	f2, _ := fits.Open(out)
	defer f2.Close()
	// IM2 pixel 1 is centred on detector columns 8292 and 8291: 8291.5.
	h := f2.HDUs[2].Header
	ltv1, _ := h.Float("LTV1")
	ltm, _ := h.Float("LTM1_1")
	if got := ltm*8291.5 + ltv1; got != 1 {
		t.Errorf("IM2 binned: detector x 8291.5 maps to image x %g, want 1 (LTM %g, LTV %g)", got, ltm, ltv1)
	}
}

func TestConditionDeterministic(t *testing.T) {
	raw := genRaw(t, frame(t, "mods1r", 3, "1kx1k"))
	a, _ := condition(t, raw, t.TempDir(), opts())
	b, _ := condition(t, raw, t.TempDir(), opts())
	if sha(t, a) != sha(t, b) {
		t.Fatal("two conditionings of one raw file differ")
	}
}

func TestRefusesConditioned(t *testing.T) {
	out, _ := condition(t, genRaw(t, frame(t, "mods1b", 2, "1k-2x2")), t.TempDir(), opts())
	in, err := fits.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	_, err = fits.Condition(in, io.Discard, opts())
	if !errors.Is(err, fits.ErrConditioned) {
		t.Fatalf("conditioning a conditioned file: %v", err)
	}
}

func TestPrimaryFixes(t *testing.T) {
	f := frame(t, "mods1b", 4, "1k-2x2")
	out, res := condition(t, genRaw(t, f), t.TempDir(), opts())
	got, _ := fits.Open(out)
	defer got.Close()
	p := got.HDUs[0].Header
	str := func(k string) string {
		c, ok := p.Get(k)
		if !ok {
			t.Errorf("%s missing", k)
			return ""
		}
		return c.ValueString()
	}
	dateObs := str("DATE-OBS")
	if !strings.Contains(dateObs, "T") || strings.Count(dateObs, "T") != 1 {
		t.Errorf("DATE-OBS %q", dateObs)
	}
	if res.UniqName != str("UNIQNAME") || !strings.HasPrefix(res.UniqName, "mods1b.") {
		t.Errorf("UNIQNAME %q / %q", res.UniqName, str("UNIQNAME"))
	}
	for k, want := range map[string]string{
		"IMAGETYP": strings.ToUpper(f.ImageType), "LBTWLINK": "Up", "OBJRADEC": "FK5", "GUINAME": "None",
		"NONSIDER": "F", "NSTYPE": "None", "NSEPHFIL": "None", "DMVERS": testVersion, "DMCONFIG": "sha256:test",
	} {
		if got := str(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"MJD-OBS", "HJD-OBS", "BJD-OBS", "ARCHTEMP", "ZD"} {
		if _, err := p.Float(k); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	if p.Has("NEXTEND") {
		t.Error("NEXTEND kept")
	}
	// dataMan appends its new cards in this order.
	order := []string{"UNIQNAME", "MJD-OBS", "HJD-OBS", "BJD-OBS", "ARCHTEMP", "ZD", "CCDROI", "CCDXBIN", "CCDYBIN",
		"OBJNAME", "OBJRADEC", "OBJEQUIN", "OBJEPOCH", "GUINAME", "GUIRADEC", "GUIEQUIN", "GUIPMRA", "GUIPMDEC", "GUIEPOCH",
		"DMVERS", "DMCONFIG", "CHECKSUM", "DATASUM"}
	last := -1
	for _, k := range order {
		i := p.Index(k)
		if i <= last {
			t.Errorf("%s at card %d, not after card %d", k, i, last)
		}
		last = i
	}
	// MODS1: the CCD is TEMPB, the base TEMPA.
	cp := conpars(t, got)
	for key, sensor := range map[string]string{"CCDTEMP": "MOD10/TEMPB", "BASETEMP": "MOD10/TEMPA", "ARCHTEMP": "BACKPLANE_TEMP"} {
		want, err := strconv.ParseFloat(cp[sensor], 64)
		if v, _ := p.Float(key); err != nil || v != want {
			t.Errorf("%s = %v, want %s = %q", key, v, sensor, cp[sensor])
		}
	}
	// MERGED carries the processed primary, without provenance.
	m := got.HDUs[6].Header
	for _, k := range []string{"UNIQNAME", "DATE-OBS", "MJD-OBS", "OBJNAME", "Q1BIAS", "Q4STD", "EXTNAME"} {
		if !m.Has(k) {
			t.Errorf("MERGED lacks %s", k)
		}
	}
	if m.Has("DMVERS") || m.Has("SIMPLE") || m.Has("EXTEND") {
		t.Error("MERGED copies cards it must not")
	}
	if a, b := str("DATE-OBS"), func() string { c, _ := m.Get("DATE-OBS"); return c.ValueString() }(); a != b {
		t.Errorf("MERGED DATE-OBS %q differs from primary %q", b, a)
	}
}

// conpars decodes the two 20A columns of CONPARS independently of the
// package's table reader.
func conpars(t *testing.T, f *fits.File) map[string]string {
	t.Helper()
	h := f.HDUs[5]
	data, _ := io.ReadAll(f.Data(h))
	width, _ := h.Header.Int("NAXIS1")
	out := map[string]string{}
	for r := int64(0); r*width < int64(len(data)); r++ {
		row := data[r*width : (r+1)*width]
		out[strings.TrimRight(strings.Trim(string(row[:20]), "\x00"), " ")] = strings.TrimRight(strings.Trim(string(row[20:40]), "\x00"), " ")
	}
	return out
}

func TestStepsOff(t *testing.T) {
	raw := genRaw(t, frame(t, "mods2b", 5, "1k-2x2"))
	out, res := condition(t, raw, t.TempDir(), fits.Options{Version: testVersion})
	got, _ := fits.Open(out)
	defer got.Close()
	in, _ := fits.Open(raw)
	defer in.Close()
	if len(got.HDUs) != 6 || res.HDUs != 6 {
		t.Fatalf("%d HDUs with makeOTM off", len(got.HDUs))
	}
	// With every step off only UNIQNAME, provenance and checksums are added.
	added := map[string]bool{}
	for _, c := range got.HDUs[0].Header.Cards {
		if !in.HDUs[0].Header.Has(c.Key) && !c.IsCommentary() {
			added[c.Key] = true
		}
	}
	for _, k := range []string{"UNIQNAME", "DMVERS", "DMCONFIG", "CHECKSUM", "DATASUM"} {
		if !added[k] {
			t.Errorf("%s not added", k)
		}
		delete(added, k)
	}
	if len(added) != 0 {
		t.Errorf("steps off but cards added: %v", added)
	}
	if d1, _ := got.HDUs[1].Header.String("DETSEC"); d1 != func() string { s, _ := in.HDUs[1].Header.String("DETSEC"); return s }() {
		t.Error("DETSEC changed with fixDETSEC off")
	}
}

// TestRawHash: the raw file's SHA-256 is reported when asked for, and is
// the hash of the file's bytes.
func TestRawHash(t *testing.T) {
	raw := genRaw(t, frame(t, "mods1b", 8, "1k-2x2"))
	o := opts()
	_, res := condition(t, raw, t.TempDir(), o)
	if res.RawSHA256 != "" {
		t.Fatalf("raw hash computed without HashRaw: %s", res.RawSHA256)
	}
	o.HashRaw = true
	_, res = condition(t, raw, t.TempDir(), o)
	want := sha(t, raw)
	if res.RawSHA256 != hex.EncodeToString(want[:]) {
		t.Fatalf("raw hash %s, want %x", res.RawSHA256, want)
	}
}

// TestCheckMergedExt: MERGED must be extension 6, where modsDisp and
// modsAlign read it.
func TestCheckMergedExt(t *testing.T) {
	raw := genRaw(t, frame(t, "mods1b", 3, "1k-2x2"))
	out, _ := condition(t, raw, t.TempDir(), opts())
	f, err := fits.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := fits.CheckMergedExt(f.HDUs); err != nil {
		t.Errorf("a conditioned file: %v", err)
	}
	noOTM := opts()
	noOTM.MakeOTM = false
	out, _ = condition(t, raw, t.TempDir(), noOTM)
	g, err := fits.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := fits.CheckMergedExt(g.HDUs); !errors.Is(err, fits.ErrNoMerged) {
		t.Errorf("makeOTM off: %v, want ErrNoMerged", err)
	}

	named := func(names ...string) []*fits.HDU {
		var hdus []*fits.HDU
		for i, n := range names {
			h := &fits.Header{}
			if i > 0 {
				h.Append(fits.StringCard("EXTNAME", n, ""))
			}
			hdus = append(hdus, &fits.HDU{Index: i, Header: h})
		}
		return hdus
	}
	for _, c := range []struct {
		hdus []*fits.HDU
		want string // "" for no error
	}{
		{named("", "IM1", "IM2", "IM3", "IM4", "CONPARS", "MERGED"), ""},
		{named("", "IM1", "IM2", "IM3", "IM4", "CONPARS", "Merged"), ""},
		{named("", "IM1", "IM2", "IM3", "IM4", "CONPARS", "EXTRA", "MERGED"), "MERGED is extension 7, not 6"},
		{named("", "IM1", "IM2", "IM3", "IM4", "MERGED"), "MERGED is extension 5, not 6"},
		{named("", "IM1", "IM2", "IM3", "IM4", "CONPARS", "MERGED", "MERGED"), "MERGED is extensions 6, 7"},
		{named("", "IM1", "IM2", "IM3", "IM4", "CONPARS"), "no MERGED extension"},
	} {
		err := fits.CheckMergedExt(c.hdus)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%d HDUs: %v", len(c.hdus), err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%d HDUs: error %v, want one containing %q", len(c.hdus), err, c.want)
		}
	}
}
