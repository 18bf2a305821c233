package slurm

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkArray conditions one synthetic archive (by default TestArray's:
// 65 frames of 1k-2x2 over 4 nights and 4 channels) on one machine with
// `dataman condition --jobs 2`, and as job arrays of 2, 8 and 32 tasks on a
// private single-node Slurm with one CPU per core, all in one run. It
// reports frames per second for each, what a task that does nothing costs
// (Slurm's own overhead per task), and from both how many frames a task
// should take for that overhead to stay under 5 %:
//
//	go test ./deploy/slurm -run '^$' -bench Array -benchtime 1x
//	BENCH_MODE=full BENCH_PER_NIGHT=2 go test ./deploy/slurm -run '^$' -bench Array -benchtime 1x
//
// BENCH_MODE is a readout mode of dataman synth, BENCH_PER_NIGHT the frames
// per channel and night, BENCH_TASKS the array sizes (comma-separated).
func BenchmarkArray(b *testing.B) {
	need(b)
	mode, perNight := envOr("BENCH_MODE", "1k-2x2"), envInt(b, "BENCH_PER_NIGHT", 4)
	sizes := strings.Split(envOr("BENCH_TASKS", "2,8,32"), ",")
	bin := buildDataman(b)
	c := startCluster(b)
	work := b.TempDir()
	a := makeArchive(b, work, mode, 4, perNight)
	frames := float64(len(a.files))
	script, err := filepath.Abs("dataman-array.sbatch")
	if err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(work, "out")
	fresh := func() {
		if err := os.RemoveAll(out); err != nil {
			b.Fatal(err)
		}
	}

	local := func() {
		if out, err := exec.Command(bin, "condition", "--by-night", "--jobs", "2", "--out", out, "--files-from", a.list).CombinedOutput(); err != nil {
			b.Fatalf("dataman condition: %v\n%s", err, out)
		}
	}
	// Untimed: the first run into fresh page cache is slower on a virtual
	// machine, and every measured run starts as the next ones do, with
	// the pages of the previous output just freed.
	local()

	var localFPS float64
	b.Run("condition-jobs2", func(b *testing.B) {
		var spent time.Duration
		for range b.N {
			fresh()
			start := time.Now()
			local()
			spent += time.Since(start)
		}
		localFPS = frames * float64(b.N) / spent.Seconds()
		b.ReportMetric(localFPS, "frames/s")
	})
	for _, size := range sizes {
		tasks, err := strconv.Atoi(size)
		if err != nil {
			b.Fatalf("BENCH_TASKS: %v", err)
		}
		b.Run("slurm-tasks="+size, func(b *testing.B) {
			var spent time.Duration
			for range b.N {
				fresh()
				start := time.Now()
				job := c.sbatch(work, []string{"DATAMAN=" + bin}, fmt.Sprintf("--array=0-%d", tasks-1), script, a.list, out)
				failed(b, c.wait(job))
				spent += time.Since(start)
			}
			b.ReportMetric(frames*float64(b.N)/spent.Seconds(), "frames/s")
		})
	}
	// A task that does nothing: what Slurm itself costs, per task and per
	// CPU (the tasks run one per CPU), and from submission to the end of a
	// lone task.
	const noops = 16
	b.Run("slurm-empty-tasks", func(b *testing.B) {
		var spent, alone time.Duration
		var overhead, latency float64
		for range b.N {
			start := time.Now()
			failed(b, c.wait(c.sbatch(work, nil, fmt.Sprintf("--array=0-%d", noops-1), "--output=/dev/null", "--wrap=true")))
			spent += time.Since(start)
			start = time.Now()
			failed(b, c.wait(c.sbatch(work, nil, "--array=0", "--output=/dev/null", "--wrap=true")))
			alone += time.Since(start)
		}
		overhead = spent.Seconds() * float64(c.cpus) / noops / float64(b.N)
		latency = alone.Seconds() / float64(b.N)
		b.ReportMetric(overhead, "s/task")
		b.ReportMetric(latency, "s-alone")
		if localFPS > 0 {
			// A frame costs about 2/localFPS CPU-seconds (--jobs 2 keeps
			// both cores busy); for Slurm's share of a task to stay under
			// 5 %, a task needs 20 times its overhead in frames.
			b.ReportMetric(20*overhead/(2/localFPS), "frames/task-for-5%")
		}
	})
}

// failed fails b if a task did not complete.
func failed(b *testing.B, tasks map[int]task) {
	b.Helper()
	for i, t := range tasks {
		if t.State != "COMPLETED" {
			b.Fatalf("task %d: %s %s", i, t.State, t.ExitCode)
		}
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envInt(b *testing.B, key string, def int) int {
	v, err := strconv.Atoi(envOr(key, strconv.Itoa(def)))
	if err != nil {
		b.Fatalf("%s: %v", key, err)
	}
	return v
}
