package deliver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/obsdata/dataman/internal/atomicfile"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/ledger"
)

// fakeCond conditions like the FITS writer does, minus the FITS: a header
// that depends on the whole raw file, then the raw bytes, in order, in
// pieces of its own size.
type fakeCond struct {
	calls atomic.Int32
	err   error
}

func header(s string) []byte { return fmt.Appendf(nil, "%-80s", "CONDITIONED "+s) }

func conditioned(raw []byte) []byte {
	return append(header(fmt.Sprintf("SIZE=%d", len(raw))), raw...)
}

func uniqFor(base string) string { return "uniq-" + base }

func (c *fakeCond) Condition(ctx context.Context, rawPath string, out io.Writer) (RawInfo, error) {
	c.calls.Add(1)
	if c.err != nil {
		return RawInfo{}, c.err
	}
	raw, err := os.ReadFile(rawPath)
	if err != nil {
		return RawInfo{}, err
	}
	if _, err := out.Write(header(fmt.Sprintf("SIZE=%d", len(raw)))); err != nil {
		return RawInfo{}, err
	}
	for p := raw; len(p) > 0; {
		n := min(len(p), 64<<10+7)
		if _, err := out.Write(p[:n]); err != nil {
			return RawInfo{}, err
		}
		p = p[n:]
	}
	sum := sha256.Sum256(raw)
	return RawInfo{Size: int64(len(raw)), SHA256: hex.EncodeToString(sum[:]), UniqName: uniqFor(filepath.Base(rawPath))}, nil
}

var fixedNow = time.Date(2026, 1, 19, 20, 13, 20, 140812000, time.UTC)

func layoutIn(root string) frame.Layout {
	return frame.Layout{
		DataDir:  filepath.Join(root, "data"),
		ProcDir:  filepath.Join(root, "proc"),
		RepoDir:  filepath.Join(root, "repo"),
		StateDir: filepath.Join(root, "state"),
	}
}

func optionsIn(root string) Options {
	return Options{
		Layout:     layoutIn(root),
		Version:    "test-1",
		ConfigHash: "cfg0",
		Now:        func() time.Time { return fixedNow },
	}
}

type env struct {
	t    *testing.T
	root string
	frame.Layout
	cond *fakeCond
	d    *Deliverer
}

// newEnv makes the four folders (repoDir too: tests about a missing one
// remove it) and a Deliverer over them.
func newEnv(t *testing.T, tweak func(*Options)) *env {
	t.Helper()
	root := t.TempDir()
	opts := optionsIn(root)
	if tweak != nil {
		tweak(&opts)
	}
	for _, dir := range []string{filepath.Join(opts.DataDir, "mods1b"), opts.ProcDir, opts.RepoDir, opts.StateDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{t: t, root: root, Layout: opts.Layout, cond: &fakeCond{}}
	d, err := New(opts, e.cond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	e.d = d
	return e
}

// reopen replaces the Deliverer with a new one over the same folders, as a
// restarted process would have.
func (e *env) reopen(tweak func(*Options)) {
	e.t.Helper()
	e.d.Close()
	opts := optionsIn(e.root)
	if tweak != nil {
		tweak(&opts)
	}
	d, err := New(opts, e.cond)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { d.Close() })
	e.d = d
}

func rawName(seq int) string { return fmt.Sprintf("mods1b.20260119.%04d.fits", seq) }

func rawBytes(base string, size int) []byte {
	b := []byte(strings.Repeat(base+"|", size/(len(base)+1)+1))
	return b[:size]
}

// raw writes a raw file of size bytes and returns its base name.
func (e *env) raw(seq, size int) string {
	e.t.Helper()
	base := rawName(seq)
	if err := os.WriteFile(filepath.Join(e.DataDir, "mods1b", base), rawBytes(base, size), 0o444); err != nil {
		e.t.Fatal(err)
	}
	return base
}

func (e *env) want(base string) []byte {
	e.t.Helper()
	raw, err := os.ReadFile(filepath.Join(e.DataDir, "mods1b", base))
	if err != nil {
		e.t.Fatal(err)
	}
	return conditioned(raw)
}

func (e *env) storedPath(base string) string {
	return filepath.Join(e.ProcDir, "20260119", base)
}

func (e *env) repoPath(base string) string { return filepath.Join(e.RepoDir, base) }

func (e *env) newPath() string { return filepath.Join(e.RepoDir, "MODS1B.new") }

func (e *env) ensure(base string, how Mode) Report {
	e.t.Helper()
	rep, err := e.d.Ensure(context.Background(), base, how)
	if err != nil {
		e.t.Fatalf("Ensure(%s, %v): %v", base, how, err)
	}
	return rep
}

func (e *env) events(base string) []ledger.Event {
	e.t.Helper()
	events, problems, err := ledger.ReadChannel(e.StateDir, "mods1b")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		e.t.Fatal(err)
	}
	if len(problems) > 0 {
		e.t.Fatalf("ledger problems: %v", problems)
	}
	var out []ledger.Event
	for _, ev := range events {
		if ev.File == base {
			out = append(out, ev)
		}
	}
	return out
}

// latest is the latest ledger event of base for step, read from the file.
func (e *env) latest(base, step string) ledger.Event {
	e.t.Helper()
	var last ledger.Event
	for _, ev := range e.events(base) {
		if ev.Step == step {
			last = ev
		}
	}
	return last
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func absent(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s exists (%v)", path, err)
	}
}

// fileState is what idempotence must leave alone.
type fileState struct {
	ino   uint64
	mtime int64
	size  int64
	mode  fs.FileMode
}

// snapshot records every file and folder under root; with dirs false only
// regular files, for runs that may create and remove temporaries.
func snapshot(t *testing.T, root string, dirs bool) map[string]fileState {
	t.Helper()
	snap := map[string]fileState{}
	err := filepath.WalkDir(root, func(path string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() && !dirs {
			return nil
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		snap[path] = fileState{ino: st.Ino, mtime: fi.ModTime().UnixNano(), size: fi.Size(), mode: fi.Mode()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func sameSnapshot(t *testing.T, before, after map[string]fileState) {
	t.Helper()
	for p, b := range before {
		if a, ok := after[p]; !ok {
			t.Errorf("%s disappeared", p)
		} else if a != b {
			t.Errorf("%s changed: %+v → %+v", p, b, a)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s appeared", p)
		}
	}
}

// noTemps fails if a temporary is left anywhere under root.
func noTemps(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(path string, de fs.DirEntry, err error) error {
		if err == nil && atomicfile.IsTemp(de.Name()) {
			t.Errorf("temporary left: %s", path)
		}
		return nil
	})
}

func hasAction(rep Report, prefix string) bool {
	for _, a := range rep.Actions {
		if strings.HasPrefix(a, prefix) {
			return true
		}
	}
	return false
}

// checkDelivered checks the whole layout for one delivered file.
func (e *env) checkDelivered(base string) {
	e.t.Helper()
	want := e.want(base)
	if got := mustRead(e.t, e.storedPath(base)); string(got) != string(want) {
		e.t.Fatalf("stored copy differs (%d bytes, want %d)", len(got), len(want))
	}
	if got := mustRead(e.t, e.repoPath(base)); string(got) != string(want) {
		e.t.Fatalf("dispatched copy differs (%d bytes, want %d)", len(got), len(want))
	}
	if got := string(mustRead(e.t, e.newPath())); got != base+"\n" {
		e.t.Fatalf("MODS1B.new = %q", got)
	}
}
