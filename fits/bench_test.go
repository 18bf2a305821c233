package fits_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/fits/synth"
)

// BenchmarkConditionFull conditions one full frame (4 × 4178×1544) end to
// end: open and scan the raw file, fix the headers, measure the bias, merge,
// and write the 7-HDU file with checksums to disk (page cache, no fsync:
// the delivery benchmark adds fsync). MB/s counts the bytes written.
//
//	go test ./fits -run '^$' -bench ConditionFull -benchmem -count 5
func BenchmarkConditionFull(b *testing.B) {
	dir := b.TempDir()
	raw, err := synth.WriteFile(dir, synth.Default("mods1b", 1, "full"))
	if err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(dir, "out.fits")
	o := fits.AllSteps("bench", "sha256:bench")
	var size int64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		in, err := fits.Open(raw)
		if err != nil {
			b.Fatal(err)
		}
		f, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		res, err := fits.Condition(in, f, o)
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
		in.Close()
		size = res.OutSize
	}
	b.SetBytes(size)
}
