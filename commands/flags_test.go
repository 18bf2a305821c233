package commands

import (
	"context"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/obsdata/dataman/internal/config"
)

// Every command that reads the config takes the same config flags, and a
// command that takes them reads the config: each command is run once with a
// config file that does not exist, and it reads the config if it says so.
func TestEveryConfigReadingCommandTakesTheConfigFlags(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-config.yaml")
	t.Setenv(config.EnvConfig, missing)
	t.Chdir(t.TempDir()) // synth writes a frame here
	var readers []string
	for _, cmd := range New("test").Commands {
		t.Run(cmd.Name, func(t *testing.T) {
			app := New("test")
			app.Writer, app.ErrWriter, app.Reader = io.Discard, io.Discard, strings.NewReader("")
			err := app.RunContext(context.Background(), []string{"dataman", cmd.Name})
			reads := err != nil && (strings.Contains(err.Error(), missing) || strings.Contains(err.Error(), "reads the config but has no"))
			var lacks []string
			for _, f := range configFlags {
				if !slices.ContainsFunc(cmd.Flags, func(g cli.Flag) bool { return g.Names()[0] == f.Names()[0] }) {
					lacks = append(lacks, "--"+f.Names()[0])
				}
			}
			switch {
			case reads && len(lacks) > 0:
				t.Errorf("%s reads the config but lacks %s", cmd.Name, strings.Join(lacks, ", "))
			case !reads && len(lacks) < len(configFlags):
				t.Errorf("%s takes config flags but did not read the config: %v", cmd.Name, err)
			case reads:
				readers = append(readers, cmd.Name)
			}
		})
	}
	// And these are they: every command but the hidden tools and help.
	want := []string{"archive", "condition", "config", "dispatch", "listen", "nightlog", "status", "sweep", "verify"}
	if slices.Sort(readers); !slices.Equal(readers, want) {
		t.Errorf("the commands that read the config are %v, want %v", readers, want)
	}
}

// A command that reads the config without the flags is refused, not run
// with its --set silently ignored.
func TestSetupRefusesACommandWithoutTheConfigFlags(t *testing.T) {
	app := New("test")
	app.Writer, app.ErrWriter = io.Discard, io.Discard
	app.Commands = append(app.Commands, &cli.Command{
		Name:  "half",
		Flags: []cli.Flag{configFlag, logLevelFlag},
		Action: func(c *cli.Context) error {
			_, _, err := setup(c)
			return err
		},
	})
	err := app.RunContext(context.Background(), []string{"dataman", "half"})
	if err == nil || !strings.Contains(err.Error(), "half reads the config but has no --set flag") {
		t.Errorf("setup of a command without --set: %v", err)
	}
}
