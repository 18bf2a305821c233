package sweep

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The lock tests that need a second process run this test binary again:
// with SWEEP_LOCK_HELPER set, TestLockHelper is the other process.
func TestLockHelper(t *testing.T) {
	mode, dir := os.Getenv("SWEEP_LOCK_HELPER"), os.Getenv("SWEEP_LOCK_DIR")
	if mode == "" {
		t.Skip("only run as the helper process of the lock tests")
	}
	l := NewLock(dir)
	switch mode {
	case "hold":
		// Take the lock, say so, and keep it until stdin closes.
		if err := l.Acquire(context.Background(), 0, nil); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		io.Copy(io.Discard, os.Stdin)
	case "wait":
		// Wait for the lock, saying whom it waits for.
		err := l.Acquire(context.Background(), time.Minute, func(pid int) { fmt.Println("waiting", pid) })
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("acquired")
	}
	if err := l.Release(); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// helper starts the other process and returns its stdin and a reader of its
// stdout lines.
func helper(t *testing.T, mode, dir string) (*exec.Cmd, io.WriteCloser, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelper$")
	cmd.Env = append(os.Environ(), "SWEEP_LOCK_HELPER="+mode, "SWEEP_LOCK_DIR="+dir)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, in, bufio.NewScanner(out)
}

func nextLine(t *testing.T, sc *bufio.Scanner) string {
	t.Helper()
	if !sc.Scan() {
		t.Fatalf("helper process ended early: %v", sc.Err())
	}
	return sc.Text()
}

// A lock held by another process is refused at once, naming that process;
// once it lets go the lock can be taken.
func TestLockHeldByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	cmd, in, out := helper(t, "hold", dir)
	if line := nextLine(t, out); line != "locked" {
		t.Fatalf("helper: %s", line)
	}
	l := NewLock(dir)
	err := l.Acquire(context.Background(), 0, nil)
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("Acquire with the lock held elsewhere: %v", err)
	}
	if held.PID != cmd.Process.Pid {
		t.Errorf("holder pid %d, want the helper's %d", held.PID, cmd.Process.Pid)
	}
	if want := fmt.Sprintf("(pid %d)", cmd.Process.Pid); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the holder %s", err, want)
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	if err := l.Acquire(context.Background(), 0, nil); err != nil {
		t.Fatalf("Acquire after the holder let go: %v", err)
	}
	if pid := readPID(t, l.Path()); pid != os.Getpid() {
		t.Errorf("lock file names pid %d, want ours %d", pid, os.Getpid())
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if pid := readPID(t, l.Path()); pid != 0 {
		t.Errorf("released lock file still names pid %d", pid)
	}
}

// With a wait, the other process waits for us, naming us, and gets the lock
// when we let go.
func TestLockWaitsForAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	l := NewLock(dir)
	if err := l.Acquire(context.Background(), 0, nil); err != nil {
		t.Fatal(err)
	}
	cmd, _, out := helper(t, "wait", dir)
	if line, want := nextLine(t, out), "waiting "+strconv.Itoa(os.Getpid()); line != want {
		t.Fatalf("helper says %q, want %q", line, want)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if line := nextLine(t, out); line != "acquired" {
		t.Fatalf("helper says %q after we let go", line)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
}

// Two Locks in one process exclude each other too: that is how listen's
// reconciliation and a sweep it runs in-process stay apart.
func TestLockInProcess(t *testing.T) {
	dir := t.TempDir()
	a, b := NewLock(dir), NewLock(dir)
	if err := a.Acquire(context.Background(), 0, nil); err != nil {
		t.Fatal(err)
	}
	var held *HeldError
	if err := b.Acquire(context.Background(), 0, nil); !errors.As(err, &held) || held.PID != os.Getpid() {
		t.Fatalf("second Acquire: %v", err)
	}
	// A wait that runs out ends in the same error.
	waited := false
	if err := b.Acquire(context.Background(), 300*time.Millisecond, func(int) { waited = true }); !errors.As(err, &held) || !waited {
		t.Fatalf("Acquire with a wait that runs out: %v (waited %v)", err, waited)
	}
	// A cancelled wait ends with the context's error.
	ctx, cancel := context.WithCancel(context.Background())
	go cancel()
	if err := b.Acquire(ctx, time.Hour, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire cancelled: %v", err)
	}
	a.Release()
	if err := b.Acquire(context.Background(), 0, nil); err != nil {
		t.Fatal(err)
	}
	b.Release()
	if err := b.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("lock file holds %q", b)
	}
	return pid
}
