package verify

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// The Reader must hash every byte exactly once and in order whatever the
// order of the reads its user makes: a FITS scan reads headers ahead of the
// data, the checksum pass goes back to each header.
func TestReaderHashesWhateverTheReadOrder(t *testing.T) {
	data := randomBytes(3*1<<20+123, 1)
	want := sha256.Sum256(data)
	dir := t.TempDir()
	path := writeFile(t, dir, "a", data)
	patterns := map[string][][2]int64{
		"none":        nil,
		"sequential":  {{0, 1000}, {1000, 1 << 20}, {1<<20 + 1000, 2 << 20}},
		"ahead first": {{1 << 20, 100}, {2 << 20, 100}, {0, 2880}, {2880, 5000}},
		"overlapping": {{0, 100}, {50, 200}, {0, 5000}, {4000, 10000}},
		"backwards":   {{3 << 20, 123}, {2 << 20, 1 << 20}, {0, 1 << 20}},
		"beyond end":  {{int64(len(data)) - 10, 100}},
	}
	for name, reads := range patterns {
		t.Run(name, func(t *testing.T) {
			r, err := Open(path, "")
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			for _, rd := range reads {
				r.ReadAt(make([]byte, rd[1]), rd[0])
			}
			sum, err := r.Finish()
			if err != nil {
				t.Fatal(err)
			}
			if sum.SHA256 != hex.EncodeToString(want[:]) || sum.Size != int64(len(data)) {
				t.Errorf("sha256 %s size %d, want %x size %d", sum.SHA256, sum.Size, want, len(data))
			}
		})
	}
}

func TestReaderComparesTheOtherCopy(t *testing.T) {
	data := randomBytes(2<<20+7, 2)
	dir := t.TempDir()
	path := writeFile(t, dir, "a", data)
	flip := func(at int) []byte {
		b := append([]byte(nil), data...)
		b[at] ^= 0x40
		return b
	}
	tests := []struct {
		name      string
		other     []byte
		identical bool
		differAt  int64
	}{
		{"same", data, true, -1},
		{"first byte", flip(0), false, 0},
		{"last byte", flip(len(data) - 1), false, int64(len(data) - 1)},
		{"second chunk", flip(1<<20 + 5), false, 1<<20 + 5},
		{"shorter", data[:len(data)-1], false, int64(len(data) - 1)},
		{"longer", append(append([]byte(nil), data...), 0), false, int64(len(data))},
		{"empty", nil, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			other := writeFile(t, t.TempDir(), "b", tt.other)
			r, err := Open(path, other)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			r.ReadAt(make([]byte, 4096), 0)
			sum, err := r.Finish()
			if err != nil {
				t.Fatal(err)
			}
			if sum.Identical != tt.identical || sum.DifferAt != tt.differAt {
				t.Errorf("identical %v from %d, want %v from %d", sum.Identical, sum.DifferAt, tt.identical, tt.differAt)
			}
		})
	}
}

func TestReaderNoticesAFileThatShrank(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "a", randomBytes(10000, 3))
	r, err := Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := os.Truncate(path, 5000); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Finish(); err == nil {
		t.Fatal("Finish of a file cut short under it: no error")
	}
}
