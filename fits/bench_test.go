package fits_test

import (
	"io"
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
	out := filepath.Join(b.TempDir(), "out.fits")
	benchCondition(b, func() (io.Writer, func()) {
		// A fresh file each time, as the delivery path writes a new temp:
		// truncating the last output would wait for its writeback.
		os.Remove(out)
		f, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		return f, func() { f.Close() }
	})
}

// BenchmarkConditionFullCompute is BenchmarkConditionFull without the
// output file: dataman's own work (reading, fixing, bias statistics,
// merging, checksums) without the kernel's page cache.
func BenchmarkConditionFullCompute(b *testing.B) {
	benchCondition(b, func() (io.Writer, func()) { return io.Discard, func() {} })
}

// BenchmarkConditionFullHashRaw is BenchmarkConditionFullCompute with the
// raw file's SHA-256, as the delivery path asks for it for the ledger.
func BenchmarkConditionFullHashRaw(b *testing.B) {
	benchCondition(b, func() (io.Writer, func()) { return io.Discard, func() {} }, func(o *fits.Options) { o.HashRaw = true })
}

// benchCondition conditions a generated full frame b.N times into the
// sinks newSink returns, with every step on and the options edited.
func benchCondition(b *testing.B, newSink func() (io.Writer, func()), edit ...func(*fits.Options)) {
	raw, err := synth.WriteFile(b.TempDir(), synth.Default("mods1b", 1, "full"))
	if err != nil {
		b.Fatal(err)
	}
	o := fits.AllSteps("bench", "sha256:bench")
	for _, e := range edit {
		e(&o)
	}
	var size int64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		in, err := fits.Open(raw)
		if err != nil {
			b.Fatal(err)
		}
		sink, done := newSink()
		res, err := fits.Condition(in, sink, o)
		if err != nil {
			b.Fatal(err)
		}
		done()
		in.Close()
		size = res.OutSize
	}
	b.SetBytes(size)
}
