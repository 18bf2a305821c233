package fits_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/fits/synth"
)

// openWithin runs fits.Open on another goroutine and fails the test if it
// has not returned after a generous bound: the point is that it does not
// wait at all, and a test that hangs would say nothing.
func openWithin(t *testing.T, path string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		f, err := fits.Open(path)
		if err == nil {
			f.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		// Unblock the open, if it is stuck on a FIFO, so the test ends.
		if fd, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
			unix.Close(fd)
		}
		t.Fatalf("fits.Open(%s) still blocked after 20 s", path)
		return nil
	}
}

// TestOpenRefusesSpecialFiles: a FIFO, socket, device or directory named
// like a raw file is refused at once, with the file and what it is.
func TestOpenRefusesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "mods1b.20260119.0001.fits")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// A socket path must be short; t.TempDir can be long.
	sockDir, err := os.MkdirTemp("", "dm")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(sockDir)
	sock := filepath.Join(sockDir, "mods1b.20260119.0002.fits")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Skipf("unix socket: %v", err)
	}
	defer l.Close()
	link := filepath.Join(dir, "mods1b.20260119.0003.fits")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "mods1b.20260119.0004.fits")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path, what string
	}{
		{fifo, "a FIFO"},
		{sock, "a socket"},
		{link, "a FIFO"},
		{folder, "a directory"},
		{"/dev/null", "a character device"},
	}
	for _, c := range cases {
		err := openWithin(t, c.path)
		if !errors.Is(err, fits.ErrNotRegular) {
			t.Errorf("fits.Open(%s): %v, want ErrNotRegular", c.path, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, c.path) || !strings.Contains(msg, c.what) {
			t.Errorf("fits.Open(%s): %q does not name the file and %q", c.path, msg, c.what)
		}
	}
}

// TestOpenRegularReads: a regular file, also through a symbolic link, opens
// and reads as before.
func TestOpenRegularReads(t *testing.T) {
	raw, err := synth.WriteFile(t.TempDir(), synth.Default("mods1b", 1, "1k-2x2"))
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), filepath.Base(raw))
	if err := os.Symlink(raw, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{raw, link} {
		f, err := fits.Open(p)
		if err != nil {
			t.Fatalf("fits.Open(%s): %v", p, err)
		}
		if len(f.HDUs) != 6 {
			t.Errorf("%s: %d HDUs", p, len(f.HDUs))
		}
		f.Close()
	}
}

// TestReadPrimary: the primary header of a raw file cut short after it
// is read, where Open refuses the file; and no header is no header.
func TestReadPrimary(t *testing.T) {
	dir := t.TempDir()
	raw, err := synth.WriteFile(dir, synth.Default("mods1b", 1, "1k-2x2"))
	if err != nil {
		t.Fatal(err)
	}
	whole, err := fits.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	primaryEnd := whole.HDUs[0].End()
	whole.Close()
	cut := filepath.Join(dir, "cut.fits")
	b, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cut, b[:primaryEnd+fits.BlockLen], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := fits.Open(cut); !errors.Is(err, fits.ErrTruncated) {
		t.Fatalf("fits.Open of a cut file: %v, want truncated", err)
	}
	h, err := fits.ReadPrimary(cut)
	if err != nil {
		t.Fatalf("ReadPrimary: %v", err)
	}
	if obj, err := h.Header.String("OBJECT"); err != nil || obj != "NGC 1068" {
		t.Errorf("OBJECT = %q, %v", obj, err)
	}
	for name, content := range map[string][]byte{
		"empty.fits": nil, "short.fits": []byte("SIMPLE  =                    T"),
		"header-cut.fits": b[:fits.BlockLen], "text.fits": []byte(strings.Repeat("not a FITS file\n", 400)),
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o644); err != nil {
			t.Fatal(err)
		}
		if h, err := fits.ReadPrimary(p); err == nil {
			t.Errorf("%s: read a header of %d cards", name, len(h.Header.Cards))
		}
	}
	if _, err := fits.ReadPrimary(filepath.Join(dir, "absent.fits")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent file: %v", err)
	}
}
