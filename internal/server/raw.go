package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/internal/frame"
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

// resolveRaw returns the raw file n in dataDir/<chan>/ after checking that
// it is a regular file there, even through symbolic links: a datagram names
// a file, never a place. A missing file gives an error wrapping
// fs.ErrNotExist.
func resolveRaw(dataDir string, n frame.Name) (string, error) {
	dir := filepath.Join(dataDir, n.Chan)
	path := filepath.Join(dir, n.Base)
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", err
	}
	if rel, err := filepath.Rel(realDir, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%s leads to %s, outside %s", path, real, dir)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	return path, nil
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
