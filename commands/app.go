package commands

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/internal/report"
)

// New builds the dataman application. The list of commands is explicit.
func New(version string) *cli.App {
	app := &cli.App{
		Name:    "dataman",
		Usage:   "condition, store and deliver raw CCD frames of an observatory instrument",
		Version: version,
		Description: "dataman moves every raw MODS CCD frame from the camera server to the instrument server's disk\n" +
			"and the observatory staging area (/newdata): header fixes, overscan bias subtraction, trim and\n" +
			"merged image, atomic copies with checksums, a ledger of every file, and a sweep that backfills\n" +
			"whatever a lost trigger missed. It is a drop-in replacement for the MODS dataMan server.",
		Commands: []*cli.Command{
			conditionCommand(version),
			gatherCommand(),
			listenCommand(version),
			archiveCommand(version),
			dispatchCommand(version),
			sweepCommand(version),
			configCommand(),
			synthCommand(),
			verifyCommand(version),
			statusCommand(version),
			nightlogCommand(version),
			gendocsCommand(),
		},
		// main turns errors into exit codes; urfave must not exit by itself.
		ExitErrHandler:         func(*cli.Context, error) {},
		OnUsageError:           usageError,
		UseShortOptionHandling: true,
		EnableBashCompletion:   true,
		// A bare "dataman" shows the help; an unknown command is a usage
		// error (urfave would take it for a help topic and exit 1).
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return exitcode.New(exitcode.Usage, fmt.Errorf("unknown command %q", c.Args().First()),
					"dataman --help lists the commands")
			}
			return cli.ShowAppHelp(c)
		},
	}
	// urfave adds its --help flag only along with its own help command,
	// which this one replaces.
	app.Flags = append(app.Flags, cli.HelpFlag)
	app.Commands = append(app.Commands, &cli.Command{
		Name: "help", Aliases: []string{"h"}, Usage: "show the commands, or one command's help",
		ArgsUsage: "[COMMAND]",
		Action: func(c *cli.Context) error {
			if name := c.Args().First(); name != "" {
				if c.App.Command(name) == nil {
					return exitcode.Usagef("no command %q", name)
				}
				return cli.ShowCommandHelp(c, name)
			}
			return cli.ShowAppHelp(c)
		},
	})
	for _, c := range app.Commands {
		c.OnUsageError = usageError
		c.CustomHelpTemplate = cli.CommandHelpTemplate + "\n" + exitSection(exitStatuses[c.Name])
	}
	return app
}

func usageError(_ *cli.Context, err error, _ bool) error {
	return exitcode.New(exitcode.Usage, err)
}

// exitStatus is the EXIT STATUS section every command documents.
type exitStatus struct {
	code int
	what string
}

var (
	statusOK      = exitStatus{exitcode.OK, "every file was done"}
	statusFailure = exitStatus{exitcode.Failure, "at least one file failed (the others were still done)"}
	statusUsage   = exitStatus{exitcode.Usage, "bad flags, arguments or configuration"}
)

func exitSection(statuses []exitStatus) string {
	var b strings.Builder
	b.WriteString("EXIT STATUS:\n")
	for _, s := range statuses {
		fmt.Fprintf(&b, "   %d  %s\n", s.code, s.what)
	}
	return b.String()
}

// exitStatuses lists each command's exit statuses, for its help and the
// man page.
var exitStatuses = map[string][]exitStatus{
	"condition": {statusOK, statusFailure, statusUsage},
	"gather":    gatherStatuses,
	"archive":   {statusOK, {exitcode.Failure, "at least one file failed or its dispatch is pending (the others were still done)"}, statusUsage},
	"dispatch":  {statusOK, {exitcode.Failure, "at least one dispatch failed or is pending (the others were still done)"}, statusUsage},
	"synth":     {statusOK, statusFailure, statusUsage},
	"help":      {{exitcode.OK, "the help was shown"}, {exitcode.Usage, "no such command"}},
	"listen":    listenStatuses,
	"verify":    verifyStatuses,
	"sweep":     sweepStatuses,
	"status":    statusStatuses,
	"nightlog":  nightlogStatuses,
	"config":    {statusConfigOK, statusUsage},
	"gendocs":   {statusDocsOK, statusDocsFailure, statusUsage},
}

// PrintError writes err as dataman reports errors: "dataman: error: …" with
// optional hint lines. Nothing is printed for a silent status.
func PrintError(w io.Writer, err error) { report.Error(w, err) }
