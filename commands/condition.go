package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/internal/condition"
	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/internal/logx"
	"github.com/obsdata/dataman/internal/place"
	"github.com/obsdata/dataman/internal/progress"
	"github.com/obsdata/dataman/internal/report"
	"github.com/obsdata/dataman/internal/workers"
)

func conditionCommand(version string) *cli.Command {
	return &cli.Command{
		Name:      "condition",
		Usage:     "condition raw files into DIR; nothing is stored or delivered",
		ArgsUsage: "RAW...",
		Description: "Writes, for each raw MODS file, DIR/<name>, or with --by-night DIR/<obsdate>/<name> as in\n" +
			"procDir, with the header fixes, the raw quadrants and CONPARS unchanged, and the MERGED image as\n" +
			"extension 6, every HDU with CHECKSUM and DATASUM. DIR and its folders are created. The raw file\n" +
			"is only read. Conditioning the same raw file twice gives identical bytes. A file that is\n" +
			"already conditioned is refused. The steps are switched by the processing keys of the config.\n\n" +
			"A name that already holds the same bytes is left alone; one that holds a different file follows\n" +
			"the collision policy of the stored copies, delivery.proc.collision: rename (the default) writes\n" +
			"the UNIQNAME, then <uniq>-2.fits, -3 and so on; error fails the file; overwrite replaces it. Raw files of\n" +
			"one name are placed one after the other in the order given, so the first keeps the name whatever\n" +
			"--jobs is; under error and overwrite two different ones are refused before anything is written.\n" +
			"Temporary files left in DIR by a writer that died are removed.\n\n" +
			"--shard I/N conditions only task I's share of the files, for a batch job array of N tasks\n" +
			"numbered from 0 (deploy/slurm/dataman-array.sbatch): the distinct names, numbered in the order\n" +
			"they first appear, go to task number mod N, each with all of its files. --json prints a summary\n" +
			"that `dataman gather` reads.\n\n" +
			"-o - writes the one RAW given to standard output instead, as a stream: to a pipe or a file,\n" +
			"never to a terminal, with nothing else on standard output (logs go to standard error). The\n" +
			"file is not placed atomically: after a failure (exit status 1) what was written is incomplete.",
		Flags: withConfigFlags(
			jsonFlag,
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Value: ".", TakesFile: true, Usage: "write the conditioned files into `DIR`, created if missing; - writes the one file to standard output"},
			&cli.BoolFlag{Name: "by-night", Usage: "write DIR/<obsdate>/<name>, as in procDir"},
			&cli.StringFlag{Name: "files-from", TakesFile: true, Usage: "read raw file names from `FILE`, one per line (- for stdin)"},
			&cli.StringFlag{Name: "shard", Usage: "condition only task `I/N`'s share of the files (0 <= I < N)"},
		),
		Action: func(c *cli.Context) error {
			ctx, cfg, err := setup(c)
			if err != nil {
				return err
			}
			files, err := fileArgs(c)
			if err != nil {
				return err
			}
			return runCondition(ctx, conditionOptions{
				Files:     files,
				FilesFrom: c.String("files-from"),
				Shard:     c.String("shard"),
				OutDir:    c.String("out"),
				ByNight:   c.Bool("by-night"),
				Policy:    place.Policy(cfg.Proc.Collision),
				Jobs:      cfg.Jobs,
				JSON:      c.Bool(jsonFlag.Name),
				Proc:      processing(cfg, version),
				Progress:  progress.IsTerminal(os.Stderr),
			}, c.App.Writer, c.App.ErrWriter)
		},
	}
}

// fileArgs collects file names from the arguments and --files-from.
func fileArgs(c *cli.Context) ([]string, error) {
	files := c.Args().Slice()
	if from := c.String("files-from"); from != "" {
		more, err := readList(from, c.App.Reader)
		if err != nil {
			return nil, exitcode.New(exitcode.Usage, fmt.Errorf("--files-from: %w", err))
		}
		files = append(files, more...)
	}
	if len(files) == 0 {
		return nil, exitcode.Usagef("no raw files given")
	}
	return files, nil
}

type conditionOptions struct {
	Files     []string
	FilesFrom string // for the summary
	Shard     string // "I/N", or empty for all the files
	OutDir    string
	ByNight   bool
	Policy    place.Policy
	Jobs      int
	JSON      bool
	Proc      fits.Options
	Progress  bool
}

func runCondition(ctx context.Context, o conditionOptions, stdout, stderr io.Writer) error {
	if o.OutDir == "-" {
		return runConditionStdout(ctx, o, stdout)
	}
	log := logx.From(ctx)
	start := time.Now()
	files := o.Files
	if o.Shard != "" {
		i, n, err := condition.ParseShard(o.Shard)
		if err != nil {
			return exitcode.New(exitcode.Usage, err)
		}
		files = condition.Shard(files, i, n)
		log.Info("shard", "shard", o.Shard, "files", len(files), "of", len(o.Files))
	}
	bar := progress.New(stderr, o.Progress, len(files), "conditioning")
	results, err := condition.Run(ctx, condition.Options{
		Files: files, OutDir: o.OutDir, ByNight: o.ByNight, Policy: o.Policy, Jobs: o.Jobs, Proc: o.Proc, Log: log,
		Done: func(r condition.Result) {
			switch {
			case r.OK:
				log.Debug("conditioned", "file", r.Raw, "out", r.Out, "seconds", r.Seconds)
			case !o.JSON:
				// Said once, as it happens, above the progress bar; the
				// summary counts it.
				PrintError(stderr, errors.New(r.Error))
			}
			bar.Add(1)
		},
	})
	bar.Done()
	if err != nil {
		return exitcode.New(exitcode.Usage, err)
	}
	sum := condition.NewSummary(results)
	sum.Shard, sum.FilesFrom, sum.Out, sum.Seconds = o.Shard, o.FilesFrom, o.OutDir, time.Since(start).Seconds()
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return err
		}
	} else {
		printResults(stdout, sum)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("condition: stopped by a signal after %d of %d files; run it again to do the rest (files done are left alone)",
			sum.Files-sum.NotStarted, sum.Files)
	}
	if sum.Failed > 0 {
		return exitcode.Silent(exitcode.Failure)
	}
	return nil
}

// runConditionStdout conditions the one raw file of o into stdout. A
// terminal is refused, since FITS bytes would only garble it, and so is the
// raw file itself (condition -o - RAW >> RAW).
func runConditionStdout(ctx context.Context, o conditionOptions, stdout io.Writer) error {
	for _, c := range []struct {
		set  bool
		flag string
	}{{o.JSON, "--json"}, {o.ByNight, "--by-night"}, {o.Shard != "", "--shard"}} {
		if c.set {
			return exitcode.Usagef("-o - writes one file to standard output; %s cannot go with it", c.flag)
		}
	}
	if len(o.Files) != 1 {
		return exitcode.Usagef("-o - writes one file to standard output; %d raw files given", len(o.Files))
	}
	raw := o.Files[0]
	if f, ok := stdout.(*os.File); ok {
		if progress.IsTerminal(f) {
			return exitcode.New(exitcode.Usage, errors.New("-o -: standard output is a terminal: refusing to write FITS bytes to it"),
				"redirect it to a file or a pipe: dataman condition -o - RAW > FILE")
		}
		if same, err := sameOpenFile(f, raw); err == nil && same {
			return exitcode.Usagef("-o -: standard output is the raw file %s, which is only ever read", raw)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("condition: stopped by a signal before %s", raw)
	}
	fr, err := condition.ToWriter(raw, stdout, o.Proc)
	if err != nil {
		return err
	}
	log := logx.From(ctx)
	for _, w := range fr.Warnings {
		log.Warn(w, "file", raw)
	}
	log.Debug("conditioned", "file", raw, "out", "-", "bytes", fr.OutSize)
	return nil
}

// sameOpenFile reports whether the open file f is the file at path.
func sameOpenFile(f *os.File, path string) (bool, error) {
	fs, err := f.Stat()
	if err != nil {
		return false, err
	}
	ps, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	return os.SameFile(fs, ps), nil
}

// printResults writes a line for each file done and the count; failures
// were said on stderr as they happened.
func printResults(w io.Writer, sum condition.Summary) {
	for _, r := range sum.Results {
		if !r.OK {
			continue
		}
		var note string
		if r.Kept {
			note = ", identical file already there"
		}
		if filepath.Base(r.Out) != filepath.Base(r.Raw) {
			note += fmt.Sprintf(", renamed: %s holds a different file", filepath.Base(r.Raw))
		}
		fmt.Fprintf(w, "ok     %s -> %s (%d HDUs, %s, %.3f s%s)\n", r.Raw, r.Out, r.HDUs, report.Bytes(r.Bytes), r.Seconds, note)
	}
	fmt.Fprintf(w, "conditioned %d of %d files, %d failed\n", sum.Files-sum.Failed, sum.Files, sum.Failed)
}

func sameFile(a, b string) (bool, error) {
	sa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(sa, sb), nil
}

// forEach runs fn for 0..n-1 on at most jobs goroutines, stopping to start
// new items once ctx is done.
var forEach = workers.ForEach
