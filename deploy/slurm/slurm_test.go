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

// TestArray runs the commands of the README's "Reprocessing a whole
// archive" as written, on a private single-node Slurm, over a synthetic
// archive of 65 frames (4 nights, 4 channels, two raw files of one name in
// different folders) in 8 tasks, with one raw file cut short. It checks
// that its task fails in Slurm and in the gathered summaries, that it
// succeeds when run again alone once the file is whole, and that the
// outputs are then, file for file and byte for byte, those of one
// `dataman condition` on one machine.
func TestArray(t *testing.T) {
	need(t)
	readme := readmeBlocks(t)
	bin := buildDataman(t)
	c := startCluster(t)
	work := t.TempDir()
	a := makeArchive(t, work, "1k-2x2", 4, 4)
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

	// Cut short one raw file of task 3, which the README runs again (not
	// one of the two of one name): its task must fail, and only that one.
	const bad = 3
	victim := condition.Shard(a.files, bad, tasks)[0]
	whole, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(victim, whole[:len(whole)/2], 0o644); err != nil {
		t.Fatal(err)
	}

	// The README's commands run in work, where deploy/ is the repository's.
	deploy, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(deploy, filepath.Join(work, "deploy")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(work, "out")
	sh := func(block, job string) (string, error) {
		vars := fmt.Sprintf("raw=%s out=%s tasks=%d job=%s\n", filepath.Join(work, "raw"), out, tasks, job)
		cmd := c.command("bash", "-c", "set -euo pipefail\n"+vars+block)
		cmd.Dir = work
		cmd.Env = append(slices.Clip(cmd.Env), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
		b, err := cmd.CombinedOutput()
		t.Logf("$ %s\n%s", strings.ReplaceAll(strings.TrimSpace(block), "\n", "\n$ "), b)
		return string(b), err
	}

	// Make the list and submit.
	submit, err := sh(readme.submit+`echo "$job"`, "")
	if err != nil {
		t.Fatalf("the README's submission: %v", err)
	}
	job := lastLine(submit)
	if list, err := os.ReadFile(filepath.Join(work, "all.txt")); err != nil || string(list) != strings.Join(a.files, "\n")+"\n" {
		t.Fatalf("the README's list is not the archive's files, sorted: %v\n%s", err, list)
	}
	states := c.wait(job)
	for i := range tasks {
		st, ok := states[i]
		switch {
		case !ok:
			t.Errorf("task %d: not reported by scontrol", i)
		case i == bad && (st.State != "FAILED" || st.ExitCode != "1:0"):
			t.Errorf("task %d (with the cut file): %s %s, want FAILED 1:0", i, st.State, st.ExitCode)
		case i == bad && !strings.Contains(slurmLog(work, job, i), "dataman gather "+filepath.Join(out, ".dataman-tasks")):
			t.Errorf("task %d's Slurm log does not say where to look%s", i, slurmLog(work, job, i))
		case i != bad && st.State != "COMPLETED":
			t.Errorf("task %d: %s %s, want COMPLETED%s", i, st.State, st.ExitCode, slurmLog(work, job, i))
		}
	}

	// Check: Slurm's view and dataman's.
	check, err := sh(readme.check, job)
	if err == nil {
		t.Errorf("the README's check exits 0 with a task failed")
	}
	for _, want := range []string{
		fmt.Sprintf("ArrayTaskId=%d\tJobState=FAILED\tExitCode=1:0", bad),
		"ArrayTaskId=0\tJobState=COMPLETED\tExitCode=0:0",
		fmt.Sprintf("FAILED  task %d: %s: ", bad, victim),
		fmt.Sprintf("rerun:  ARRAY_TASKS=%d sbatch --array=%d deploy/slurm/dataman-array.sbatch %s %s", tasks, bad, filepath.Join(work, "all.txt"), out),
	} {
		if !strings.Contains(check, want) {
			t.Errorf("the README's check does not print %q", want)
		}
	}
	g := gather(t, bin, out)
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

	// A rerun array does not say how many tasks the first had: without
	// ARRAY_TASKS the task refuses to guess.
	env := []string{"PATH=" + filepath.Dir(bin) + ":" + os.Getenv("PATH")}
	script := filepath.Join(deploy, "slurm", "dataman-array.sbatch")
	job2 := c.sbatch(work, env, fmt.Sprintf("--array=%d", bad), script, a.list, out)
	if st := c.wait(job2)[bad]; st.State != "FAILED" || !strings.Contains(slurmLog(work, job2, bad), "set ARRAY_TASKS=N") {
		t.Errorf("rerun without ARRAY_TASKS: %s %s, want FAILED with a hint%s", st.State, st.ExitCode, slurmLog(work, job2, bad))
	}

	// Mended, the README's rerun succeeds; the rest of the shares is found
	// in place, identical, and left alone.
	if err := os.WriteFile(victim, whole, 0o644); err != nil {
		t.Fatal(err)
	}
	rerun, err := sh(readme.rerun+`echo "$job"`, job)
	if err != nil {
		t.Fatalf("the README's rerun: %v", err)
	}
	job3 := lastLine(rerun)
	for i, st := range c.wait(job3) {
		if st.State != "COMPLETED" {
			t.Errorf("rerun of task %d: %s %s%s", i, st.State, st.ExitCode, slurmLog(work, job3, i))
		}
	}
	check, err = sh(readme.check, job3)
	if err != nil || !strings.Contains(check, fmt.Sprintf("ArrayTaskId=%d\tJobState=COMPLETED", bad)) {
		t.Errorf("after the rerun, the README's check: %v\n%s", err, check)
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

// readme holds the shell blocks of the README's "Reprocessing a whole
// archive", less the first line of the first, which names the site's
// folders and array size.
type readme struct{ submit, check, rerun string }

func readmeBlocks(t *testing.T) readme {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n### Reprocessing a whole archive\n")
	section, _, _ = strings.Cut(section, "\n#")
	var blocks []string
	for ok {
		var block string
		if _, section, ok = strings.Cut(section, "\n```sh\n"); ok {
			block, section, _ = strings.Cut(section, "\n```\n")
			blocks = append(blocks, block+"\n")
		}
	}
	if len(blocks) < 3 || !strings.HasPrefix(blocks[0], "raw=") {
		t.Fatalf("README.md: want the section \"Reprocessing a whole archive\" to begin with three sh blocks, the first setting raw=; found %q", blocks)
	}
	_, submit, _ := strings.Cut(blocks[0], "\n")
	return readme{submit: submit, check: blocks[1], rerun: blocks[2]}
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
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

// gather runs dataman gather --json on the array's summaries.
func gather(t *testing.T, bin, out string) condition.Gathered {
	t.Helper()
	js, err := exec.Command(bin, "gather", "--json", filepath.Join(out, ".dataman-tasks")).Output()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	var g condition.Gathered
	if err := json.Unmarshal(js, &g); err != nil {
		t.Fatalf("dataman gather --json: %v\n%s", err, js)
	}
	if (err == nil) != g.Good() {
		t.Errorf("dataman gather exits with %v for a gathering that is good: %v", err, g.Good())
	}
	return g
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
