package slurm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/obsdata/dataman/internal/condition"
)

// TestArray submits dataman-array.sbatch to a private single-node Slurm
// over a synthetic archive of 65 frames (4 nights, 4 channels, two raw
// files of one name in different folders) in 8 tasks, with one raw file
// cut short, and checks that its task fails in Slurm and in the gathered
// summaries, that it succeeds when run again alone once the file is
// whole, and that the outputs are then, file for file and byte for byte,
// those of one `dataman condition` on one machine.
func TestArray(t *testing.T) {
	need(t)
	bin := buildDataman(t)
	c := startCluster(t)
	work := t.TempDir()
	a := makeArchive(t, work, "1k-2x2", 4, 4)
	script, err := filepath.Abs("dataman-array.sbatch")
	if err != nil {
		t.Fatal(err)
	}
	const tasks = 8
	if len(a.files) < 64 {
		t.Fatalf("the archive has %d frames, want at least 64", len(a.files))
	}

	ref := filepath.Join(work, "ref")
	if out, err := exec.Command(bin, "condition", "--by-night", "--out", ref, "--files-from", a.list).CombinedOutput(); err != nil {
		t.Fatalf("dataman condition: %v\n%s", err, out)
	}
	want := tree(t, ref)
	if len(want) != len(a.files) {
		t.Fatalf("the single-machine run wrote %d files for %d raw files", len(want), len(a.files))
	}

	// Cut short one raw file (not one of the two of one name): its task
	// must fail, and only that one.
	victim := a.files[len(a.files)/3]
	bad := taskOf(a.files, victim, tasks)
	whole, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(victim, whole[:len(whole)/2], 0o644); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(work, "out")
	env := []string{"DATAMAN=" + bin}
	job := c.sbatch(work, env, fmt.Sprintf("--array=0-%d", tasks-1), script, a.list, out)
	states := c.wait(job)
	for i := range tasks {
		st, ok := states[i]
		switch {
		case !ok:
			t.Errorf("task %d: not reported by scontrol", i)
		case i == bad && (st.State != "FAILED" || st.ExitCode != "1:0"):
			t.Errorf("task %d (with the cut file): %s %s, want FAILED 1:0", i, st.State, st.ExitCode)
		case i != bad && st.State != "COMPLETED":
			t.Errorf("task %d: %s %s, want COMPLETED%s", i, st.State, st.ExitCode, slurmLog(work, job, i))
		}
	}

	g, human := gather(t, bin, out)
	if g.Good() || len(g.Arrays) != 1 || len(g.Unreadable) != 0 {
		t.Fatalf("gathered: %+v", g)
	}
	arr := g.Arrays[0]
	if arr.Tasks != tasks || len(arr.OK) != tasks-1 || len(arr.Missing) != 0 || len(arr.Failed) != 1 ||
		arr.Failed[0].Task != bad || len(arr.Failed[0].Files) != 1 || arr.Failed[0].Files[0].Raw != victim {
		t.Errorf("gathered array: %+v", arr)
	}
	if arr.Files != len(a.files) || arr.FailedFiles != 1 {
		t.Errorf("gathered %d files, %d failed; want %d, 1", arr.Files, arr.FailedFiles, len(a.files))
	}
	rerun := fmt.Sprintf("ARRAY_TASKS=%d sbatch --array=%d ", tasks, bad)
	if !strings.Contains(human, "FAILED  task "+fmt.Sprint(bad)+": "+victim+": ") || !strings.Contains(human, rerun) {
		t.Errorf("dataman gather prints:\n%s", human)
	}

	// A rerun array does not say how many tasks the first had: without
	// ARRAY_TASKS the task refuses to guess.
	job2 := c.sbatch(work, env, fmt.Sprintf("--array=%d", bad), script, a.list, out)
	if st := c.wait(job2)[bad]; st.State != "FAILED" || !strings.Contains(slurmLog(work, job2, bad), "set ARRAY_TASKS=N") {
		t.Errorf("rerun without ARRAY_TASKS: %s %s, want FAILED with a hint%s", st.State, st.ExitCode, slurmLog(work, job2, bad))
	}

	// Mended, the failed task alone succeeds; the rest of its share is
	// found in place, identical, and left alone.
	if err := os.WriteFile(victim, whole, 0o644); err != nil {
		t.Fatal(err)
	}
	job3 := c.sbatch(work, append(env, fmt.Sprintf("ARRAY_TASKS=%d", tasks)), fmt.Sprintf("--array=%d", bad), script, a.list, out)
	if st := c.wait(job3)[bad]; st.State != "COMPLETED" {
		t.Fatalf("rerun of task %d: %s %s%s", bad, st.State, st.ExitCode, slurmLog(work, job3, bad))
	}
	if g, human := gather(t, bin, out); !g.Good() {
		t.Errorf("after the rerun, dataman gather prints:\n%s", human)
	}
	var sum condition.Summary
	readJSON(t, filepath.Join(out, ".dataman-tasks", fmt.Sprintf("task-%d-of-%d.json", bad, tasks)), &sum)
	for _, r := range sum.Results {
		if r.Raw != victim && !r.Kept {
			t.Errorf("rerun of task %d wrote %s again", bad, r.Out)
		}
	}

	got := tree(t, out)
	for name, b := range want {
		switch g, ok := got[name]; {
		case !ok:
			t.Errorf("%s: missing from the array's output", name)
		case !bytes.Equal(g, b):
			t.Errorf("%s: differs from the single-machine run", name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: in the array's output only", name)
		}
	}
}

// taskOf is the task of n whose share has file.
func taskOf(files []string, file string, n int) int {
	for i := range n {
		if slices.Contains(condition.Shard(files, i, n), file) {
			return i
		}
	}
	return -1
}

// gather runs dataman gather on the array's summaries, twice: --json for
// the test, and as people read it.
func gather(t *testing.T, bin, out string) (condition.Gathered, string) {
	t.Helper()
	dir := filepath.Join(out, ".dataman-tasks")
	js, err := exec.Command(bin, "gather", "--json", dir).Output()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	var g condition.Gathered
	if err := json.Unmarshal(js, &g); err != nil {
		t.Fatalf("dataman gather --json: %v\n%s", err, js)
	}
	human, err := exec.Command(bin, "gather", dir).Output()
	if (err == nil) != g.Good() {
		t.Errorf("dataman gather exits with %v for a gathering that is good: %v", err, g.Good())
	}
	return g, string(human)
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// slurmLog is a task's Slurm output, for a failure message.
func slurmLog(dir, job string, task int) string {
	b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("slurm-%s_%d.out", job, task)))
	if err != nil {
		return ""
	}
	return "\n--- slurm log ---\n" + string(b)
}
