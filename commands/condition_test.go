package commands

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/fits/synth"
	"github.com/obsdata/dataman/internal/exitcode"
)

func stdoutOptions(t *testing.T) conditionOptions {
	t.Helper()
	raw, err := synth.WriteFile(t.TempDir(), synth.Default("mods2b", 4, "1k-2x2"))
	if err != nil {
		t.Fatal(err)
	}
	return conditionOptions{Files: []string{raw}, OutDir: "-", Jobs: 1, Proc: fits.AllSteps("test", "sha256:test")}
}

// TestConditionStdoutPipe: -o - through a pipe gives the bytes -o DIR
// writes, and nothing else.
func TestConditionStdoutPipe(t *testing.T) {
	o := stdoutOptions(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		got <- b
	}()
	var stderr bytes.Buffer
	err = runCondition(context.Background(), o, w, &stderr)
	w.Close()
	piped := <-got
	if err != nil {
		t.Fatalf("condition -o -: %v (stderr %q)", err, stderr.String())
	}
	o.OutDir = t.TempDir()
	if err := runCondition(context.Background(), o, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(o.OutDir, filepath.Base(o.Files[0])))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(piped, want) {
		t.Fatalf("-o - wrote %d bytes, unlike the %d bytes of -o DIR", len(piped), len(want))
	}
}

// TestConditionStdoutRefusals: a terminal, more than one file, flags that
// need standard output for themselves and the raw file itself are refused
// as usage errors, before anything is written.
func TestConditionStdoutRefusals(t *testing.T) {
	o := stdoutOptions(t)
	refuse := func(name string, o conditionOptions, stdout io.Writer, want string) {
		t.Helper()
		err := runCondition(context.Background(), o, stdout, io.Discard)
		if exitcode.Code(err) != exitcode.Usage || err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a usage error saying %q", name, err, want)
		}
	}
	two := o
	two.Files = []string{o.Files[0], o.Files[0]}
	refuse("two files", two, io.Discard, "2 raw files given")
	js := o
	js.JSON = true
	refuse("--json", js, io.Discard, "--json cannot go with it")

	f, err := os.OpenFile(o.Files[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	refuse("the raw file", o, f, "is the raw file")

	tty, err := openPTY(t)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	refuse("a terminal", o, tty, "standard output is a terminal")
}

// openPTY opens a pseudo-terminal and returns its terminal side; what is
// written there is drained, so a test that fails writes does not hang.
func openPTY(t *testing.T) (*os.File, error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	ptmx := os.NewFile(uintptr(fd), "/dev/ptmx")
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		return nil, err
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		return nil, err
	}
	tty, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { tty.Close() })
	go io.Copy(io.Discard, ptmx)
	return tty, nil
}
