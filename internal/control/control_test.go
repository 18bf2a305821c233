package control

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// With helperEnv set, the test binary becomes a second daemon: it takes the
// state directory, says so, and holds it until killed or its stdin closes.
const helperEnv = "DATAMAN_CONTROL_TEST_HOLD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperEnv); dir != "" {
		f, err := Acquire(dir)
		if err != nil {
			os.Stdout.WriteString("error " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("locked\n")
		io.Copy(io.Discard, os.Stdin)
		f.Release()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestLifecycle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state") // created by Acquire
	f, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	if pid, err := ReadPid(dir); err != nil || pid != os.Getpid() {
		t.Fatalf(".pid holds %d (%v), want %d", pid, err, os.Getpid())
	}
	f.now = func() time.Time { return time.Date(2026, 1, 19, 20, 13, 20, 0, time.UTC) }
	st := Status{State: Running, Last: "mods1b.20260119.0001.fits", Addr: "127.0.0.1:10301", Queue: 3, Busy: 2,
		Latency: 812345 * time.Microsecond}
	if err := f.SetStatus(st); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, StatusFile))
	if err != nil {
		t.Fatal(err)
	}
	want := "RUNNING\nlast=mods1b.20260119.0001.fits\naddr=127.0.0.1:10301\nqueue=3\nbusy=2\nlatency=812.345ms\npid=" +
		strconv.Itoa(os.Getpid()) + "\nupdated=2026-01-19T20:13:20Z\n"
	if string(b) != want {
		t.Errorf(".status:\n%s\nwant:\n%s", b, want)
	}
	state, fields, err := ParseStatus(string(b))
	if err != nil || state != Running || fields["last"] != st.Last || fields["addr"] != st.Addr || fields["queue"] != "3" || fields["latency"] != "812.345ms" {
		t.Errorf("ParseStatus: %q %v %v", state, fields, err)
	}

	if err := f.Release(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{StatusFile, PidFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after Release: %v", name, err)
		}
	}
	if err := f.SetStatus(st); err == nil {
		t.Error("SetStatus after Release succeeded")
	}
	if err := f.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	// Released means free: the next instance starts.
	g, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	g.Release()
}

func TestSecondInstanceRefused(t *testing.T) {
	dir := t.TempDir()
	f, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Release()
	// flock locks belong to open files, so a second Acquire in this process
	// is refused just as another process would be.
	_, err = Acquire(dir)
	var re *RunningError
	if !errors.As(err, &re) || re.Pid != os.Getpid() || re.Dir != dir {
		t.Fatalf("second Acquire: %v", err)
	}
	if msg := err.Error(); msg != "another dataman listen (pid "+strconv.Itoa(os.Getpid())+") is running on state directory "+dir {
		t.Errorf("message %q", msg)
	}
}

// A process killed with SIGKILL leaves .pid and .status behind, but its
// lock dies with it: the next instance starts and takes the files over.
func TestStaleFilesAfterKill(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q (%v)", line, err)
	}

	_, err = Acquire(dir)
	var re *RunningError
	if !errors.As(err, &re) || re.Pid != cmd.Process.Pid {
		t.Errorf("while the helper runs: %v, want pid %d", err, cmd.Process.Pid)
	}

	cmd.Process.Kill()
	cmd.Wait()
	if pid, err := ReadPid(dir); err != nil || pid != cmd.Process.Pid {
		t.Fatalf("the killed helper's .pid: %d, %v", pid, err)
	}
	f, err := Acquire(dir)
	if err != nil {
		t.Fatalf("after SIGKILL: %v", err)
	}
	defer f.Release()
	if pid, _ := ReadPid(dir); pid != os.Getpid() {
		t.Errorf(".pid is %d, want ours", pid)
	}
}

func TestParseStatusRejects(t *testing.T) {
	for _, s := range []string{"", "\n", "last=x\n", "IDLE\nnot a pair\n"} {
		if _, _, err := ParseStatus(s); err == nil {
			t.Errorf("ParseStatus(%q) succeeded", s)
		}
	}
}
