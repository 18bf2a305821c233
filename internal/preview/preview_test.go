package preview

import (
	"image/png"
	"os"
	"testing"
)

func TestWriteSizes(t *testing.T) {
	stored := conditioned(t, "1kx1k")
	for _, asinh := range []bool{false, true} {
		res, err := Write(stored, Options{Asinh: asinh})
		if err != nil {
			t.Fatal(err)
		}
		for path, side := range map[string]int{res.Preview: 1024 / 4, res.Thumb: 200} {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := png.DecodeConfig(f)
			f.Close()
			if err != nil {
				t.Fatal(path, err)
			}
			if long := max(cfg.Width, cfg.Height); long > side+side/8 || long < side/2 {
				t.Errorf("%s: %d×%d, about %d on the longer side expected", path, cfg.Width, cfg.Height, side)
			}
		}
	}
}

// BenchmarkFull draws both previews of a synthetic full frame's MERGED
// (compare with go test ./fits -run '^$' -bench ConditionFull).
func BenchmarkFull(b *testing.B) {
	stored := conditioned(b, "full")
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := Write(stored, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
