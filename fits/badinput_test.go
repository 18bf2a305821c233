package fits_test

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/fits/synth"
)

// edit rewrites a raw file HDU by HDU: headers go through hdr, and HDUs for
// which keep returns false are dropped. Data are copied, cut to the size
// the edited header declares.
func edit(t *testing.T, src string, keep func(i int) bool, hdr func(i int, h *fits.Header)) string {
	t.Helper()
	in, err := fits.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := fits.NewWriter(f)
	for i, h := range in.HDUs {
		if keep != nil && !keep(i) {
			continue
		}
		hh := h.Header.Clone()
		if hdr != nil {
			hdr(i, hh)
		}
		n := h.DataSize
		if naxis, _ := hh.Int("NAXIS"); naxis == 2 {
			x, _ := hh.Int("NAXIS1")
			y, _ := hh.Int("NAXIS2")
			bp, _ := hh.Int("BITPIX")
			n = min(n, x*y*max(bp, -bp)/8)
		}
		err := w.WritePlainHDU(hh, n, func(dst io.Writer) error {
			_, err := io.Copy(dst, io.LimitReader(in.Data(h), n))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// withExtraHDU returns the bytes of a raw file with its last HDU (CONPARS)
// repeated at the end, as a sixth extension.
func withExtraHDU(t *testing.T, src string) []byte {
	t.Helper()
	in, err := fits.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	last := in.HDUs[len(in.HDUs)-1]
	return append(b, b[last.Start:last.End()]...)
}

func TestBadInput(t *testing.T) {
	good := genRaw(t, synth.Default("mods1b", 9, "1k-2x2"))
	goodBytes, _ := os.ReadFile(good)
	write := func(name string, b []byte) string {
		p := filepath.Join(t.TempDir(), name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	del := func(idx int, key string) func(int, *fits.Header) {
		return func(i int, h *fits.Header) {
			if i == idx {
				h.Delete(key)
			}
		}
	}
	noEndAll := strings.Replace(string(goodBytes), "END"+strings.Repeat(" ", 77), "XND"+strings.Repeat(" ", 77), 1)
	noEnd := strings.Replace(string(goodBytes[:2880*4]), "END"+strings.Repeat(" ", 77), "XND"+strings.Repeat(" ", 77), 1)
	cases := []struct {
		name string
		path string
		want []string // the error must name the step and the reason
	}{
		{"not FITS", write("notes.fits", []byte(strings.Repeat("not a fits file\n", 400))), []string{"read", "not a FITS file"}},
		{"empty", write("empty.fits", nil), []string{"read", "empty"}},
		{"truncated", write("cut.fits", goodBytes[:len(goodBytes)*2/3]), []string{"read", "truncated"}},
		{"no END", write("noend.fits", []byte(noEnd)), []string{"read", "hdu 0", "no END card"}},
		{"no END, whole file", write("noend-all.fits", []byte(noEndAll)), []string{"read", "hdu 0", "no END card", "XTENSION"}},
		{"4 extensions", edit(t, good, func(i int) bool { return i < 5 }, nil), []string{"check", "4 extensions"}},
		{"6 extensions", write("extra.fits", withExtraHDU(t, good)), []string{"check", "6 extensions", "MERGED would be extension 7"}},
		{"quadrants differ", edit(t, good, nil, func(i int, h *fits.Header) {
			if i == 3 {
				y, _ := h.Int("NAXIS2")
				h.Set(fits.IntCard("NAXIS2", y-1, ""))
			}
		}), []string{"geometry", "quadrants differ"}},
		{"no REF-PIX1", edit(t, good, nil, del(0, "REF-PIX1")), []string{"geometry", "REF-PIX1"}},
		{"no OVRSCAN1", edit(t, good, nil, del(1, "OVRSCAN1")), []string{"geometry", "OVRSCAN1"}},
		{"no INSTRUME", edit(t, good, nil, del(0, "INSTRUME")), []string{"check", "INSTRUME"}},
		{"CONPARS without columns", edit(t, good, nil, del(5, "TTYPE1")), []string{"fixTemps", "Keyword and Value"}},
		{"CONPARS not a table", edit(t, good, nil, func(i int, h *fits.Header) {
			if i == 5 {
				h.Set(fits.StringCard("TFORM2", "20Z", ""))
			}
		}), []string{"fixTemps", "TFORM2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, _ := os.ReadFile(c.path)
			var err error
			in, err := fits.Open(c.path)
			if err == nil {
				_, err = fits.Condition(in, io.Discard, opts())
				in.Close()
				if err == nil {
					t.Fatal("conditioned without error")
				}
			} else {
				err = &fits.StepError{Step: "read", Err: err}
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			after, _ := os.ReadFile(c.path)
			if string(before) != string(after) {
				t.Error("input changed")
			}
		})
	}
}

// TestNoCCDSUM: a raw file whose IM1 has no CCDSUM is conditioned, without
// CCDXBIN and CCDYBIN (as dataMan) and with a warning.
func TestNoCCDSUM(t *testing.T) {
	raw := edit(t, genRaw(t, synth.Default("mods1b", 9, "1kx1k")), nil, func(i int, h *fits.Header) {
		if i == 1 {
			h.Delete("CCDSUM")
		}
	})
	out, res := condition(t, raw, t.TempDir(), opts())
	f, err := fits.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, i := range []int{0, 6} {
		if h := f.HDUs[i].Header; h.Has("CCDXBIN") || h.Has("CCDYBIN") {
			t.Errorf("%s has CCDXBIN or CCDYBIN", f.HDUs[i].Name())
		}
	}
	if w := strings.Join(res.Warnings, "; "); !strings.Contains(w, "CCDXBIN and CCDYBIN not written") {
		t.Errorf("warnings %q", w)
	}
}

// TestNoExposureStart: a frame whose header gives no exposure start is
// delivered as dataMan delivers it: the times that cannot be computed are
// left out with a warning giving the reason, and UNIQNAME is named after the
// raw primary header, so conditioning twice gives the same bytes.
func TestNoExposureStart(t *testing.T) {
	good := genRaw(t, synth.Default("mods1b", 11, "1k-2x2"))
	set := func(cards ...fits.Card) func(int, *fits.Header) {
		return func(i int, h *fits.Header) {
			if i == 0 {
				for _, c := range cards {
					h.Set(c)
				}
			}
		}
	}
	del := func(key string) func(int, *fits.Header) {
		return func(i int, h *fits.Header) {
			if i == 0 {
				h.Delete(key)
			}
		}
	}
	hashed := regexp.MustCompile(`^mods1b\.[0-9a-f]{12}\.fits$`)
	cases := []struct {
		name    string
		hdr     func(int, *fits.Header)
		why     string // in the warnings
		dateObs string // "" for the raw value, unchanged
		uniq    *regexp.Regexp
	}{
		{"no DATE-OBS", del("DATE-OBS"), "missing keyword DATE-OBS", "", hashed},
		{"no UTC-OBS", del("UTC-OBS"), "missing keyword UTC-OBS", "", hashed},
		{"garbage UTC-OBS", set(fits.StringCard("UTC-OBS", "garbage", "")), `UTC-OBS "garbage"`, "", hashed},
		// astropy reads it as the next second: so did dataMan for MJD-OBS.
		{"second 60 with no leap second", set(fits.StringCard("DATE-OBS", "2026-01-19", ""), fits.StringCard("UTC-OBS", "23:59:60.000", "")),
			"second 60", "2026-01-20T00:00:00.000", regexp.MustCompile(`^mods1b\.20260120\.000000\.fits$`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := edit(t, good, nil, c.hdr)
			in, _ := fits.Open(raw)
			rawDate := ""
			if v, err := in.HDUs[0].Header.String("DATE-OBS"); err == nil {
				rawDate = v
			}
			in.Close()
			out, res := condition(t, raw, t.TempDir(), opts())
			again, _ := condition(t, raw, t.TempDir(), opts())
			if sha(t, out) != sha(t, again) {
				t.Error("two conditionings differ")
			}
			if !c.uniq.MatchString(res.UniqName) {
				t.Errorf("UNIQNAME %q, want %s", res.UniqName, c.uniq)
			}
			w := strings.Join(res.Warnings, "; ")
			if !strings.Contains(w, c.why) {
				t.Errorf("warnings %q do not give the reason %q", w, c.why)
			}
			f, err := fits.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if len(f.HDUs) != 7 {
				t.Fatalf("%d HDUs", len(f.HDUs))
			}
			for _, i := range []int{0, 6} {
				h := f.HDUs[i].Header
				if u, _ := h.String("UNIQNAME"); u != res.UniqName {
					t.Errorf("%s UNIQNAME %q, want %q", f.HDUs[i].Name(), u, res.UniqName)
				}
				want := c.dateObs
				if want == "" {
					want = rawDate
				}
				if d, _ := h.String("DATE-OBS"); d != want {
					t.Errorf("%s DATE-OBS %q, want %q", f.HDUs[i].Name(), d, want)
				}
				if computed := c.dateObs != ""; h.Has("MJD-OBS") != computed || h.Has("HJD-OBS") != computed || h.Has("BJD-OBS") != computed {
					t.Errorf("%s: MJD-OBS %v, HJD-OBS %v, BJD-OBS %v, want %v", f.HDUs[i].Name(), h.Has("MJD-OBS"), h.Has("HJD-OBS"), h.Has("BJD-OBS"), computed)
				}
			}
		})
	}
}
