package fits_test

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/obsdata/dataman/fits"
)

// changingFile serves a file's bytes, but from the changeFrom-th read that
// covers the byte at flip on, returns that byte changed: a raw file rewritten
// while it is conditioned.
type changingFile struct {
	b          []byte
	flip       int64
	changeFrom int
	reads      int
}

func (c *changingFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(c.b)) {
		return 0, io.EOF
	}
	n := copy(p, c.b[off:])
	if off <= c.flip && c.flip < off+int64(n) {
		c.reads++
		if c.reads >= c.changeFrom {
			p[c.flip-off] ^= 0x10
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (c *changingFile) Close() error { return nil }

// TestConditionRawChanged: a raw file that changes between the read that
// computes the DATASUMs and the read that writes the data fails, the error
// naming the step, the HDU and the reason.
func TestConditionRawChanged(t *testing.T) {
	raw := genRaw(t, frame(t, "mods1b", 9, "1k-2x2"))
	b, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	in, err := fits.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	in.Close()
	// The reads of a byte of the first row of a quadrant are the scan, the
	// copy, then (in the trimmed columns) the merge; CONPARS is read for
	// fixTemps first. A change from the read after the scan reaches the
	// output, and must fail the HDU named.
	for _, c := range []struct {
		hdu, changeFrom int
		want            string
	}{{0, 1, ""}, {1, 2, "IM1"}, {5, 3, "CONPARS"}, {3, 3, "MERGED"}, {1, 1, ""}} {
		h := in.HDUs[c.hdu]
		cf := &changingFile{b: b, flip: h.DataStart() + 1, changeFrom: c.changeFrom}
		if c.hdu == 0 {
			cf.flip = -1
		}
		f, err := fits.OpenReaderAt(raw, cf, int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		_, err = fits.Condition(f, io.Discard, opts())
		if c.want == "" {
			// Unchanged, or changed before the first read: a different
			// raw file, conditioned consistently.
			if err != nil {
				t.Errorf("HDU %d changed from read %d: %v", c.hdu, c.changeFrom, err)
			}
			continue
		}
		var se *fits.StepError
		if !errors.As(err, &se) || se.Step != "write" || !errors.Is(err, fits.ErrDatasum) ||
			!strings.HasPrefix(se.Err.Error(), c.want+": ") || !strings.Contains(err.Error(), "raw file changed") {
			t.Errorf("HDU %d changed from read %d: %v; want a write error for %s", c.hdu, c.changeFrom, err, c.want)
		}
	}
}
