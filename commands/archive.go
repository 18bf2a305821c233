package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/obsdata/dataman/internal/config"
	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/logx"
	"github.com/obsdata/dataman/internal/progress"
)

func archiveCommand(version string) *cli.Command {
	return &cli.Command{
		Name:      "archive",
		Usage:     "condition raw files and store them in procDir/<obsdate>/",
		ArgsUsage: "RAW...",
		Description: "Takes each raw file through the shared delivery path: condition, then store in\n" +
			"procDir/<obsdate>/<name>, recording each step in the ledger. With --dispatch the stored copy\n" +
			"is also dispatched to repoDir and <CHAN>.new updated, as listen and sweep do. RAW is a raw\n" +
			"file name or a path to it; it is always read from dataDir/<chan>/ (use --set paths.dataDir=DIR\n" +
			"to reprocess files kept elsewhere). Files already done are reported and left alone.",
		Flags: withConfigFlags(
			dryRunFlag, jsonFlag,
			&cli.BoolFlag{Name: "dispatch", Usage: "also dispatch to repoDir and update <CHAN>.new"},
			&cli.StringFlag{Name: "files-from", TakesFile: true, Usage: "read raw file names from `FILE`, one per line (- for stdin)"},
			&cli.StringSliceFlag{Name: "night", Usage: "every raw file of observing night `CCYYMMDD` in dataDir/<chan>/ (repeatable)"},
		),
		Action: func(c *cli.Context) error {
			mode := deliver.Archive
			if c.Bool("dispatch") {
				mode = deliver.Deliver
			}
			return deliverAction(c, version, mode, func(cfg *config.Config) ([]string, error) {
				var names []string
				for _, night := range c.StringSlice("night") {
					more, err := rawNamesOfNight(cfg.Paths.DataDir, night)
					if err != nil {
						return nil, err
					}
					names = append(names, more...)
				}
				if len(names) > 0 && c.Args().Len() == 0 && c.String("files-from") == "" {
					return names, nil
				}
				files, err := fileArgs(c)
				if err != nil {
					return nil, err
				}
				more, err := rawNames(files, cfg.Paths.DataDir)
				return append(names, more...), err
			})
		},
	}
}

func dispatchCommand(version string) *cli.Command {
	return &cli.Command{
		Name:      "dispatch",
		Usage:     "copy stored files to repoDir (/newdata) and update <CHAN>.new",
		ArgsUsage: "(FILE... | --night CCYYMMDD)",
		Description: "Copies each stored file procDir/<obsdate>/<name> to repoDir through the shared delivery path:\n" +
			"a temporary file, its SHA-256 checked against the stored copy before the rename, then\n" +
			"<CHAN>.new replaced atomically. FILE is a raw or stored file name; --night takes every file\n" +
			"stored for that observing night. A destination that is missing, full or hung leaves the\n" +
			"dispatch pending in the ledger, for the sweep or listen to retry. A copy the archive took from\n" +
			"repoDir (delivered, then gone) is sent again only with --redeliver.",
		Flags: withConfigFlags(
			dryRunFlag, jsonFlag,
			&cli.StringSliceFlag{Name: "night", Usage: "every file stored for observing night `CCYYMMDD` (repeatable)"},
			redeliverFlag,
		),
		Action: func(c *cli.Context) error {
			mode := deliver.DispatchOnly
			if c.Bool(redeliverFlag.Name) {
				mode |= deliver.Redeliver
			}
			return deliverAction(c, version, mode, func(cfg *config.Config) ([]string, error) {
				names := c.Args().Slice()
				for i, n := range names {
					names[i] = filepath.Base(n)
				}
				for _, night := range c.StringSlice("night") {
					more, err := storedNames(cfg.Paths.ProcDir, night)
					if err != nil {
						return nil, err
					}
					names = append(names, more...)
				}
				if len(names) == 0 {
					return nil, exitcode.Usagef("give files or --night")
				}
				return names, nil
			})
		},
	}
}

func checkNight(night string) error {
	if len(night) != 8 || strings.Trim(night, "0123456789") != "" {
		return exitcode.Usagef("--night %q: want CCYYMMDD", night)
	}
	return nil
}

// storedNames lists the raw-named files stored for one night.
func storedNames(procDir, night string) ([]string, error) {
	if err := checkNight(night); err != nil {
		return nil, err
	}
	return namesIn([]string{filepath.Join(procDir, night)}, night)
}

// rawNamesOfNight lists the raw files of one night in every channel folder.
func rawNamesOfNight(dataDir, night string) ([]string, error) {
	if err := checkNight(night); err != nil {
		return nil, err
	}
	dirs, err := filepath.Glob(filepath.Join(dataDir, "*"))
	if err != nil {
		return nil, err
	}
	return namesIn(dirs, night)
}

// namesIn lists the regular files in dirs named like raw files of night.
func namesIn(dirs []string, night string) ([]string, error) {
	var names []string
	for _, dir := range dirs {
		ents, err := os.ReadDir(dir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
				continue
			}
			return nil, fmt.Errorf("night %s: %w", night, err)
		}
		for _, e := range ents {
			if n, err := frame.ParseName(e.Name()); err == nil && n.ObsDate == night && e.Type().IsRegular() {
				names = append(names, e.Name())
			}
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("night %s: no files in %s", night, strings.Join(dirs, ", "))
	}
	sort.Strings(names)
	return names, nil
}

// rawNames turns arguments into raw base names, refusing a path outside
// dataDir/<chan>/: the ledger keys a raw file by its place in the layout.
func rawNames(args []string, dataDir string) ([]string, error) {
	var out []string
	for _, a := range args {
		base := filepath.Base(a)
		n, err := frame.ParseName(base)
		if err != nil {
			return nil, exitcode.New(exitcode.Usage, err)
		}
		if strings.ContainsRune(a, filepath.Separator) {
			want := filepath.Join(dataDir, n.Chan, base)
			if same, err := sameFile(a, want); err != nil || !same {
				return nil, exitcode.New(exitcode.Usage, fmt.Errorf("%s is not %s", a, want),
					"raw files are read from dataDir/<chan>/; use --set paths.dataDir=DIR")
			}
		}
		out = append(out, base)
	}
	return out, nil
}

// deliveryResult is one file's line in the summary.
type deliveryResult struct {
	File       string   `json:"file"`
	OK         bool     `json:"ok"`
	Already    bool     `json:"already,omitempty"`
	Pending    bool     `json:"pending,omitempty"`
	Stored     string   `json:"stored,omitempty"`
	Dispatched string   `json:"dispatched,omitempty"`
	Actions    []string `json:"actions,omitempty"`
	Error      string   `json:"error,omitempty"`
	Seconds    float64  `json:"seconds"`
}

type deliveryOptions struct {
	Names    []string
	Mode     deliver.Mode
	Jobs     int
	JSON     bool
	Progress bool
	Verb     string
}

func deliverAction(c *cli.Context, version string, mode deliver.Mode, names func(*config.Config) ([]string, error)) error {
	ctx, cfg, err := setup(c)
	if err != nil {
		return err
	}
	list, err := names(cfg)
	if err != nil {
		return err
	}
	if c.Bool(dryRunFlag.Name) {
		mode |= deliver.DryRun
	}
	// The built-in default's empty folders are dataman's own sandbox: a dry
	// run creates them too, so that it predicts what the real run will do.
	if err := makeDefaultDirs(cfg); err != nil {
		return err
	}
	d, err := newDeliverer(cfg, version, logx.From(ctx), false)
	if err != nil {
		return exitcode.New(exitcode.Usage, err)
	}
	defer d.Close()
	return runDelivery(ctx, d, deliveryOptions{
		Names: list, Mode: mode, Jobs: cfg.Jobs, JSON: c.Bool(jsonFlag.Name),
		Progress: progress.IsTerminal(os.Stderr), Verb: c.Command.Name,
	}, c.App.Writer, c.App.ErrWriter)
}

// ensurer is the one delivery path, as the commands see it.
type ensurer interface {
	Ensure(ctx context.Context, rawName string, how deliver.Mode) (deliver.Report, error)
}

func runDelivery(ctx context.Context, d ensurer, o deliveryOptions, stdout, stderr io.Writer) error {
	log := logx.From(ctx)
	results := make([]deliveryResult, len(o.Names))
	done := make([]bool, len(o.Names))
	bar := progress.New(stderr, o.Progress, len(o.Names), o.Verb)
	forEach(ctx, len(o.Names), o.Jobs, func(i int) {
		start := time.Now()
		rep, err := d.Ensure(ctx, o.Names[i], o.Mode)
		r := deliveryResult{File: o.Names[i], Already: rep.Already, Pending: rep.Pending, Stored: rep.Stored,
			Dispatched: rep.Dispatched, Actions: rep.Actions, Seconds: time.Since(start).Seconds()}
		switch {
		case err == nil:
			r.OK = true
			log.Debug(o.Verb, "file", o.Names[i], "actions", strings.Join(rep.Actions, "; "),
				"condition", rep.Timings.Condition, "store", rep.Timings.Store, "dispatch", rep.Timings.Dispatch)
		case errors.Is(err, deliver.ErrPending):
			r.Error = err.Error()
		default:
			// Said once, as it happens, above the progress bar; the
			// summary counts it.
			r.Error = err.Error()
			if !o.JSON {
				PrintError(stderr, err)
			}
		}
		results[i], done[i] = r, true
		bar.Add(1)
	})
	bar.Done()
	failed, pending, finished := 0, 0, 0
	for i, r := range results {
		switch {
		case !done[i]:
			continue
		case r.Pending:
			pending++
		case !r.OK:
			failed++
		}
		finished++
	}
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(results[:finished]); err != nil {
			return err
		}
	} else {
		dry := ""
		if o.Mode&deliver.DryRun != 0 {
			dry = " (dry run: nothing changed)"
		}
		for i, r := range results {
			switch {
			case !done[i] || !r.OK && !r.Pending:
			case r.Pending:
				msg := r.Error
				if msg == "" {
					msg = r.File + ": " + strings.Join(r.Actions, "; ")
				}
				fmt.Fprintf(stdout, "PENDING %s\n", msg)
			default:
				fmt.Fprintf(stdout, "ok      %s: %s\n", r.File, strings.Join(r.Actions, "; "))
			}
		}
		fmt.Fprintf(stdout, "%s: %d files, %d ok, %d pending, %d failed%s\n", o.Verb, finished, finished-failed-pending, pending, failed, dry)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s: stopped by a signal after %d of %d files; run it again to do the rest (files done are left alone)",
			o.Verb, finished, len(o.Names))
	}
	if failed+pending > 0 {
		return exitcode.Silent(exitcode.Failure)
	}
	return nil
}
