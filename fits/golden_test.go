package fits_test

import (
	"encoding/binary"
	"encoding/hex"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/obsdata/dataman/fits"
)

// goldenSums are the SHA-256s of conditioned synthetic frames as the writer
// that sought back to rewrite each header produced them (commit 6ca31e4).
// The sequential writer must give the same bytes: a change here is a change
// of every file the archive would receive.
var goldenSums = []struct {
	name, channel, mode string
	seq                 int
	legacy              bool
	bitpix              int64 // 0: the synthetic raw file as written (16)
	otmOff              bool
	sum                 string
}{
	{"1kx1k", "mods1b", "1kx1k", 11, false, 0, false, "b1e7cbb16716d514ea6098bab67645b750e50b21ff86e26f8576ea14c95250e6"},
	{"1k-2x2", "mods2r", "1k-2x2", 12, false, 0, false, "bbaebafea0e8dbcfabcb001d45d42bfbe8ebd4ad0575d8fe45103de485c23779"},
	{"3kx3k", "mods1r", "3kx3k", 13, false, 0, false, "545cfb26e79fb6434e23d869f2aed58771e8debf522b9d3e8a58909c20bf6609"},
	{"4kx3k", "mods2b", "4kx3k", 14, false, 0, false, "936f9e7c22308efac19f35ca2babc05b80e4dfb364a378d04f61c16832bad00b"},
	{"full-2x2", "mods1b", "full-2x2", 15, false, 0, false, "4b9b65aa0f39cf90decff64250e22c8bf43af8df70a1091baba0b40e3ae067cc"},
	{"full", "mods1b", "full", 16, false, 0, false, "8f3bdb58e2676fe311cbedbef515adcecab8eb02c69ae80fb288553ccfd1e102"},
	{"legacy-1kx1k", "mods2r", "1kx1k", 17, true, 0, false, "3343da5b67107d050abbb213e73ef088532785e8866dbaf323f0aae5bd93a1e9"},
	{"makeOTM-off", "mods1r", "1k-2x2", 18, false, 0, true, "9646338e89fa25320c951be90b032f93eca2f250717c29b83b241ef10efca4e7"},
	{"bitpix32", "mods1b", "1k-2x2", 19, false, 32, false, "2a122012081a010e8a7e1abaeaf2d2be2bc0f84d1cb6f67b342e3503d4000403"},
	{"bitpix-64", "mods2r", "1k-2x2", 21, false, -64, false, "9e4eb1c4442915085aeecf6f9fc8ee12d4a42d1b121f75fe3f04e69c7887b8a4"},
	{"bitpix-32", "mods2b", "1k-2x2", 20, false, -32, false, "eac24ecc5d013ccae5843274e0a53221c443de21f450bf8fa371a63e56cc57ff"},
}

func TestGoldenOutputs(t *testing.T) {
	for _, c := range goldenSums {
		t.Run(c.name, func(t *testing.T) {
			f := frame(t, c.channel, c.seq, c.mode)
			f.Legacy = c.legacy
			raw := genRaw(t, f)
			if c.bitpix != 0 {
				raw = widenQuadrants(t, raw, c.bitpix)
			}
			o := opts()
			o.MakeOTM = !c.otmOff
			out, _ := condition(t, raw, t.TempDir(), o)
			got := sha(t, out)
			if hex.EncodeToString(got[:]) != c.sum {
				t.Errorf("conditioned %s: sha256 %x, want %s", c.name, got, c.sum)
			}
		})
	}
}

// widenQuadrants rewrites a raw file with its quadrants stored as BITPIX
// 32, -32 or -64 holding the same physical values, the formats MODS never writes
// but the merge accepts.
func widenQuadrants(t *testing.T, src string, bitpix int64) string {
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
		hh := h.Header.Clone()
		data, err := io.ReadAll(in.Data(h))
		if err != nil {
			t.Fatal(err)
		}
		if i >= 1 && i <= 4 {
			hh.Set(fits.IntCard("BITPIX", bitpix, "array data type"))
			size := int(max(bitpix, -bitpix) / 8)
			wide := make([]byte, size/2*len(data))
			for k := 0; k < len(data)/2; k++ {
				v := int16(binary.BigEndian.Uint16(data[2*k:]))
				switch bitpix {
				case 32:
					binary.BigEndian.PutUint32(wide[size*k:], uint32(int32(v)))
				case -32:
					binary.BigEndian.PutUint32(wide[size*k:], math.Float32bits(float32(v)))
				case -64:
					binary.BigEndian.PutUint64(wide[size*k:], math.Float64bits(float64(v)))
				}
			}
			data = wide
		}
		err = w.WritePlainHDU(hh, int64(len(data)), func(dst io.Writer) error {
			_, err := dst.Write(data)
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
