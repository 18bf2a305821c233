package sweep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/frame"
)

// fakeCond stands in for the FITS conditioner, which sweep may not import:
// deterministic, and as large as its input, so delivery does real I/O.
type fakeCond struct{ calls atomic.Int32 }

func (c *fakeCond) Condition(ctx context.Context, rawPath string, out io.Writer) (deliver.RawInfo, error) {
	c.calls.Add(1)
	raw, err := os.ReadFile(rawPath)
	if err != nil {
		return deliver.RawInfo{}, err
	}
	if _, err := out.Write(append([]byte("CONDITIONED\n"), raw...)); err != nil {
		return deliver.RawInfo{}, err
	}
	sum := sha256.Sum256(raw)
	return deliver.RawInfo{Size: int64(len(raw)), SHA256: hex.EncodeToString(sum[:]), UniqName: "uniq-" + filepath.Base(rawPath)}, nil
}

const night = "20260119"

// testNight is a data tree with a real Deliverer over it.
type testNight struct {
	t    testing.TB
	root string
	lay  frame.Layout
	cond *fakeCond
	d    *deliver.Deliverer
}

func newTestNight(t testing.TB) *testNight {
	root := t.TempDir()
	n := &testNight{t: t, root: root, cond: &fakeCond{}, lay: frame.Layout{
		DataDir:  filepath.Join(root, "raw"),
		ProcDir:  filepath.Join(root, "proc"),
		RepoDir:  filepath.Join(root, "newdata"),
		StateDir: filepath.Join(root, "state"),
	}}
	for _, dir := range []string{n.lay.DataDir, n.lay.RepoDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	n.d = n.deliverer()
	return n
}

func (n *testNight) deliverer() *deliver.Deliverer {
	d, err := deliver.New(deliver.Options{Layout: n.lay, Version: "test"}, n.cond)
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { d.Close() })
	return d
}

func rawName(seq int) string { return fmt.Sprintf("mods1b.%s.%04d.fits", night, seq) }

// addRaw writes raw frames 1..count of size bytes, an hour old, as the
// camera server would have left them.
func (n *testNight) addRaw(count, size int) {
	dir := filepath.Join(n.lay.DataDir, "mods1b")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		n.t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	for seq := 1; seq <= count; seq++ {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(seq*31 + i*7)
		}
		path := filepath.Join(dir, rawName(seq))
		if err := os.WriteFile(path, data, 0o444); err != nil {
			n.t.Fatal(err)
		}
		if err := os.Chtimes(path, old, old); err != nil {
			n.t.Fatal(err)
		}
	}
}

// deliver runs the datagram path for the given sequence numbers.
func (n *testNight) deliver(seqs ...int) {
	for _, seq := range seqs {
		if _, err := n.d.Ensure(context.Background(), rawName(seq), deliver.Deliver); err != nil {
			n.t.Fatal(err)
		}
	}
}

func (n *testNight) options() Options {
	return Options{Deliverer: n.d, Nights: []string{night}, MinAge: 30 * time.Second, Version: "test"}
}

func (n *testNight) run(o Options) Summary {
	n.t.Helper()
	sum, err := Run(context.Background(), o)
	if err != nil {
		n.t.Fatalf("sweep: %v", err)
	}
	return sum
}

func (n *testNight) stored(seq int) string  { return filepath.Join(n.lay.ProcDir, night, rawName(seq)) }
func (n *testNight) newdata(seq int) string { return filepath.Join(n.lay.RepoDir, rawName(seq)) }

// corrupt changes bytes in the middle of a file, keeping its size.
func corrupt(t testing.TB, path string) {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("DAMAGED"), 100); err != nil {
		t.Fatal(err)
	}
}

func sha(t testing.TB, path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// countingFS counts the files a sweep opens.
type countingFS struct {
	OSFS
	opens atomic.Int32
	paths []string
}

func (c *countingFS) Open(path string) (io.ReadCloser, error) {
	c.opens.Add(1)
	c.paths = append(c.paths, path)
	return c.OSFS.Open(path)
}

func kinds(s Summary) string {
	var b strings.Builder
	for _, k := range []Kind{CleanTemps, Store, Dispatch, Redispatch, Lost} {
		if c := s.Count(k); c > 0 {
			fmt.Fprintf(&b, "%s=%d ", k, c)
		}
	}
	return strings.TrimSpace(b.String())
}
