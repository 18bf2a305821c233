package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/obsdata/dataman/internal/config"
	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/logx"
	"github.com/obsdata/dataman/internal/progress"
	"github.com/obsdata/dataman/internal/schedule"
	"github.com/obsdata/dataman/sweep"
)

func sweepCommand(version string) *cli.Command {
	return &cli.Command{
		Name:      "sweep",
		Usage:     "reconcile raw, stored and newdata copies with the ledger, and deliver what was missed",
		ArgsUsage: " ",
		Description: "Compares, for each channel and each night in scope, the raw folder, the stored copies in\n" +
			"procDir/<night>/, the copies in repoDir and the ledger, plans, and runs the plan through the same\n" +
			"delivery path as listen: condition and store what is missing, dispatch what is missing, dispatch\n" +
			"again where a newdata copy is damaged (its size, or its SHA-256 when its mtime changed, differs from\n" +
			"the ledger's), remove temporary files older than an hour, and report files the ledger knows whose\n" +
			"raw file is gone. A damaged copy of ours is removed before it is made again. Raw files younger than\n" +
			"sweep.minAge are left to the datagrams. A sweep over an intact night reads no file.\n\n" +
			"A newdata copy that was delivered and is gone was taken by the archive: it is counted, not sent\n" +
			"again, unless --redeliver is given or delivery.repo.consumed is N. A raw file that cannot be\n" +
			"conditioned is listed as FAILED with the reason; it is tried again at most three times, then left\n" +
			"until it changes. A raw file replaced by another under the same name is a new exposure: it is\n" +
			"delivered under its UNIQNAME, and the ledger keeps both.\n\n" +
			"The nights in scope are those named with --night and those of files written within --since; with\n" +
			"neither, the current and previous observing night under both the UTC and the local noon-to-noon\n" +
			"conventions (spec 2.1, on the servers' US/Arizona clock).\n\n" +
			"Only one sweep works at a time: the lock is " + "<stateDir>/" + sweep.LockName + ", shared with listen's own\n" +
			"reconciliation. A sweep that finds it held exits with status 4 and names the holder's pid, unless\n" +
			"--wait is given.\n\n" +
			"By default the sweep runs once, for systemd timers and crontab. With --schedule (or sweep.schedule\n" +
			"in the config) it keeps running and sweeps at each time of the cron schedule until SIGINT or\n" +
			"SIGTERM: 5 fields, or 6 with seconds first, descriptors (@hourly, @every 10m), and an optional\n" +
			"CRON_TZ=<zone> prefix; without it the schedule is in local time.",
		Flags: withConfigFlags(
			dryRunFlag, jsonFlag,
			&cli.StringSliceFlag{Name: "night", Usage: "sweep the observing night `CCYYMMDD` (repeatable)"},
			&cli.DurationFlag{Name: "since", Usage: "sweep the nights of files written in the last `DURATION` (e.g. 72h)"},
			&cli.DurationFlag{Name: "wait", Usage: "if another sweep holds the lock, wait up to `DURATION` for it"},
			&cli.StringFlag{Name: "schedule", Usage: "keep running and sweep on the cron schedule `SPEC` (default: sweep.schedule; \"\": once)"},
			redeliverFlag,
		),
		Action: func(c *cli.Context) error {
			ctx, cfg, err := setup(c)
			if err != nil {
				return err
			}
			if c.Args().Present() {
				return exitcode.Usagef("sweep takes no arguments (name nights with --night)")
			}
			spec := cfg.Sweep.Schedule
			if c.IsSet("schedule") {
				spec = c.String("schedule")
			}
			o := newSweepOptions(cfg, version)
			o.Nights = c.StringSlice("night")
			o.Since, o.SinceSet = c.Duration("since"), c.IsSet("since")
			o.Schedule = spec
			o.JSON = c.Bool(jsonFlag.Name)
			o.Progress = progress.IsTerminal(os.Stderr)
			o.Run.DryRun = c.Bool(dryRunFlag.Name)
			o.Run.Wait = c.Duration("wait")
			o.Run.Redeliver = c.Bool(redeliverFlag.Name)
			if err := o.check(); err != nil {
				return err
			}
			if !o.Run.DryRun {
				if err := makeDefaultDirs(cfg); err != nil {
					return err
				}
			}
			d, err := newDeliverer(cfg, version, logx.From(ctx))
			if err != nil {
				return exitcode.New(exitcode.Usage, err)
			}
			defer d.Close()
			o.Run.Deliverer = d
			return runSweep(ctx, o, c.App.Writer, c.App.ErrWriter)
		},
	}
}

// sweepStatuses are the sweep's exit statuses, in its help and the man page.
var sweepStatuses = []exitStatus{
	{exitcode.OK, "the nights are reconciled (with --dry-run: the plan was printed); with --schedule, stopped by a signal"},
	{exitcode.Failure, "an action failed or its dispatch is pending, or something could not be checked (the rest was still done)"},
	{exitcode.Usage, "bad flags, configuration, night or schedule"},
	{exitcode.Locked, "another sweep holds the lock (and --wait was not given or ran out)"},
}

type sweepOptions struct {
	// Run is the sweep; its Nights are filled in for each run.
	Run      sweep.Options
	Nights   []string
	Since    time.Duration
	SinceSet bool
	Schedule string // "" sweeps once
	JSON     bool
	Progress bool
	Clock    sweep.Clock // for --schedule; nil is the system clock
}

// newSweepOptions are the options the config gives; flags add the rest.
func newSweepOptions(cfg *config.Config, version string) sweepOptions {
	return sweepOptions{Run: sweep.Options{
		MinAge:      cfg.Sweep.MinAge,
		Jobs:        cfg.Jobs,
		Lock:        sweep.NewLock(cfg.Paths.StateDir),
		RepoTimeout: cfg.Repo.Timeout,
		Version:     version,
	}}
}

// check validates what can be wrong before any sweep starts, so that a bad
// schedule or night is a usage error at once, not a failure at 3 a.m.
func (o *sweepOptions) check() error {
	for i, n := range o.Nights {
		night, err := frame.ParseNight(n)
		if err != nil {
			return exitcode.New(exitcode.Usage, fmt.Errorf("--night: %w", err))
		}
		o.Nights[i] = night
	}
	if o.SinceSet && o.Since <= 0 {
		return exitcode.Usagef("--since %s: want a positive duration, like 72h", o.Since)
	}
	if o.Run.Wait < 0 {
		return exitcode.Usagef("--wait %s: want a positive duration", o.Run.Wait)
	}
	if o.Schedule != "" {
		if _, err := schedule.Parse(o.Schedule); err != nil {
			return exitcode.New(exitcode.Usage, err, `a schedule is 5 cron fields ("*/15 * * * *"), 6 with seconds, or a descriptor ("@hourly", "@every 10m"), optionally after CRON_TZ=<zone>`)
		}
	}
	return nil
}

func runSweep(ctx context.Context, o sweepOptions, stdout, stderr io.Writer) error {
	if err := o.check(); err != nil {
		return err
	}
	if o.Run.Log == nil {
		o.Run.Log = logx.From(ctx)
	}
	if o.Schedule == "" {
		return sweepOnce(ctx, o, stdout, stderr)
	}
	sched, _ := schedule.Parse(o.Schedule) // checked above
	clock := o.Clock
	if clock == nil {
		clock = sweep.SystemClock{}
	}
	log := o.Run.Log
	log.Info("sweeping on a schedule", "schedule", o.Schedule, "next", sched.Next(clock.Now()).Format(time.RFC3339))
	return sweep.Every(ctx, sched, clock, func(ctx context.Context) {
		err := sweepOnce(ctx, o, stdout, stderr)
		var e *exitcode.Error
		switch {
		case ctx.Err() != nil:
		case errors.As(err, &e) && e.Code == exitcode.Locked:
			log.Warn("sweep skipped", "err", e.Err)
		case err != nil && (!errors.As(err, &e) || e.Err != nil):
			log.Error("sweep failed", "err", err)
		}
		log.Info("next sweep", "at", sched.Next(clock.Now()).Format(time.RFC3339))
	})
}

// sweepOnce runs one sweep and prints its summary.
func sweepOnce(ctx context.Context, o sweepOptions, stdout, stderr io.Writer) error {
	ro := o.Run
	ro.Nights = slices.Clone(o.Nights)
	if o.SinceSet {
		now := time.Now
		if ro.Now != nil {
			now = ro.Now
		}
		loc := ro.Location
		if loc == nil {
			loc = frame.Arizona
		}
		ro.Nights = append(ro.Nights, frame.NightsSince(now(), o.Since, loc)...)
	}
	slices.Sort(ro.Nights)
	ro.Nights = slices.Compact(ro.Nights)
	var bar *progress.Bar
	ro.OnPlan = func(p sweep.Plan) { bar = progress.New(stderr, o.Progress, len(p.Actions), "sweeping") }
	ro.OnResult = func(r sweep.Result) {
		if r.Status == sweep.Failed && !o.JSON {
			PrintError(stderr, errors.New(r.Error)) // once, as it happens, above the bar
		}
		bar.Add(1)
	}

	sum, err := sweep.Run(ctx, ro)
	if bar != nil {
		bar.Done()
	}
	var held *sweep.HeldError
	switch {
	case errors.As(err, &held):
		return exitcode.New(exitcode.Locked, err, "wait for it with --wait DURATION")
	case err != nil && sum.Nights == nil:
		return fmt.Errorf("sweep: %w", err) // it never got to plan
	}
	if perr := sum.Write(stdout, o.JSON); perr != nil {
		return perr
	}
	if err != nil {
		return err // interrupted: the summary says how far it got
	}
	if sum.Failed > 0 || len(sum.Problems) > 0 {
		return exitcode.New(exitcode.Failure, fmt.Errorf("sweep: %d of %d actions failed or pending; %d problems", sum.Failed, len(sum.Actions), len(sum.Problems)))
	}
	return nil
}
