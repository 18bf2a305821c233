package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/judge"
)

// verdict is what a check of a requested raw file found.
type verdict int

const (
	complete verdict = iota // for the delivery path, which records any other problem the file has
	notYet                  // missing or still being written: check again later
	refused                 // not a regular file in its raw folder: never delivered
)

// inspect checks the raw file of a request.
func inspect(dataDir string, n frame.Name) (verdict, error) {
	path, err := resolveRaw(dataDir, n)
	if errors.Is(err, fs.ErrNotExist) {
		return notYet, err // also what a stale NFS attribute cache shows for a new file
	}
	if err != nil {
		return refused, err
	}
	if err := checkRaw(path); errors.Is(err, errIncomplete) {
		return notYet, err
	}
	return complete, nil
}

// resolveRaw returns the raw file n in dataDir/<chan>/ after checking, by
// the judge's rule (judge.LookRaw), that it is a regular file there or a
// link to one there: a datagram names a file, never a place. A missing file
// gives an error wrapping fs.ErrNotExist.
func resolveRaw(dataDir string, n frame.Name) (string, error) {
	r := judge.LookRaw(judge.OSFS{}, frame.Layout{DataDir: dataDir}, n)
	switch r.State {
	case judge.RawPresent:
		return r.Path, nil
	case judge.RawGone:
		return "", &fs.PathError{Op: "stat", Path: r.Path, Err: fs.ErrNotExist}
	}
	return "", errors.New(r.Why)
}

// errIncomplete marks a raw file that is still being written, or that looks
// so through a stale NFS cache.
var errIncomplete = errors.New("raw file not complete")

// rawHDUs is the HDU count of a raw MODS file: the primary, IM1..IM4 and
// CONPARS. NEXTEND cannot say it, as azcam leaves it at 4.
const rawHDUs = 6

// checkRaw tells a complete raw file from one still being written: shorter
// than its headers say, fewer HDUs than a raw file has, or changing while
// looked at. It reads only the headers.
func checkRaw(path string) error {
	before, err := os.Stat(path)
	if err != nil {
		return err
	}
	if before.Size() < fits.BlockLen {
		return fmt.Errorf("%w: %d bytes", errIncomplete, before.Size())
	}
	f, err := fits.Open(path)
	if errors.Is(err, fits.ErrTruncated) {
		return fmt.Errorf("%w: %w", errIncomplete, err)
	}
	if err != nil {
		return err
	}
	hdus := len(f.HDUs)
	f.Close()
	after, err := os.Stat(path)
	if err != nil {
		return err
	}
	if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) {
		return fmt.Errorf("%w: changing (%d then %d bytes)", errIncomplete, before.Size(), after.Size())
	}
	if hdus < rawHDUs {
		return fmt.Errorf("%w: %d of %d HDUs", errIncomplete, hdus, rawHDUs)
	}
	return nil
}
