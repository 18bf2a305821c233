package slurm

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/obsdata/dataman/fits/synth"
)

// need checks for what a private cluster needs: root and the Slurm and
// munge programs. Where something is missing the test is skipped, except
// in CI (CI=true), whose machine must have it.
func need(t testing.TB) {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format+" (CI=true: .ci/run installs slurmctld slurmd slurm-client munge and runs as root)", args...)
		}
		t.Skipf(format, args...)
	}
	for _, tool := range []string{"sbatch", "squeue", "scontrol", "scancel", "sinfo", "slurmctld", "slurmd", "munged", "mungekey"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing("%s is not installed: %v", tool, err)
		}
	}
	if os.Geteuid() != 0 {
		missing("a private Slurm cluster needs root")
	}
}

// buildDataman builds the binary the tasks run and returns its path.
func buildDataman(t testing.TB) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "dataman")
	out, err := exec.Command(goTool, "build", "-o", bin, "github.com/obsdata/dataman/cmd/dataman").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// patience bounds each wait on the cluster: long enough for a loaded
// machine, short enough that a stuck cluster fails the test rather than
// the test binary's timeout. Nothing is timed.
const patience = 5 * time.Minute

// cluster is a private single-node Slurm started by single-node.sh, with
// everything under dir; Cleanup cancels its jobs and stops it.
type cluster struct {
	t    testing.TB
	dir  string
	env  []string // os.Environ() and SLURM_CONF
	cpus int
}

func startCluster(t testing.TB) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: t.TempDir(), cpus: runtime.NumCPU()}
	script, err := filepath.Abs("single-node.sh")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, "start", c.dir)
	cmd.Env = append(os.Environ(), "SLURMCTLD_PORT="+freePort(t), "SLURMD_PORT="+freePort(t), fmt.Sprintf("CPUS=%d", c.cpus),
		// Stopped even if this test binary dies before its Cleanup.
		fmt.Sprintf("WATCH_PID=%d", os.Getpid()))
	// Registered before the start, so that a half-started cluster is
	// stopped too; the temporary folder is removed after this runs.
	t.Cleanup(func() { c.stop(script) })
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("single-node.sh start: %v\n%s%s", err, out, c.logs())
	}
	c.env = append(os.Environ(), "SLURM_CONF="+filepath.Join(c.dir, "slurm.conf"))
	return c
}

func (c *cluster) stop(script string) {
	if c.env != nil {
		c.command("scancel", "--partition=dataman").Run()
		poll(time.Minute, func() bool {
			out, err := c.command("squeue", "-h").Output()
			return err != nil || len(bytes.TrimSpace(out)) == 0
		})
		if c.t.Failed() {
			c.t.Log(c.logs())
		}
	}
	if out, err := exec.Command(script, "stop", c.dir).CombinedOutput(); err != nil {
		c.t.Errorf("single-node.sh stop: %v\n%s", err, out)
	}
}

// logs returns the end of the cluster's logs, for a failure.
func (c *cluster) logs() string {
	var b strings.Builder
	for _, f := range []string{"log/slurmctld.log", "log/slurmd.log", "munge/munged.log"} {
		data, err := os.ReadFile(filepath.Join(c.dir, f))
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		fmt.Fprintf(&b, "\n--- %s (end) ---\n%s", f, strings.Join(lines[max(0, len(lines)-20):], "\n"))
	}
	return b.String()
}

func (c *cluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = c.env
	return cmd
}

// sbatch submits from folder dir, with env added to the environment the
// job inherits, and returns the job id.
func (c *cluster) sbatch(dir string, env []string, args ...string) string {
	c.t.Helper()
	cmd := c.command("sbatch", append([]string{"--parsable"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(slices.Clip(cmd.Env), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("sbatch %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	id, _, _ := strings.Cut(strings.TrimSpace(string(out)), ";")
	return id
}

// task is an array task's final state as scontrol reports it.
type task struct {
	State    string // COMPLETED, FAILED…
	ExitCode string // status:signal
}

var (
	arrayTaskRE = regexp.MustCompile(`\bArrayTaskId=(\S+)`)
	jobStateRE  = regexp.MustCompile(`\bJobState=(\S+)`)
	exitCodeRE  = regexp.MustCompile(`\bExitCode=(\S+)`)
)

// wait polls squeue until job has left the queue, then returns the final
// state of each of its array tasks. sbatch --wait polls only every 10 to
// 30 s; this polls every 50 ms.
func (c *cluster) wait(job string) map[int]task {
	c.t.Helper()
	if !poll(patience, func() bool {
		out, err := c.command("squeue", "-h", "-j", job).Output()
		return err == nil && len(bytes.TrimSpace(out)) == 0
	}) {
		c.t.Fatalf("job %s still queued after %s", job, patience)
	}
	out, err := c.command("scontrol", "show", "job", "-o", job).CombinedOutput()
	if err != nil {
		c.t.Fatalf("scontrol show job %s: %v\n%s", job, err, out)
	}
	tasks := map[int]task{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		id, state, code := arrayTaskRE.FindStringSubmatch(line), jobStateRE.FindStringSubmatch(line), exitCodeRE.FindStringSubmatch(line)
		if id == nil || state == nil || code == nil {
			c.t.Fatalf("scontrol show job %s: no ArrayTaskId, JobState or ExitCode in %q", job, line)
		}
		n, err := strconv.Atoi(id[1])
		if err != nil {
			c.t.Fatalf("scontrol show job %s: task %q is not a number (still pending?)", job, id[1])
		}
		tasks[n] = task{State: state[1], ExitCode: code[1]}
	}
	return tasks
}

func poll(limit time.Duration, done func() bool) bool {
	deadline := time.Now().Add(limit)
	for !done() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// archive is a synthetic archive of raw frames.
type archive struct {
	list  string   // LIST: the raw files, one per line, sorted as find | sort gives them
	files []string // the same
	twin  string   // a second raw file with the name of an earlier one, in another folder
}

// makeArchive writes perNight frames of mode for each channel and night,
// raw/<night>/<chan>/<name>, and one more in raw/again/ with the name of
// one of them and other bytes, as when a camera server's sequence number
// was reset.
func makeArchive(t testing.TB, dir, mode string, nights, perNight int) archive {
	t.Helper()
	var a archive
	write := func(sub string, f synth.Frame) string {
		folder := filepath.Join(dir, "raw", sub, f.Channel)
		if err := os.MkdirAll(folder, 0o755); err != nil {
			t.Fatal(err)
		}
		path, err := synth.WriteFile(folder, f)
		if err != nil {
			t.Fatal(err)
		}
		return path
	}
	frame := func(night int, ch string, seq int) synth.Frame {
		f := synth.Default(ch, seq, mode)
		f.Start = time.Date(2026, 1, 19+night, 3, 12, 45, 678e6, time.UTC).Add(time.Duration(seq) * time.Minute)
		h := fnv.New64a()
		fmt.Fprintf(h, "%d.%s.%d", night, ch, seq)
		f.Seed = int64(h.Sum64())
		return f
	}
	for night := range nights {
		for _, ch := range synth.Channels {
			for seq := 1; seq <= perNight; seq++ {
				f := frame(night, ch, seq)
				a.files = append(a.files, write(synth.ObsDate(f.Start), f))
			}
		}
	}
	twin := frame(min(1, nights-1), "mods1r", min(3, perNight))
	twin.Start = twin.Start.Add(7 * time.Second)
	twin.Seed++
	a.twin = write("again", twin)
	a.files = append(a.files, a.twin)
	slices.Sort(a.files)
	a.list = filepath.Join(dir, "all.txt")
	if err := os.WriteFile(a.list, []byte(strings.Join(a.files, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return a
}

// tree returns the files under dir, by path relative to it, with their
// bytes; hidden folders (the task summaries) are left out.
func tree(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != dir && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		b, err := os.ReadFile(path)
		files[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
