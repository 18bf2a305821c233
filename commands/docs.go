package commands

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/obsdata/dataman/internal/docs"
	"github.com/obsdata/dataman/internal/exitcode"
)

// The generated files and the command that rewrites them (see internal/docs).
const (
	RegenerateDocs = docs.RegenerateDocs
	ManPage        = docs.ManPage
	BashCompletion = docs.BashCompletion
	ZshCompletion  = docs.ZshCompletion
	FishCompletion = docs.FishCompletion
)

func gendocsCommand() *cli.Command {
	return &cli.Command{
		Name:      "gendocs",
		Usage:     "write the man page and the shell completions (for developers and packagers)",
		ArgsUsage: " ",
		Hidden:    true,
		Description: "Regenerates the committed man page and completion scripts from the app definition:\n" +
			"   " + RegenerateDocs,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "man", Usage: "write " + ManPage + " into `DIR`"},
			&cli.StringFlag{Name: "completions", Usage: "write the bash, zsh and fish completions into `DIR`"},
		},
		Action: func(c *cli.Context) error {
			man, compl := c.String("man"), c.String("completions")
			if man == "" && compl == "" {
				return exitcode.Usagef("nothing to do: give --man DIR, --completions DIR or both")
			}
			if c.Args().Present() {
				return exitcode.Usagef("gendocs takes no arguments")
			}
			// A fresh app, so flags that running this command added to c.App
			// cannot leak into the pages.
			return WriteDocs(New(c.App.Version), man, compl)
		},
	}
}

var (
	statusDocsOK      = exitStatus{exitcode.OK, "the files were written"}
	statusDocsFailure = exitStatus{exitcode.Failure, "a file could not be generated or written"}
)

// GeneratedDocs renders every generated file of app, keyed by path relative
// to the repository ("man/dataman.1", "completions/_dataman", …).
func GeneratedDocs(app *cli.App) (map[string]string, error) {
	return docs.Generated(app, exitStatusSection)
}

// WriteDocs writes the man page into manDir and the completions into
// complDir; an empty directory name skips that kind.
func WriteDocs(app *cli.App, manDir, complDir string) error {
	return docs.Write(app, exitStatusSection, manDir, complDir)
}

// Man renders the dataman(1) man page.
func Man(app *cli.App) (string, error) { return docs.Man(app, exitStatusSection) }

// CheckDocs lists the generated files under root that differ from what app
// generates.
func CheckDocs(app *cli.App, root string) ([]string, error) {
	return docs.Check(app, exitStatusSection, root)
}

func exitStatusSection(app *cli.App) (string, error) {
	var b strings.Builder
	b.WriteString("\n# EXIT STATUS\n\n")
	b.WriteString("Every command documents its statuses in its help (**" + app.Name + " COMMAND --help**). " +
		"Messages go to standard error as \"" + app.Name + ": error: ...\".\n\n")
	for _, c := range app.VisibleCommands() {
		statuses := exitStatuses[c.Name]
		if len(statuses) == 0 {
			return "", fmt.Errorf("man page: command %s has no entry in exitStatuses", c.Name)
		}
		fmt.Fprintf(&b, "**%s %s**\n", app.Name, c.Name)
		for i, s := range statuses {
			lead := "  "
			if i == 0 {
				lead = ": "
			}
			// Two trailing spaces: a line break inside the definition.
			fmt.Fprintf(&b, "%s**%d**   %s  \n", lead, s.code, docs.EscapeMarkdown(s.what))
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}
