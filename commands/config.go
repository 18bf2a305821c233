package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/obsdata/dataman/internal/config"
	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/internal/logx"
)

func configCommand() *cli.Command {
	return &cli.Command{
		Name:      "config",
		Usage:     "print the effective configuration and where each value came from",
		ArgsUsage: " ",
		Description: "Prints every configuration key with its value and its source: default (built in), file,\n" +
			"env (a DATAMAN_<KEY> variable) or flag. paths.stateDir, when none of them gives it, comes from\n" +
			"systemd ($STATE_DIRECTORY) or is derived from the config file's name and path (see FILES).\n" +
			"The file is --config, else $DATAMAN_CONFIG, else none. Run it with the environment of the\n" +
			"service (for a unit, its EnvironmentFile) to see what the service sees. With --default it prints\n" +
			"the built-in default configuration instead: a commented YAML document to save and edit. A config\n" +
			"that every other command refuses (paths.procDir or paths.repoDir inside paths.dataDir, or the\n" +
			"reverse) is printed, then refused with status 2.",
		Flags: withConfigFlags(
			jsonFlag,
			&cli.BoolFlag{Name: "default", Usage: "print the built-in default configuration as YAML"},
		),
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return exitcode.Usagef("config takes no arguments")
			}
			if c.Bool("default") {
				if c.IsSet(configFlag.Name) || c.Bool(jsonFlag.Name) {
					return exitcode.Usagef("--default prints the built-in YAML; it takes neither --config nor --json")
				}
				_, err := c.App.Writer.Write(config.DefaultYAML())
				return err
			}
			ctx, cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			err = runConfig(ctx, configOptions{
				Config:  cfg,
				Environ: os.Environ(),
				JSON:    c.Bool(jsonFlag.Name),
			}, c.App.Writer)
			if err != nil {
				return err
			}
			return checkConfig(cfg)
		},
	}
}

var statusConfigOK = exitStatus{exitcode.OK, "the configuration was printed"}

type configOptions struct {
	Config  *config.Config
	Environ []string // to warn about DATAMAN_* variables that set nothing
	JSON    bool
}

// configEntry is one line of the output. From says which file or variable
// set the value, so an operator can go and change it.
type configEntry struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Source string `json:"source"`
	From   string `json:"from,omitempty"`
}

func runConfig(ctx context.Context, o configOptions, stdout io.Writer) error {
	// A misspelt variable changes nothing, which is exactly what someone
	// reading this output is trying to find out.
	if err := config.CheckEnv(o.Environ); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			logx.From(ctx).Warn(line)
		}
	}
	entries := o.Config.Entries()
	out := make([]configEntry, len(entries))
	for i, e := range entries {
		out[i] = configEntry{Key: e.Key, Value: e.Value, Source: string(e.Source), From: o.Config.From(e)}
	}
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	file := o.Config.File()
	if file == "" {
		file = "none (built-in default)"
	}
	fmt.Fprintf(stdout, "# config file: %s\n", file)
	tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE")
	for _, e := range out {
		src := e.Source
		switch {
		case e.Source == string(config.SourceDerived):
			src += " from " + e.From
		case e.From != "":
			src += " " + e.From
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Key, showValue(e.Value), src)
	}
	return tw.Flush()
}

// showValue quotes what would otherwise be invisible or break the columns.
func showValue(v string) string {
	if v == "" || strings.ContainsAny(v, " \t\"") || strconv.Quote(v) != `"`+v+`"` {
		return strconv.Quote(v)
	}
	return v
}
