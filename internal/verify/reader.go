package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
)

// Reader reads one copy for whichever check needs its bytes (the FITS
// checksums) and, as the bytes go by in order, hashes them and compares them
// with the other copy. Proving both copies identical and equal to the
// ledger's checksum so costs one read of each, however the check reads.
// It is not safe for concurrent use.
type Reader struct {
	f, other  *os.File
	size      int64
	otherSize int64
	h         hash.Hash
	pos       int64 // bytes hashed, from offset 0
	buf       []byte
	differAt  int64 // first offset at which other differs; -1 while none
	// Tick, if not nil, is called after each read: progress, for a stall
	// timeout.
	Tick func()
}

// Sum is what a Reader found.
type Sum struct {
	SHA256 string
	Size   int64
	// Identical reports the other copy byte-for-byte the same; when it is
	// not, DifferAt is the first offset that differs (the shorter size if
	// one is a prefix of the other).
	Identical bool
	DifferAt  int64
}

// Open opens path, and other unless it is "", for reading.
func Open(path, other string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := &Reader{f: f, h: sha256.New(), differAt: -1}
	if r.size, err = size(f); err != nil {
		f.Close()
		return nil, err
	}
	if other != "" {
		if r.other, err = os.Open(other); err != nil {
			f.Close()
			return nil, err
		}
		if r.otherSize, err = size(r.other); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

func size(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Size is the size of the copy being read.
func (r *Reader) Size() int64 { return r.size }

// ReadAt reads the copy. Bytes that continue the run hashed so far are
// hashed and compared; bytes read ahead of it are passed through, to be
// taken in order later.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.f.ReadAt(p, off)
	if r.Tick != nil {
		r.Tick()
	}
	if off <= r.pos && off+int64(n) > r.pos {
		if cerr := r.consume(p[r.pos-off : n]); cerr != nil {
			return n, cerr
		}
	}
	return n, err
}

func (r *Reader) consume(b []byte) error {
	r.h.Write(b)
	if r.other != nil && r.differAt < 0 {
		if len(r.buf) < len(b) {
			r.buf = make([]byte, len(b))
		}
		o := r.buf[:len(b)]
		n, err := r.other.ReadAt(o, r.pos)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading %s: %w", r.other.Name(), err)
		}
		if !bytes.Equal(o[:n], b[:n]) || n < len(b) {
			r.differAt = r.pos + int64(firstDiff(o[:n], b))
		}
	}
	r.pos += int64(len(b))
	return nil
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// Finish reads whatever no check has read, in order, and returns the sums.
func (r *Reader) Finish() (Sum, error) {
	buf := make([]byte, 1<<20)
	for r.pos < r.size {
		n := int(min(int64(len(buf)), r.size-r.pos))
		// A full read never reports an error, so any error, EOF too,
		// means the file shrank under us.
		if _, err := r.ReadAt(buf[:n], r.pos); err != nil {
			return Sum{}, fmt.Errorf("reading %s: %w", r.f.Name(), err)
		}
	}
	s := Sum{SHA256: hex.EncodeToString(r.h.Sum(nil)), Size: r.pos, DifferAt: r.differAt}
	if r.other != nil {
		if r.differAt < 0 && r.otherSize != r.size {
			s.DifferAt = min(r.size, r.otherSize)
		}
		s.Identical = s.DifferAt < 0
	}
	return s, nil
}

// Close closes both copies.
func (r *Reader) Close() error {
	err := r.f.Close()
	if r.other != nil {
		err = errors.Join(err, r.other.Close())
	}
	return err
}
