package synth

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/obsdata/dataman/fits"
)

// Write writes the whole raw file: the primary header, the four quadrants
// and the CONPARS table, with no checksums, as azcam does.
func Write(dst io.Writer, f Frame) error {
	ch, g, err := f.check()
	if err != nil {
		return fmt.Errorf("synth: %s: %w", f.Name(), err)
	}
	rows, err := f.Conpars()
	if err != nil {
		return fmt.Errorf("synth: %s: %w", f.Name(), err)
	}
	w := fits.NewWriter(dst)
	if err := w.WritePlainHDU(primaryHeader(f, ch, g), 0, nil); err != nil {
		return fmt.Errorf("synth: %s: primary: %w", f.Name(), err)
	}
	s := newScene(f, g)
	for q := range 4 {
		qw := newQuadWriter(f, g, s, q)
		size := int64(2 * g.nx() * g.ny)
		if err := w.WritePlainHDU(extHeader(f, g, q), size, qw.writeTo); err != nil {
			return fmt.Errorf("synth: %s: quadrant %d: %w", f.Name(), q+1, err)
		}
	}
	table := func(wr io.Writer) error { return writeStatus(wr, rows) }
	if err := w.WritePlainHDU(conparsHeader(len(rows)), int64(2*statusWidth*len(rows)), table); err != nil {
		return fmt.Errorf("synth: %s: CONPARS: %w", f.Name(), err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("synth: %s: %w", f.Name(), err)
	}
	return nil
}

// WriteFile writes the frame as dir/<Name> and returns the path. Like azcam
// it never replaces an existing file; a failed write leaves no file behind.
func WriteFile(dir string, f Frame) (string, error) {
	path := filepath.Join(dir, f.Name())
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", fmt.Errorf("synth: %w", err)
	}
	err = Write(fh, f)
	if cerr := fh.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("synth: %w", cerr)
	}
	if err != nil {
		return "", errors.Join(err, os.Remove(path))
	}
	return path, nil
}
