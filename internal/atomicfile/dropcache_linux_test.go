package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident counts the pages of the file at path that are in the page cache.
func resident(t *testing.T, path string) (in, all int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	page := os.Getpagesize()
	vec := make([]byte, (len(m)+page-1)/page)
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	for _, v := range vec {
		if v&1 != 0 {
			in++
		}
	}
	return in, len(vec)
}

// TestDropCache: a file committed with DropCache leaves the page cache; one
// without stays there.
func TestDropCache(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(i)
	}
	write := func(name string, drop bool) string {
		f, err := Create(dir, name, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if drop {
			f.DropCache()
		}
		if _, err := f.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := f.Commit(); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(dir, name)
	}
	kept := write("kept.fits", false)
	if in, _ := resident(t, kept); in == 0 {
		t.Skip("this file system keeps no pages in the page cache for a file just written")
	}
	dropped := write("dropped.fits", true)
	if in, all := resident(t, dropped); in > all/4 {
		t.Fatalf("%d of %d pages still in the page cache", in, all)
	}
	if got, err := os.ReadFile(dropped); err != nil || len(got) != len(data) || got[12345] != data[12345] {
		t.Fatalf("content after the drop: %d bytes, %v", len(got), err)
	}
}
