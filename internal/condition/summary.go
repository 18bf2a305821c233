package condition

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Summary is what `dataman condition --json` prints: one run, a task of a
// job array or a whole run, and the outcome of each of its files. The
// tasks of a job array leave one each, and Gather reads them.
type Summary struct {
	Shard      string   `json:"shard,omitempty"`      // "3/8": task 3 of an 8-task array
	FilesFrom  string   `json:"files_from,omitempty"` // the list the share was taken from
	Out        string   `json:"out"`
	Files      int      `json:"files"`
	Failed     int      `json:"failed"`                // NotStarted included
	NotStarted int      `json:"not_started,omitempty"` // stopped by a signal before these
	Seconds    float64  `json:"seconds"`
	Results    []Result `json:"results"`
}

// NewSummary counts the results.
func NewSummary(results []Result) Summary {
	s := Summary{Files: len(results), Results: results}
	for _, r := range results {
		if !r.OK {
			s.Failed++
		}
		if r.NotStarted {
			s.NotStarted++
		}
	}
	return s
}

// Array is one job array (or one run without --shard), as its summaries
// tell it.
type Array struct {
	FilesFrom   string        `json:"files_from,omitempty"`
	Out         string        `json:"out"`
	Tasks       int           `json:"tasks"` // the array's size; 0 for runs without --shard
	OK          []int         `json:"ok"`    // tasks whose every file was done
	Failed      []TaskFailure `json:"failed,omitempty"`
	Missing     []int         `json:"missing,omitempty"` // tasks that left no summary: they did not finish
	Files       int           `json:"files"`
	FailedFiles int           `json:"failed_files"`
}

// TaskFailure is a task with failed files.
type TaskFailure struct {
	Task    int      `json:"task"`    // -1 for a run without --shard
	Summary string   `json:"summary"` // the file it was read from
	Files   []Result `json:"files"`   // the failed ones
}

// Rerun lists the tasks to run again: the failed and the missing.
func (r Array) Rerun() []int {
	var tasks []int
	for _, f := range r.Failed {
		if f.Task >= 0 {
			tasks = append(tasks, f.Task)
		}
	}
	tasks = append(tasks, r.Missing...)
	slices.Sort(tasks)
	return tasks
}

// Good reports whether every task of the array left a summary with no
// failure.
func (r Array) Good() bool { return len(r.Failed) == 0 && len(r.Missing) == 0 }

// Gathered is what Gather found.
type Gathered struct {
	Arrays []Array `json:"arrays"`
	// Unreadable lists files that are no summary: most often one cut short
	// as its task was killed.
	Unreadable []string `json:"unreadable,omitempty"`
}

// Good reports whether every array is good and every file was a summary.
func (g Gathered) Good() bool {
	for _, r := range g.Arrays {
		if !r.Good() {
			return false
		}
	}
	return len(g.Unreadable) == 0
}

// Gather reads summaries, from files or from every *.json file in
// folders, and sorts them into arrays: by list, output folder and array
// size, so that the summaries of an earlier array into the same folder
// are told apart.
func Gather(paths []string) (Gathered, error) {
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return Gathered{}, err
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		more, err := filepath.Glob(filepath.Join(p, "*.json"))
		if err != nil {
			return Gathered{}, err
		}
		files = append(files, more...)
	}
	type key struct {
		list, out string
		n         int
	}
	arrays := map[key]*Array{}
	seen := map[key]map[int]bool{}
	var g Gathered
	for _, f := range files {
		s, err := readSummary(f)
		if err != nil {
			g.Unreadable = append(g.Unreadable, fmt.Sprintf("%s: %v", f, err))
			continue
		}
		task, n := -1, 0
		if s.Shard != "" {
			if task, n, err = ParseShard(s.Shard); err != nil {
				g.Unreadable = append(g.Unreadable, fmt.Sprintf("%s: %v", f, err))
				continue
			}
		}
		k := key{s.FilesFrom, s.Out, n}
		r := arrays[k]
		if r == nil {
			r = &Array{FilesFrom: s.FilesFrom, Out: s.Out, Tasks: n}
			arrays[k], seen[k] = r, map[int]bool{}
		}
		seen[k][task] = true
		r.Files += s.Files
		r.FailedFiles += s.Failed
		if s.Failed == 0 {
			r.OK = append(r.OK, task)
			continue
		}
		tf := TaskFailure{Task: task, Summary: f}
		for _, res := range s.Results {
			if !res.OK {
				tf.Files = append(tf.Files, res)
			}
		}
		r.Failed = append(r.Failed, tf)
	}
	for k, r := range arrays {
		for i := range r.Tasks {
			if !seen[k][i] {
				r.Missing = append(r.Missing, i)
			}
		}
		slices.Sort(r.OK)
		slices.SortFunc(r.Failed, func(a, b TaskFailure) int { return cmp.Compare(a.Task, b.Task) })
		g.Arrays = append(g.Arrays, *r)
	}
	slices.SortFunc(g.Arrays, func(a, b Array) int {
		return cmp.Or(cmp.Compare(a.FilesFrom, b.FilesFrom), cmp.Compare(a.Out, b.Out), cmp.Compare(a.Tasks, b.Tasks))
	})
	return g, nil
}

func readSummary(path string) (Summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Summary{}, unwrapPath(err)
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return Summary{}, fmt.Errorf("not a summary of dataman condition --json: %w", err)
	}
	if s.Results == nil {
		return Summary{}, fmt.Errorf("not a summary of dataman condition --json: no results")
	}
	return s, nil
}

// ArraySpec writes task numbers as sbatch --array wants them: 3,5,7-9.
func ArraySpec(tasks []int) string {
	var parts []string
	for i := 0; i < len(tasks); {
		j := i
		for j+1 < len(tasks) && tasks[j+1] == tasks[j]+1 {
			j++
		}
		switch {
		case j == i:
			parts = append(parts, strconv.Itoa(tasks[i]))
		default:
			parts = append(parts, fmt.Sprintf("%d-%d", tasks[i], tasks[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
