package commands

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/obsdata/dataman/internal/config"
	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/logx"
	"github.com/obsdata/dataman/internal/progress"
	"github.com/obsdata/dataman/internal/report"
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
	return frame.Layout{ProcDir: procDir}.StoredOfNight(night)
}

// rawNamesOfNight lists the raw files of one night in every channel folder.
func rawNamesOfNight(dataDir, night string) ([]string, error) {
	if err := checkNight(night); err != nil {
		return nil, err
	}
	return frame.Layout{DataDir: dataDir}.RawOfNight(night)
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
	d, err := newDeliverer(cfg, version, logx.From(ctx))
	if err != nil {
		return exitcode.New(exitcode.Usage, err)
	}
	defer d.Close()
	return report.Deliveries(ctx, d, report.DeliveryOptions{
		Names: list, Mode: mode, Jobs: cfg.Jobs, JSON: c.Bool(jsonFlag.Name),
		Progress: progress.IsTerminal(os.Stderr), Verb: c.Command.Name,
	}, c.App.Writer, c.App.ErrWriter)
}
