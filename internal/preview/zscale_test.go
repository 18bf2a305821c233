package preview

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/fits/synth"
)

const python = "/usr/bin/python3"

// requireAstropy skips without Debian's astropy on a workstation; in CI
// (CI=true) it must be there, as in fits/interop_test.go.
func requireAstropy(t *testing.T) {
	t.Helper()
	if err := exec.Command(python, "-c", "import astropy.visualization, numpy").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("Debian's python3-astropy is missing; .ci/run must install it")
		}
		t.Skip("astropy not installed for " + python)
	}
}

func astropyLimits(t *testing.T, script string) (lo, hi float64) {
	t.Helper()
	out, err := exec.Command(python, "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("astropy: %v\n%s", err, out)
	}
	if _, err := fmt.Sscan(string(out), &lo, &hi); err != nil {
		t.Fatalf("astropy printed %q: %v", out, err)
	}
	return lo, hi
}

func close6(a, b float64) bool {
	return math.Abs(a-b) <= 1e-6*max(math.Abs(a), math.Abs(b), 1e-30)
}

func testImages() map[string][]float32 {
	rng := rand.New(rand.NewPCG(1, 2))
	imgs := map[string][]float32{}
	mk := func(name string, n int, f func(i int) float32) {
		v := make([]float32, n)
		for i := range v {
			v[i] = f(i)
		}
		imgs[name] = v
	}
	mk("noise", 512*300, func(int) float32 { return float32(1000 + 20*rng.NormFloat64()) })
	mk("stars", 777*313, func(i int) float32 {
		v := 500 + 10*rng.NormFloat64() + float64(i%777)*0.05
		if rng.IntN(200) == 0 {
			v += 5e4 * rng.Float64()
		}
		return float32(v)
	})
	mk("nans", 401*257, func(i int) float32 {
		if i%97 == 3 || i < 5000 {
			return float32(math.NaN())
		}
		if i%1001 == 0 {
			return float32(math.Inf(1))
		}
		return float32(100 + 3*rng.NormFloat64())
	})
	mk("tiny", 37, func(int) float32 { return float32(rng.NormFloat64()) })
	mk("flat", 4000, func(int) float32 { return 7 })
	mk("steps", 3001, func(i int) float32 { return float32(i / 500) })
	return imgs
}

// TestZScaleAstropy compares the limits with astropy's
// ZScaleInterval().get_limits on the same float32 values.
func TestZScaleAstropy(t *testing.T) {
	requireAstropy(t)
	dir := t.TempDir()
	for name, v := range testImages() {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".f32")
			b := make([]byte, 4*len(v))
			for i, x := range v {
				binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			wlo, whi := astropyLimits(t, fmt.Sprintf(`import numpy as np
from astropy.visualization import ZScaleInterval
lo, hi = ZScaleInterval().get_limits(np.fromfile(%q, dtype="<f4"))
print(repr(float(lo)), repr(float(hi)))`, path))
			lo, hi, ok := DefaultZScale.Limits(v)
			if !ok || !close6(lo, wlo) || !close6(hi, whi) {
				t.Errorf("limits %g, %g (ok %v); astropy %g, %g", lo, hi, ok, wlo, whi)
			}
		})
	}
}

// TestWriteAstropy draws the previews of a conditioned synthetic frame and
// compares the limits with astropy's on extension 6 read by astropy.io.fits.
func TestWriteAstropy(t *testing.T) {
	requireAstropy(t)
	stored := conditioned(t, "1kx1k")
	res, err := Write(stored, Options{})
	if err != nil {
		t.Fatal(err)
	}
	wlo, whi := astropyLimits(t, fmt.Sprintf(`from astropy.io import fits
from astropy.visualization import ZScaleInterval
lo, hi = ZScaleInterval().get_limits(fits.getdata(%q, 6))
print(repr(float(lo)), repr(float(hi)))`, stored))
	if !close6(res.Lo, wlo) || !close6(res.Hi, whi) {
		t.Errorf("limits %g, %g; astropy %g, %g", res.Lo, res.Hi, wlo, whi)
	}
}

// conditioned writes a conditioned synthetic frame of mode and returns its path.
func conditioned(tb testing.TB, mode string) string {
	tb.Helper()
	dir := tb.TempDir()
	raw, err := synth.WriteFile(dir, synth.Default("mods1b", 1, mode))
	if err != nil {
		tb.Fatal(err)
	}
	in, err := fits.Open(raw)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	path := filepath.Join(dir, "stored.fits")
	out, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer out.Close()
	if _, err := fits.Condition(in, out, fits.AllSteps("test", "sha256:test")); err != nil {
		tb.Fatal(err)
	}
	return path
}
