package fits_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/astrogo/fitsio"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/fits/synth"
)

// requireTool finds an independent reader. On a developer machine without
// it the test is skipped; in CI (CI=true) a missing tool is a failure,
// because .ci/run installs it.
func requireTool(t *testing.T, path string) {
	t.Helper()
	if _, err := exec.LookPath(path); err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing; .ci/run must install it", path)
	}
	t.Skipf("%s not installed", path)
}

const python = "/usr/bin/python3"

func requireAstropy(t *testing.T) {
	requireTool(t, python)
	if err := exec.Command(python, "-c", "import astropy, numpy").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("Debian's python3-astropy is missing; .ci/run must install it")
		}
		t.Skip("astropy not installed for " + python)
	}
}

// interopFrames are the conditioned files the independent readers check:
// both instruments, every kind of geometry, binned and legacy.
func interopFrames(t *testing.T) []synth.Frame {
	var out []synth.Frame
	for i, c := range []struct {
		channel, mode string
		legacy        bool
	}{
		{"mods1b", "1kx1k", false},
		{"mods2r", "1k-2x2", false},
		{"mods1r", "full-2x2", false},
		{"mods2b", "3kx3k", false},
		{"mods2r", "1kx1k", true},
	} {
		f := frame(t, c.channel, 20+i, c.mode)
		f.Legacy = c.legacy
		out = append(out, f)
	}
	return out
}

func TestFitsverify(t *testing.T) {
	requireTool(t, "fitsverify")
	for _, f := range interopFrames(t) {
		out, _ := condition(t, genRaw(t, f), t.TempDir(), opts())
		res, err := exec.Command("fitsverify", "-q", out).CombinedOutput()
		if err != nil || !bytes.Contains(res, []byte("verification OK")) {
			t.Errorf("fitsverify -q %s (%s): %v\n%s", f.Name(), f.Mode.Name, err, res)
		}
	}
}

type reference struct {
	HDUs []struct {
		Name  string      `json:"name"`
		Cards [][3]string `json:"cards"`
	} `json:"hdus"`
	ChecksumsOK     bool         `json:"checksums_ok"`
	MergedShape     []int        `json:"merged_shape"`
	MergedIdentical bool         `json:"merged_identical"`
	QBiasExact      bool         `json:"qbias_exact"`
	QStdMaxRel      float64      `json:"qstd_maxrel"`
	RawUnchanged    bool         `json:"raw_quadrants_unchanged"`
	ConparsSame     bool         `json:"conpars_unchanged"`
	Probes          [][3]float64 `json:"probes"`
	Warnings        []string     `json:"warnings"`
}

// TestAstropyReference has astropy and numpy recompute dataMan's MERGED
// from the raw file and read every card of our output.
func TestAstropyReference(t *testing.T) {
	requireAstropy(t)
	script, _ := filepath.Abs("../testdata/interop/reference.py")
	for _, f := range interopFrames(t) {
		t.Run(f.Name()+"-"+f.Mode.Name, func(t *testing.T) {
			raw := genRaw(t, f)
			out, _ := condition(t, raw, t.TempDir(), opts())
			cmd := exec.Command(python, script, raw, out)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			js, err := cmd.Output()
			if err != nil {
				t.Fatalf("reference.py: %v\n%s", err, stderr.String())
			}
			var ref reference
			if err := json.Unmarshal(js, &ref); err != nil {
				t.Fatal(err)
			}
			if !ref.ChecksumsOK || !ref.MergedIdentical || !ref.QBiasExact || ref.QStdMaxRel > 1e-12 || !ref.RawUnchanged || !ref.ConparsSame {
				t.Fatalf("astropy disagrees: checksums %v merged %v qbias %v qstd %g raw %v conpars %v",
					ref.ChecksumsOK, ref.MergedIdentical, ref.QBiasExact, ref.QStdMaxRel, ref.RawUnchanged, ref.ConparsSame)
			}
			if len(ref.Warnings) > 0 {
				t.Errorf("astropy warned: %q", ref.Warnings)
			}
			got, err := fits.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Close()
			compareCards(t, got, ref)
			compareProbes(t, got, ref)
		})
	}
}

// compareCards checks that astropy reads the same cards, in the same order,
// with the same values and comments, as our own reader.
func compareCards(t *testing.T, got *fits.File, ref reference) {
	if len(ref.HDUs) != len(got.HDUs) {
		t.Fatalf("astropy sees %d HDUs, we see %d", len(ref.HDUs), len(got.HDUs))
	}
	for i, h := range got.HDUs {
		theirs := ref.HDUs[i].Cards
		ours := h.Header.Cards
		if len(theirs) != len(ours) {
			t.Errorf("%s: astropy reads %d cards, we read %d", h.Name(), len(theirs), len(ours))
			continue
		}
		for j, c := range ours {
			th := theirs[j]
			if th[0] != c.Key {
				t.Errorf("%s card %d: astropy %s, ours %s", h.Name(), j+1, th[0], c.Key)
				continue
			}
			if c.IsCommentary() {
				continue
			}
			if !sameValue(c, th[1]) || th[2] != c.Comment {
				t.Errorf("%s %s: astropy %q / %q, ours %q / %q", h.Name(), c.Key, th[1], th[2], c.ValueString(), c.Comment)
			}
		}
	}
}

func sameValue(c fits.Card, theirs string) bool {
	switch c.Kind {
	case fits.KindFloat, fits.KindInt:
		v, err := strconv.ParseFloat(theirs, 64)
		n, _ := c.Number()
		return err == nil && v == n
	}
	return c.ValueString() == theirs
}

// compareProbes decodes MERGED pixels with our reader at the places
// astropy reported.
func compareProbes(t *testing.T, got *fits.File, ref reference) {
	m := got.HDUs[6]
	nx, _ := m.Header.Int("NAXIS1")
	for _, p := range ref.Probes {
		r, c := int64(p[0]), int64(p[1])
		var b [4]byte
		if _, err := got.ReadAt(b[:], m.DataStart()+4*(r*nx+c)); err != nil {
			t.Fatal(err)
		}
		v := math.Float32frombits(binary.BigEndian.Uint32(b[:]))
		if float64(v) != p[2] {
			t.Errorf("MERGED[%d,%d]: astropy %v, ours %v", r, c, p[2], v)
		}
	}
}

// TestFitsioReads reads our output with astrogo/fitsio, a third reader.
func TestFitsioReads(t *testing.T) {
	f := frame(t, "mods1b", 30, "1k-2x2")
	out, res := condition(t, genRaw(t, f), t.TempDir(), opts())
	r, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ff, err := fitsio.Open(r)
	if err != nil {
		t.Fatalf("fitsio cannot open our output: %v", err)
	}
	defer ff.Close()
	if n := len(ff.HDUs()); n != 7 {
		t.Fatalf("fitsio sees %d HDUs", n)
	}
	img, ok := ff.Get("MERGED").(fitsio.Image)
	if !ok {
		t.Fatal("fitsio: MERGED is not an image")
	}
	if u := img.Header().Get("UNIQNAME"); u == nil || fmt.Sprint(u.Value) != res.UniqName {
		t.Errorf("fitsio UNIQNAME %v, want %s", u, res.UniqName)
	}
	axes := img.Header().Axes()
	pix := make([]float32, axes[0]*axes[1])
	if err := img.Read(&pix); err != nil {
		t.Fatal(err)
	}
	ours, err := fits.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	raw, _ := io.ReadAll(ours.Data(ours.HDUs[6]))
	if len(pix)*4 != len(raw) {
		t.Fatalf("fitsio reads %d pixels, data unit has %d bytes", len(pix), len(raw))
	}
	for i, v := range pix {
		if math.Float32bits(v) != binary.BigEndian.Uint32(raw[4*i:]) {
			t.Fatalf("pixel %d: fitsio %v differs from the bytes written", i, v)
		}
	}
}
