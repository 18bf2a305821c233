package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/internal/atomicfile"
	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/internal/logx"
	"github.com/obsdata/dataman/internal/progress"
)

func conditionCommand(version string) *cli.Command {
	return &cli.Command{
		Name:      "condition",
		Usage:     "condition raw files into DIR; nothing is stored or delivered",
		ArgsUsage: "RAW...",
		Description: "Writes, for each raw MODS file, DIR/<same name> with the header fixes, the raw quadrants and\n" +
			"CONPARS unchanged, and the MERGED image as extension 6, every HDU with CHECKSUM and DATASUM.\n" +
			"The raw file is only read. Conditioning the same raw file twice gives identical bytes. A file\n" +
			"that is already conditioned is refused. The steps are switched by the processing keys of the config.",
		Flags: []cli.Flag{
			configFlag, setFlag, logLevelFlag, verboseFlag, jobsFlag, jsonFlag,
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Value: ".", TakesFile: true, Usage: "write the conditioned files into `DIR`"},
			&cli.StringFlag{Name: "files-from", TakesFile: true, Usage: "read raw file names from `FILE`, one per line (- for stdin)"},
		},
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
				Files:    files,
				OutDir:   c.String("out"),
				Jobs:     cfg.Jobs,
				JSON:     c.Bool(jsonFlag.Name),
				Proc:     processing(cfg, version),
				Progress: progress.IsTerminal(os.Stderr),
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
	Files    []string
	OutDir   string
	Jobs     int
	JSON     bool
	Proc     fits.Options
	Progress bool
}

// conditionResult is one file's line in the summary.
type conditionResult struct {
	Raw      string   `json:"raw"`
	Out      string   `json:"out,omitempty"`
	OK       bool     `json:"ok"`
	Error    string   `json:"error,omitempty"`
	Bytes    int64    `json:"bytes,omitempty"`
	HDUs     int      `json:"hdus,omitempty"`
	UniqName string   `json:"uniqname,omitempty"`
	Seconds  float64  `json:"seconds"`
	Warnings []string `json:"warnings,omitempty"`
}

func runCondition(ctx context.Context, o conditionOptions, stdout, stderr io.Writer) error {
	log := logx.From(ctx)
	if st, err := os.Stat(o.OutDir); err != nil || !st.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the message names the folder already
		}
		return exitcode.New(exitcode.Usage, fmt.Errorf("%s: write: --out: %w", o.OutDir, err))
	}
	results := make([]conditionResult, len(o.Files))
	bar := progress.New(stderr, o.Progress, len(o.Files), "conditioning")
	forEach(ctx, len(o.Files), o.Jobs, func(i int) {
		start := time.Now()
		r := conditionResult{Raw: o.Files[i]}
		res, out, err := conditionFile(o.Files[i], o.OutDir, o.Proc)
		r.Seconds = time.Since(start).Seconds()
		if err != nil {
			r.Error = err.Error()
			log.Error("condition failed", "file", o.Files[i], "err", err)
		} else {
			r.OK, r.Out, r.Bytes, r.HDUs, r.UniqName, r.Warnings = true, out, res.OutSize, res.HDUs, res.UniqName, res.Warnings
			for _, w := range res.Warnings {
				log.Warn(w, "file", o.Files[i])
			}
			// Under cron or systemd the log lines are the progress; on a
			// terminal the bar is, and the lines would break it.
			level := slog.LevelInfo
			if o.Progress {
				level = slog.LevelDebug
			}
			log.Log(ctx, level, "conditioned", "file", o.Files[i], "out", out, "seconds", r.Seconds)
		}
		results[i] = r
		bar.Add(1)
	})
	bar.Done()
	failed := 0
	for _, r := range results {
		if !r.OK {
			failed++
		}
	}
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			if r.OK {
				fmt.Fprintf(stdout, "ok     %s -> %s (%d HDUs, %s, %.3f s)\n", r.Raw, r.Out, r.HDUs, humanBytes(r.Bytes), r.Seconds)
			} else {
				fmt.Fprintf(stdout, "FAILED %s\n", r.Error)
			}
		}
		fmt.Fprintf(stdout, "conditioned %d of %d files, %d failed\n", len(results)-failed, len(results), failed)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if failed > 0 {
		for _, r := range results {
			if !r.OK {
				PrintError(stderr, errors.New(r.Error))
			}
		}
		return exitcode.Silent(exitcode.Failure)
	}
	return nil
}

// conditionFile conditions one raw file into dir. Errors read
// "<file>: <step>: <reason>"; on any error nothing is left under the final
// name.
func conditionFile(rawPath, dir string, opts fits.Options) (*fits.Result, string, error) {
	name := filepath.Base(rawPath)
	out := filepath.Join(dir, name)
	if same, _ := sameFile(rawPath, out); same {
		return nil, "", fmt.Errorf("%s: write: the output %s would replace the raw file; use --out", rawPath, out)
	}
	raw, err := fits.Open(rawPath)
	if err != nil {
		return nil, "", fmt.Errorf("%s: read: %w", rawPath, err)
	}
	defer raw.Close()
	tmp, err := atomicfile.Create(dir, name, 0o644)
	if err != nil {
		return nil, "", fmt.Errorf("%s: write: %w", rawPath, err)
	}
	res, err := fits.Condition(raw, tmp, opts)
	if err != nil {
		tmp.Abort()
		return nil, "", fmt.Errorf("%s: %w", rawPath, err)
	}
	if err := tmp.Commit(); err != nil {
		return nil, "", fmt.Errorf("%s: write: %w", rawPath, err)
	}
	return res, out, nil
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
func forEach(ctx context.Context, n, jobs int, fn func(i int)) {
	jobs = max(1, min(jobs, n))
	next := make(chan int)
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
