package place

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/obsdata/dataman/internal/atomicfile"
)

// Policy says what to do when a different file already has the name being
// written. Identical content is never a collision.
type Policy string

// The collision policies, as in the configuration.
const (
	Rename    Policy = "rename"    // the UNIQNAME, then <uniq>-2.fits, -3…: the first name free or holding identical content
	Error     Policy = "error"     // fail; nothing is written
	Overwrite Policy = "overwrite" // replace the file that is there, atomically
)

// ErrCollision is wrapped by the errors of a name that is taken and cannot
// be used.
var ErrCollision = errors.New("a different file has this name")

// How says what to do with the chosen name.
type How int

const (
	Free      How = iota // nothing there: take it without replacing
	Identical            // the same bytes are there already: nothing to write
	Replace              // a different file is there and may be replaced
)

// Digest is a file's SHA-256 (hex) and size.
type Digest struct {
	Sum  string
	Size int64
}

// Content is the file being placed. It is compared by size first, and its
// SHA-256 is computed only when a name holds a file of its size, once.
type Content struct {
	d    Digest
	path string // hashed on first need when d.Sum is ""
}

// Known is content whose digest is already known.
func Known(d Digest) *Content { return &Content{d: d} }

// File is the content of f, a finished temporary, read only when its digest
// is needed. It is read by name: a commit that finds its name taken has
// closed f but kept the temporary.
func File(f *os.File) (*Content, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return &Content{d: Digest{Size: fi.Size()}, path: f.Name()}, nil
}

func (c *Content) digest(ctx context.Context, tick func()) (Digest, error) {
	if c.d.Sum == "" && c.path != "" {
		d, err := HashPath(ctx, c.path, tick)
		if err != nil {
			return Digest{}, err
		}
		c.d = d
	}
	return c.d, nil
}

// Target is where a file goes: a folder, the names to try, the policy, and
// the hooks of a caller with rules of its own.
type Target struct {
	Dir    string
	Base   string // the name tried first: the raw file's
	Uniq   string // the UNIQNAME, the next name tried under Rename
	Policy Policy // empty means Rename

	// Own, if not nil, is asked about each name that holds other bytes: true
	// means the file there is this file's own copy gone bad, to be replaced
	// whatever the policy (a rename would leave the damage in place). The
	// delivery path asks its ledger.
	Own func(path string) bool
	// Taken, if not nil, is told of each name passed over because a
	// different file has it.
	Taken func(path string)
	// Check, if not nil, runs before each file operation ("stat", "rename")
	// and can fail it: the delivery path's fault injection.
	Check func(op, path string) error
	// Tick, if not nil, is called as work progresses: the delivery path's
	// stall timer.
	Tick func()
}

func (t Target) check(op, path string) error {
	if t.Check == nil {
		return nil
	}
	return t.Check(op, path)
}

func (t Target) tick() {
	if t.Tick != nil {
		t.Tick()
	}
}

// Choose finds where content c goes in t.Dir: t.Base, else under Rename the
// UNIQNAME, then <uniq>-2.fits, -3… It is a name that is free or holds
// identical bytes; a name holding other bytes is never used unless the
// policy is Overwrite or Own claims it (dataMan copied such an unrelated
// file to /newdata).
func (t Target) Choose(ctx context.Context, c *Content) (string, How, error) {
	for i := 0; ; i++ {
		name, err := Candidate(t.Base, t.Uniq, i)
		if err != nil {
			return "", 0, err
		}
		path := filepath.Join(t.Dir, name)
		if err := t.check("stat", path); err != nil {
			return "", 0, err
		}
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return path, Free, nil
		}
		if err != nil {
			return "", 0, err
		}
		t.tick()
		same, err := sameContent(ctx, t.Tick, path, fi, c)
		if err != nil {
			return "", 0, err
		}
		if same {
			return path, Identical, nil
		}
		if t.Own != nil && t.Own(path) {
			return path, Replace, nil
		}
		switch t.Policy {
		case Error:
			return "", 0, fmt.Errorf("%s: %w (collision policy error)", path, ErrCollision)
		case Overwrite:
			return path, Replace, nil
		}
		if t.Taken != nil {
			t.Taken(path)
		}
	}
}

// Place commits f in t.Dir under the name Choose picks, unless identical
// bytes are already there, and returns the path and whether they were.
// Between Choose and the rename another writer may take the name; the
// no-replace rename notices and the choice is made again.
func (t Target) Place(ctx context.Context, f *atomicfile.File, c *Content) (string, bool, error) {
	for range 5 {
		path, how, err := t.Choose(ctx, c)
		if err != nil {
			return "", false, err
		}
		if how == Identical {
			return path, true, f.Abort()
		}
		if err := ctx.Err(); err != nil {
			return "", false, err
		}
		if err := f.Retarget(filepath.Base(path)); err != nil {
			return "", false, err
		}
		if err := t.check("rename", path); err != nil {
			return "", false, err
		}
		if how == Replace {
			return path, false, f.Commit()
		}
		err = f.CommitNoReplace()
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return path, false, err
	}
	return "", false, fmt.Errorf("%s: names keep being taken by another writer", t.Dir)
}

// maxRename bounds the -N suffixes tried, so that a folder filled with junk
// under the UNIQNAME's pattern ends in an error rather than a long loop.
const maxRename = 1000

// Candidate is the i-th name tried for a file named base whose UNIQNAME is
// uniq: base, uniq, then <uniq>-2.fits, -3…
func Candidate(base, uniq string, i int) (string, error) {
	switch {
	case i == 0:
		return base, nil
	case uniq == "" || strings.ContainsRune(uniq, '/') || strings.HasPrefix(uniq, "."):
		return "", fmt.Errorf("%s: %w and no usable UNIQNAME (%q) to rename to", base, ErrCollision, uniq)
	case i == 1:
		return uniq, nil
	case i > maxRename:
		return "", fmt.Errorf("%s: %w: %s and %d variants of it are all taken", base, ErrCollision, uniq, maxRename)
	}
	stem, ext := uniq, ""
	if strings.HasSuffix(uniq, ".fits") {
		stem, ext = strings.TrimSuffix(uniq, ".fits"), ".fits"
	}
	return fmt.Sprintf("%s-%d%s", stem, i, ext), nil
}

func sameContent(ctx context.Context, tick func(), path string, fi os.FileInfo, c *Content) (bool, error) {
	if !fi.Mode().IsRegular() || fi.Size() != c.d.Size {
		return false, nil
	}
	want, err := c.digest(ctx, tick)
	if err != nil {
		return false, err
	}
	got, err := HashPath(ctx, path, tick)
	return got == want, err
}

// chunk is the unit of hashing, and so of progress for a stall timer.
const chunk = 1 << 20

// HashPath hashes the file at path.
func HashPath(ctx context.Context, path string, tick func()) (Digest, error) {
	f, err := os.Open(path)
	if err != nil {
		return Digest{}, err
	}
	defer f.Close()
	return HashFile(ctx, f, tick)
}

// HashFile hashes f from its start with ReadAt, leaving its offset alone,
// calling tick (if not nil) after each chunk.
func HashFile(ctx context.Context, f *os.File, tick func()) (Digest, error) {
	return HashReader(ctx, io.NewSectionReader(f, 0, math.MaxInt64), tick)
}

// HashReader hashes what r gives up to its end, calling tick (if not nil)
// after each chunk, and stops when ctx is done.
func HashReader(ctx context.Context, r io.Reader, tick func()) (Digest, error) {
	h := sha256.New()
	buf := make([]byte, chunk)
	var size int64
	for {
		if err := ctx.Err(); err != nil {
			return Digest{}, err
		}
		n, err := r.Read(buf)
		h.Write(buf[:n])
		size += int64(n)
		if tick != nil {
			tick()
		}
		if err == io.EOF {
			return Digest{Sum: hex.EncodeToString(h.Sum(nil)), Size: size}, nil
		}
		if err != nil {
			return Digest{}, err
		}
	}
}
