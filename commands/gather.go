package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/obsdata/dataman/internal/condition"
	"github.com/obsdata/dataman/internal/exitcode"
)

// arrayScript is where the job array script is, for the rerun hint.
const arrayScript = "deploy/slurm/dataman-array.sbatch"

func gatherCommand() *cli.Command {
	return &cli.Command{
		Name:      "gather",
		Usage:     "gather the summaries of a job array's tasks: which tasks and files failed, and why",
		ArgsUsage: "SUMMARY|DIR...",
		Description: "Reads the summaries that `dataman condition --json` prints, from files or from every *.json\n" +
			"file in a folder (" + arrayScript + " leaves one per task in OUTDIR/.dataman-tasks/),\n" +
			"and prints for each job array: the tasks done, each failed task with its failed files and why,\n" +
			"the tasks that left no summary (they did not finish: killed, out of time, their node lost; their\n" +
			"Slurm log says why), and the command that runs those tasks again. Summaries of different lists,\n" +
			"output folders or array sizes are reported apart.",
		Flags: []cli.Flag{jsonFlag},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return exitcode.Usagef("no summaries given")
			}
			return runGather(c.Context, c.Args().Slice(), c.Bool(jsonFlag.Name), c.App.Writer)
		},
	}
}

var gatherStatuses = []exitStatus{
	{exitcode.OK, "every task of every array left a summary with no failed file"},
	{exitcode.Failure, "a task failed or left no summary, or a file was no summary"},
	statusUsage,
}

func runGather(_ context.Context, paths []string, asJSON bool, stdout io.Writer) error {
	g, err := condition.Gather(paths)
	if err != nil {
		return exitcode.New(exitcode.Usage, err)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(g); err != nil {
			return err
		}
	} else {
		printGathered(stdout, g)
	}
	if !g.Good() {
		return exitcode.Silent(exitcode.Failure)
	}
	return nil
}

func printGathered(w io.Writer, g condition.Gathered) {
	for _, a := range g.Arrays {
		what := fmt.Sprintf("array of %d tasks", a.Tasks)
		if a.Tasks == 0 {
			what = "run without --shard"
		}
		if a.FilesFrom != "" {
			what += " over " + a.FilesFrom
		}
		fmt.Fprintf(w, "%s into %s: %d tasks ok, %d failed, %d left no summary; %d files, %d failed\n",
			what, a.Out, len(a.OK), len(a.Failed), len(a.Missing), a.Files, a.FailedFiles)
		for _, f := range a.Failed {
			task := ""
			if f.Task >= 0 {
				task = fmt.Sprintf("task %d: ", f.Task)
			}
			for _, r := range f.Files {
				fmt.Fprintf(w, "FAILED  %s%s\n", task, r.Error)
			}
		}
		if len(a.Missing) > 0 {
			fmt.Fprintf(w, "MISSING task %s: no summary: the task did not finish (its Slurm log says why)\n", condition.ArraySpec(a.Missing))
		}
		// The extra dataman flags of the first submission are not known
		// here; the README says to give them again.
		if rerun := a.Rerun(); len(rerun) > 0 && a.Tasks > 0 && a.FilesFrom != "" {
			fmt.Fprintf(w, "rerun:  ARRAY_TASKS=%d sbatch --array=%s %s %s %s\n", a.Tasks, condition.ArraySpec(rerun),
				arrayScript, shellQuote(a.FilesFrom), shellQuote(a.Out))
		}
	}
	for _, u := range g.Unreadable {
		fmt.Fprintf(w, "UNREADABLE %s\n", u)
	}
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
