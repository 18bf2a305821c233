package commands

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/obsdata/dataman/fits/synth"
	"github.com/obsdata/dataman/internal/exitcode"
)

// synthCommand writes synthetic raw frames: the sample night, benchmarks
// and tests use it. Hidden because operators have no use for it.
func synthCommand() *cli.Command {
	return &cli.Command{
		Name:      "synth",
		Usage:     "write synthetic raw MODS frames (for tests, benchmarks and the sample night)",
		ArgsUsage: " ",
		Hidden:    true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Value: ".", Usage: "write into `DIR`/<chan>/"},
			&cli.StringFlag{Name: "channel", Value: "mods1b", Usage: "`CHAN`: mods1b, mods1r, mods2b or mods2r"},
			&cli.StringFlag{Name: "mode", Value: "1k-2x2", Usage: "readout `MODE` (full, 3kx3k, 1kx1k, 4kx3k, full-2x2, full-1x2, 1k-2x2)"},
			&cli.IntFlag{Name: "seq", Value: 1, Usage: "first sequence `NUMBER`"},
			&cli.IntFlag{Name: "count", Value: 1, Usage: "`N` consecutive frames"},
			&cli.BoolFlag{Name: "flat", Usage: "write into DIR itself, not DIR/<chan>/"},
		},
		Action: func(c *cli.Context) error {
			mode := c.String("mode")
			if _, err := synth.ModeByName(mode); err != nil {
				return exitcode.New(exitcode.Usage, err)
			}
			dir := c.String("out")
			if !c.Bool("flat") {
				dir = dir + "/" + c.String("channel")
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			for i := 0; i < c.Int("count"); i++ {
				f := synth.Default(c.String("channel"), c.Int("seq")+i, mode)
				path, err := synth.WriteFile(dir, f)
				if err != nil {
					return fmt.Errorf("synth: %w", err)
				}
				fmt.Fprintln(c.App.Writer, path)
			}
			return nil
		},
	}
}
