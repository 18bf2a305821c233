package atomicfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// visible lists the names in dir a *.fits watcher or a person would treat as
// files: everything but the temporaries.
func visible(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !IsTemp(e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names
}

func temps(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if IsTemp(e.Name()) {
			names = append(names, e.Name())
		}
	}
	return names
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNothingVisibleBeforeCommit(t *testing.T) {
	dir := t.TempDir()
	f, err := Create(dir, "a.fits", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	if _, err := f.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	if got := visible(t, dir); len(got) != 0 {
		t.Fatalf("visible before commit: %v", got)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*.fits"))
	if len(matches) != 0 {
		t.Fatalf("*.fits matches a temporary: %v", matches)
	}
	if base := filepath.Base(f.Name()); !strings.HasPrefix(base, ".a.fits.") || !IsTemp(base) {
		t.Fatalf("temporary name %q", base)
	}
}

func TestCommitWriteAtAndPerm(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := t.TempDir()
	f, err := Create(dir, "a.fits", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("HEADER??body")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("!!"), 6); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("h")); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "a.fits")
	if got := readFile(t, path); got != "hEADER!!body" {
		t.Fatalf("content %q", got)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, want 0644 despite umask 077", fi.Mode().Perm())
	}
	if tt := temps(t, dir); len(tt) != 0 {
		t.Fatalf("temporaries left: %v", tt)
	}
	if err := f.Abort(); err != nil {
		t.Fatalf("abort after commit: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("abort after commit removed the file: %v", err)
	}
	if err := f.Commit(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("second commit: %v", err)
	}
}

func TestCommitReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.new")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != "new\n" {
		t.Fatalf("content %q", got)
	}
	if got := visible(t, dir); !slices.Equal(got, []string{"x.new"}) {
		t.Fatalf("files %v", got)
	}
}

func TestCommitNoReplace(t *testing.T) {
	dir := t.TempDir()
	taken := filepath.Join(dir, "a.fits")
	if err := os.WriteFile(taken, []byte("theirs"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Create(dir, "a.fits", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	f.Write([]byte("ours"))
	err = f.CommitNoReplace()
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("commit over an existing file: %v", err)
	}
	if got := readFile(t, taken); got != "theirs" {
		t.Fatalf("existing file changed to %q", got)
	}
	if len(temps(t, dir)) != 1 {
		t.Fatal("temporary not kept after ErrExist")
	}
	if err := f.Retarget("b.fits"); err != nil {
		t.Fatal(err)
	}
	if err := f.CommitNoReplace(); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "b.fits")); got != "ours" {
		t.Fatalf("retargeted content %q", got)
	}
	if tt := temps(t, dir); len(tt) != 0 {
		t.Fatalf("temporaries left: %v", tt)
	}
}

// The link+unlink fallback is what NFS gets; it must refuse an existing name
// just like renameat2.
func TestLinkUnlinkNoReplace(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(a, []byte("a"), 0o644)
	os.WriteFile(b, []byte("b"), 0o644)
	if err := linkUnlink(a, b); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("link over existing: %v", err)
	}
	if got := readFile(t, b); got != "b" {
		t.Fatalf("target changed to %q", got)
	}
	c := filepath.Join(dir, "c")
	if err := linkUnlink(a, c); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("source still there: %v", err)
	}
	if got := readFile(t, c); got != "a" {
		t.Fatalf("content %q", got)
	}
}

func TestFailedCommitRemovesTemp(t *testing.T) {
	dir := t.TempDir()
	// A non-empty directory under the name makes the rename fail.
	if err := os.MkdirAll(filepath.Join(dir, "a.fits", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := Create(dir, "a.fits", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("x"))
	if err := f.Commit(); err == nil {
		t.Fatal("commit over a directory succeeded")
	}
	if tt := temps(t, dir); len(tt) != 0 {
		t.Fatalf("temporary left after failed commit: %v", tt)
	}
}

func TestAbort(t *testing.T) {
	dir := t.TempDir()
	f, err := Create(dir, "a.fits", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("x"))
	if err := f.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := f.Abort(); err != nil {
		t.Fatalf("second abort: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
	if err := f.Commit(); err == nil {
		t.Fatal("commit after abort succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "a.fits")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("commit after abort made the file")
	}
}

func TestBadNames(t *testing.T) {
	for _, name := range []string{"", ".", "..", "a/b", "/abs"} {
		if _, err := Create(t.TempDir(), name, 0o644); err == nil {
			t.Errorf("Create(%q) succeeded", name)
		}
	}
}

func TestIsTemp(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{".mods1b.20260119.0001.fits.1234.0123456789abcdef.dmtmp", true},
		{"/some/dir/.x.1.0123456789abcdef.dmtmp", true},
		{"mods1b.20260119.0001.fits.1234.0123456789abcdef.dmtmp", false}, // no dot
		{".x.1234.0123456789abcdef", false},                              // no suffix
		{".x.1234.0123456789ABCDEF.dmtmp", false},                        // tag is lower-case hex
		{".x.1234.0123456789abcde.dmtmp", false},                         // short tag
		{".x.0.0123456789abcdef.dmtmp", false},                           // pid 0
		{".x.-1.0123456789abcdef.dmtmp", false},
		{".x.+1.0123456789abcdef.dmtmp", false},
		{"..1.0123456789abcdef.dmtmp", false}, // no name
		{".1.0123456789abcdef.dmtmp", false},
		{".MODS1B.new", false},
	}
	for _, tt := range tests {
		if got := IsTemp(tt.name); got != tt.want {
			t.Errorf("IsTemp(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	if name := tempName("a.fits"); !IsTemp(name) {
		t.Errorf("IsTemp(%q) = false for our own name", name)
	}
}

// deadPid returns the pid of a process that has exited and been reaped.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	return cmd.Process.Pid
}

func TestCleanStale(t *testing.T) {
	dir := t.TempDir()
	dead := deadPid(t)
	write := func(name string, age time.Duration) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		mt := time.Now().Add(-age)
		if err := os.Chtimes(path, mt, mt); err != nil {
			t.Fatal(err)
		}
		return path
	}
	ours := hostTag()
	other := "ffffffff"
	if ours == other {
		other = "eeeeeeee"
	}
	tmp := func(pid int, host string) string {
		return ".a.fits." + itoa(pid) + "." + host + "01234567.dmtmp"
	}
	liveNew := write(tmp(os.Getpid(), ours), 0)
	deadNew := write(tmp(dead, ours), 0)
	otherHostDead := write(tmp(dead, other), 0)
	liveOld := write(".b.fits."+itoa(os.Getpid())+"."+ours+"89abcdef.dmtmp", 2*StaleAge)
	otherHostOld := write(".c.fits."+itoa(dead)+"."+other+"89abcdef.dmtmp", 2*StaleAge)
	plainOld := write("a.fits", 2*StaleAge)
	hidden := write(".MODS1B.new", 2*StaleAge)

	removed, err := CleanStale(dir)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	want := []string{deadNew, liveOld, otherHostOld}
	slices.Sort(want)
	if !slices.Equal(removed, want) {
		t.Fatalf("removed %v, want %v", removed, want)
	}
	for _, keep := range []string{liveNew, otherHostDead, plainOld, hidden} {
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("%s was removed", filepath.Base(keep))
		}
	}
	for _, gone := range want {
		if _, err := os.Stat(gone); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there", filepath.Base(gone))
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestCleanStaleMissingDir(t *testing.T) {
	if _, err := CleanStale(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v", err)
	}
}

func BenchmarkWriteFile(b *testing.B) {
	dir := b.TempDir()
	data := bytes.Repeat([]byte("x"), 26)
	path := filepath.Join(dir, "MODS1B.new")
	for b.Loop() {
		if err := WriteFile(path, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWriteAcrossWriteback writes more than two writeback chunks in odd
// pieces: what lands under the final name is exactly what was written.
func TestWriteAcrossWriteback(t *testing.T) {
	dir := t.TempDir()
	f, err := Create(dir, "big.fits", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 2*writebackChunk+12345)
	for i := range want {
		want[i] = byte(i * 7)
	}
	for off := 0; off < len(want); {
		n := min(len(want)-off, 1<<20+333)
		if _, err := f.Write(want[off : off+n]); err != nil {
			t.Fatal(err)
		}
		off += n
	}
	if f.kicked == 0 || f.kicked > f.written {
		t.Fatalf("writeback started for %d of %d bytes", f.kicked, f.written)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "big.fits"))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("content differs (%d bytes, %v)", len(got), err)
	}
}
