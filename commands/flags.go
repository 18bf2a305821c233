package commands

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/internal/astro"
	"github.com/obsdata/dataman/internal/config"
	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/internal/ledger"
	"github.com/obsdata/dataman/internal/logx"
	"github.com/obsdata/dataman/internal/progress"
)

// The flags several commands share.
var (
	configFlag = &cli.StringFlag{
		Name: "config", Aliases: []string{"c"}, TakesFile: true, Usage: "YAML config `FILE` (dataMan's dataman.ini works unchanged); default: $" + config.EnvConfig + ", else the built-in default",
	}
	logLevelFlag = &cli.StringFlag{
		Name: "log-level", Value: "info", Usage: "log `LEVEL`: debug, info, warn or error",
	}
	dryRunFlag = &cli.BoolFlag{
		Name: "dry-run", Aliases: []string{"n"}, Usage: "print what would be done and change nothing",
	}
	redeliverFlag = &cli.BoolFlag{
		Name: "redeliver", Usage: "send again the newdata copies the archive took (delivered, then gone)",
	}
	jobsFlag = &cli.IntFlag{
		Name: "jobs", Aliases: []string{"j"}, Usage: "files processed at once (default: jobs from the config)",
	}
	jsonFlag = &cli.BoolFlag{
		Name: "json", Usage: "print the results as JSON on stdout",
	}
	setFlag = &cli.StringSliceFlag{
		Name: "set", Usage: "override a config key, e.g. --set paths.dataDir=/data (`KEY=VALUE`, repeatable)",
	}
)

// configFlags are the flags of every command that reads the config: the
// file, a key given on the command line, and the log level, which the
// config's debug key sets too. setup reads them all, so every command that
// calls it takes them all, from this one list.
var configFlags = []cli.Flag{configFlag, setFlag, logLevelFlag, verboseFlag, jobsFlag}

// verboseFlag is --log-level debug, short. On a terminal the batch
// commands log only warnings and errors, above their progress bar, unless
// asked for more.
var verboseFlag = &cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "log the detail of every file (--log-level debug)"}

// batchCommands draw a progress bar on a terminal, where their INFO lines
// would break it: there they log warnings and errors only, unless -v or
// --log-level says otherwise.
var batchCommands = map[string]bool{"archive": true, "dispatch": true, "condition": true, "sweep": true, "verify": true}

// withConfigFlags is the flags of a command that reads the config: the
// config flags, then its own.
func withConfigFlags(own ...cli.Flag) []cli.Flag {
	return append(slices.Clone(configFlags), own...)
}

// setup loads the config (flags over environment over file over defaults),
// refuses one whose folders overlap, and puts a logger in the context.
// Every command that reads the config starts with it.
func setup(c *cli.Context) (context.Context, *config.Config, error) {
	ctx, cfg, err := loadConfig(c)
	if err != nil {
		return nil, nil, err
	}
	if err := checkConfig(cfg); err != nil {
		return nil, nil, err
	}
	return ctx, cfg, nil
}

// checkConfig is the config's own check, as a usage error.
func checkConfig(cfg *config.Config) error {
	if err := cfg.Check(); err != nil {
		return exitcode.New(exitcode.Usage, err, "dataman config shows each path and where it comes from")
	}
	return nil
}

// loadConfig is setup without the check, for dataman config, which shows
// a config before it refuses it.
func loadConfig(c *cli.Context) (context.Context, *config.Config, error) {
	// urfave reads a flag a command does not define as unset, so a
	// missing --set would be ignored rather than refused.
	for _, f := range configFlags {
		if !slices.ContainsFunc(c.Command.Flags, func(g cli.Flag) bool { return g.Names()[0] == f.Names()[0] }) {
			return nil, nil, fmt.Errorf("internal error: %s reads the config but has no --%s flag", c.Command.Name, f.Names()[0])
		}
	}
	level, err := logx.ParseLevel(c.String(logLevelFlag.Name))
	if err != nil {
		return nil, nil, exitcode.New(exitcode.Usage, err)
	}
	cfg, err := config.Load(c.String(configFlag.Name), nil)
	if err != nil {
		return nil, nil, exitcode.New(exitcode.Usage, err)
	}
	for _, kv := range c.StringSlice(setFlag.Name) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, nil, exitcode.Usagef("--set %q: want KEY=VALUE", kv)
		}
		if err := cfg.Set(k, v, config.SourceFlag); err != nil {
			return nil, nil, exitcode.New(exitcode.Usage, fmt.Errorf("--set: %w", err))
		}
	}
	if c.IsSet(jobsFlag.Name) {
		if err := cfg.Set("jobs", strconv.Itoa(c.Int(jobsFlag.Name)), config.SourceFlag); err != nil {
			return nil, nil, exitcode.New(exitcode.Usage, fmt.Errorf("--jobs: %w", err))
		}
	}
	switch {
	case c.Bool(verboseFlag.Name):
		level = slog.LevelDebug
	case c.IsSet(logLevelFlag.Name):
	case cfg.Debug:
		level = slog.LevelDebug // the config's debug flag, as in dataMan
	case batchCommands[c.Command.Name] && progress.IsTerminal(os.Stderr):
		level = slog.LevelWarn
	}
	// One writer for every line on stderr, so that a progress bar and the
	// lines above it never break each other.
	if _, ok := c.App.ErrWriter.(*progress.Console); !ok {
		c.App.ErrWriter = progress.NewConsole(c.App.ErrWriter)
	}
	log := logx.New(c.App.ErrWriter, level, logx.UnderJournal())
	warnOldState(log, cfg)
	return logx.With(c.Context, log), cfg, nil
}

// warnOldState points at a ledger in the built-in default's
// ./dataman-data/state of the working directory when the config puts the
// state elsewhere: where earlier versions kept the state of a config
// without paths.stateDir, before it was derived. That ledger is no longer
// used, and a sweep started from another directory never saw it.
func warnOldState(log *slog.Logger, cfg *config.Config) {
	for _, e := range cfg.Entries() {
		if e.Key != "paths.stateDir" || e.Source == config.SourceDefault {
			continue
		}
		old, err := filepath.Abs(config.Default().Paths.StateDir)
		if err != nil || old == cfg.Paths.StateDir {
			return
		}
		if fi, err := os.Stat(filepath.Dir(ledger.Path(old, "x"))); err == nil && fi.IsDir() {
			log.Warn("a ledger in the working directory is no longer used: this config keeps its state in paths.stateDir; "+
				"move the old state there, see \"Migrating from dataMan\" in the README",
				"old", old, "stateDir", cfg.Paths.StateDir, "source", e.Source)
		}
	}
}

// makeDefaultDirs creates the folders of the built-in default, which live
// in a local ./dataman-data, so the tool runs with no set-up at all. Only
// commands about to write call it. A configured path is never created: a
// missing /newdata is an unmounted NFS share, and writing into its mount
// point would hide that.
func makeDefaultDirs(cfg *config.Config) error {
	for _, e := range cfg.Entries() {
		if !strings.HasPrefix(e.Key, "paths.") || (e.Source != config.SourceDefault && e.Source != "") {
			continue
		}
		if err := os.MkdirAll(e.Value, 0o755); err != nil {
			return fmt.Errorf("%s: %w", e.Key, err)
		}
	}
	return nil
}

// processing turns the config into conditioning options.
func processing(cfg *config.Config, version string) fits.Options {
	return fits.Options{
		FixDETSEC:   cfg.Processing.FixDETSEC,
		FixDateTime: cfg.Processing.FixDateTime,
		FixTemps:    cfg.Processing.FixTemps,
		FixMisc:     cfg.Processing.FixMisc,
		MakeOTM:     cfg.Processing.MakeOTM,
		Site:        astro.SiteFromHeader(cfg.Site.Latitude, cfg.Site.Longitude, cfg.Site.Elevation),
		Version:     version,
		ConfigHash:  cfg.ProcessingHash(),
	}
}
