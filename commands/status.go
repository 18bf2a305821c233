package commands

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/obsdata/dataman/internal/config"
	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/logx"
	"github.com/obsdata/dataman/internal/status"
)

// statusThresholds are the --check flags, each overriding its config key.
var statusThresholds = []struct{ flag, key, usage string }{
	{"pending-warn", "status.pendingWarn", "WARNING when a dispatch has been pending this `DURATION` (default: status.pendingWarn; 0: never)"},
	{"pending-crit", "status.pendingCrit", "CRITICAL when a dispatch has been pending this `DURATION` (default: status.pendingCrit; 0: never)"},
	{"min-free-warn", "status.minFreeWarn", "WARNING when procDir or repoDir has less free space than `SIZE` (default: status.minFreeWarn; 0: never)"},
	{"min-free-crit", "status.minFreeCrit", "CRITICAL when procDir or repoDir has less free space than `SIZE` (default: status.minFreeCrit; 0: never)"},
}

func statusCommand(version string) *cli.Command {
	flags := []cli.Flag{
		jsonFlag,
		&cli.StringFlag{Name: "night", Usage: "count the frames of the observing night `CCYYMMDD` (default: the current one)"},
		&cli.BoolFlag{Name: "check", Usage: "answer as a Nagios/Icinga plugin: one line, exit status 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN"},
	}
	for _, t := range statusThresholds {
		flags = append(flags, &cli.StringFlag{Name: t.flag, Usage: t.usage})
	}
	return &cli.Command{
		Name:      "status",
		Usage:     "show whether listen runs and where a night's frames stand; --check for Nagios/Icinga",
		ArgsUsage: " ",
		Description: "Reads, and changes nothing: listen's control files in paths.stateDir (.pid, and whether that\n" +
			"process lives; .status: its state, the last file, the queue, the last frame's time from datagram to\n" +
			"<CHAN>.new), every frame of the night as the judge sees it (the raw folders, the stored and newdata\n" +
			"copies and the ledger, as sweep and verify see them), the free space of procDir and repoDir, and\n" +
			"what the last sweep did (<stateDir>/last-sweep). Per channel it counts the raw files, the stored\n" +
			"copies, the copies on newdata, those the archive took, and the frames pending (with the reason and\n" +
			"since when), failed (with the reason) and lost. --json prints the same for scripts.\n\n" +
			"With --check it prints one line, \"DATAMAN <STATE> - <text> | <performance data>\", and exits as a\n" +
			"Nagios/Icinga plugin: CRITICAL when listen is not running, a dispatch has been pending longer than\n" +
			"status.pendingCrit, procDir or repoDir has less free space than status.minFreeCrit or cannot be\n" +
			"looked at; WARNING when a dispatch has been pending longer than status.pendingWarn, free space is\n" +
			"below status.minFreeWarn, a frame failed or could not be checked, or the ledger has problems;\n" +
			"UNKNOWN when no view could be built (the config or the raw folder). The flags below override the\n" +
			"thresholds; 0 turns one off.",
		Flags: withConfigFlags(flags...),
		Action: func(c *cli.Context) error {
			check := c.Bool("check")
			ctx, o, err := statusSetup(c, version)
			if err != nil {
				if check {
					code, line := status.Unknowable(err)
					return plugin(c.App.Writer, code, line)
				}
				return err
			}
			return runStatus(ctx, o, c.App.Writer)
		},
	}
}

// statusStatuses are the exit statuses of status, which --check gives the
// plugin conventions.
var statusStatuses = []exitStatus{
	{exitcode.OK, "the status was printed; with --check: OK"},
	{exitcode.Failure, "the status could not be built (the raw folder could not be read); with --check: WARNING"},
	{exitcode.Usage, "bad flags or configuration; with --check: CRITICAL (a flag urfave refuses is still 2)"},
	{status.Unknown, "with --check: UNKNOWN, no status could be built (bad configuration or flag value, raw folder unreadable)"},
}

type statusOptions struct {
	status.Options
	Thresholds status.Thresholds
	Check      bool
	JSON       bool
}

// statusSetup turns the flags and the config into options.
func statusSetup(c *cli.Context, version string) (context.Context, statusOptions, error) {
	var o statusOptions
	if c.Args().Present() {
		return nil, o, exitcode.Usagef("status takes no arguments (name the night with --night)")
	}
	o.Check, o.JSON = c.Bool("check"), c.Bool(jsonFlag.Name)
	if o.Check && o.JSON {
		return nil, o, exitcode.Usagef("--check prints one line for a monitoring system; it takes no --json")
	}
	ctx, cfg, err := setup(c)
	if err != nil {
		return nil, o, err
	}
	for _, t := range statusThresholds {
		if c.IsSet(t.flag) {
			if err := cfg.Set(t.key, c.String(t.flag), config.SourceFlag); err != nil {
				return nil, o, exitcode.New(exitcode.Usage, fmt.Errorf("--%s: %w", t.flag, err))
			}
		}
	}
	night, err := nightFlag(c)
	if err != nil {
		return nil, o, err
	}
	// Building the delivery path creates nothing.
	d, err := newDeliverer(cfg, version, logx.From(ctx))
	if err != nil {
		return nil, o, exitcode.New(exitcode.Usage, err)
	}
	o.Options = viewOptions(cfg, d)
	o.Nights = []string{night}
	s := cfg.Status
	o.Thresholds = status.Thresholds{PendingWarn: s.PendingWarn, PendingCrit: s.PendingCrit, MinFreeWarn: s.MinFreeWarn, MinFreeCrit: s.MinFreeCrit}
	return ctx, o, nil
}

// nightFlag is --night, by default the current observing night.
func nightFlag(c *cli.Context) (string, error) {
	if !c.IsSet("night") {
		return frame.ObsDate(time.Now(), frame.Arizona), nil
	}
	night, err := frame.ParseNight(c.String("night"))
	if err != nil {
		return "", exitcode.New(exitcode.Usage, fmt.Errorf("--night: %w", err))
	}
	return night, nil
}

// viewOptions are what the read-only views (status, the night log) look
// through: the delivery path's judge, so that they see the folders as it
// does, with its timeouts and stuck folders.
func viewOptions(cfg *config.Config, d *deliver.Deliverer) status.Options {
	o := status.Options{Judge: d.JudgeOptions()}
	o.Judge.MinAge = cfg.Sweep.MinAge
	return o
}

func runStatus(ctx context.Context, o statusOptions, stdout io.Writer) error {
	r, err := status.Build(ctx, o.Options)
	if o.Check {
		code, line := status.Check(r, o.Thresholds)
		if err != nil {
			code, line = status.Unknowable(err)
		}
		return plugin(stdout, code, line)
	}
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	return r.Write(stdout, o.JSON)
}

// plugin prints a check's line and exits with its code, and nothing else.
func plugin(w io.Writer, code int, line string) error {
	if _, err := fmt.Fprintln(w, line); err != nil {
		return err
	}
	if code == status.OK {
		return nil
	}
	return exitcode.Silent(code)
}
