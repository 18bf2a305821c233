package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/internal/logx"
	"github.com/obsdata/dataman/internal/progress"
	"github.com/obsdata/dataman/internal/report"
	"github.com/obsdata/dataman/internal/verify"
)

func verifyCommand(version string) *cli.Command {
	return &cli.Command{
		Name:      "verify",
		Usage:     "prove that every file arrived intact: copies, checksums, FITS structure, ledger",
		ArgsUsage: "[FILE...]",
		Description: "Checks, for each raw file of the nights and channels asked for (by default every night the\n" +
			"ledger, the raw folders and the copies show) or for each FILE named (only its base name counts): that\n" +
			"its stored copy in procDir/<night>/ and its dispatched copy in repoDir exist (a missing copy is\n" +
			"reported with the ledger's reason, if it has one); that both are byte-identical and have the SHA-256\n" +
			"the ledger recorded; that the FITS structure is sound and every HDU has a valid CHECKSUM and DATASUM\n" +
			"(a missing CHECKSUM is a failure); and that the MERGED header repeats the primary's cards. With --deep,\n" +
			"MERGED is recomputed from the raw file, in $TMPDIR, and compared bit for bit. Copies in\n" +
			"procDir/<night>/ or repoDir that neither the raw folder nor the ledger accounts for are reported too.\n\n" +
			"One line per file on stdout: a status, the file, and the reasons, then a summary line:\n" +
			"   =  ok      -  missing      +  extra      *  differs      !  error (unreadable, not sound FITS)\n\n" +
			"A night with no files at all is not a problem (a night without observing is normal): verify prints\n" +
			"\"0 files\", exits 0, and warns on stderr naming the raw folders, ledgers and folders of copies it\n" +
			"looked in, and which of them do not exist, so that a wrong path or night shows.\n\n" +
			"Nothing is written unless --fix is given. Then each file the delivery path can repair is handed to it\n" +
			"(a ledger record that vouches for a damaged copy is first marked failed, so that the delivery path does\n" +
			"not trust it), verified again, and its line says what was done. Extra copies are never removed.",
		Flags: withConfigFlags(
			jsonFlag,
			&cli.StringSliceFlag{Name: "night", Usage: "verify the night `CCYYMMDD` (repeatable; default: every night found)"},
			&cli.StringSliceFlag{Name: "channel", Usage: "verify the channel `CHAN`, e.g. mods1b (repeatable; default: every channel found)"},
			&cli.BoolFlag{Name: "deep", Usage: "also recompute MERGED from the raw file and compare it bit for bit"},
			&cli.BoolFlag{Name: "fix", Usage: "hand what can be repaired to the delivery path, then verify it again"},
			redeliverFlag,
		),
		Action: func(c *cli.Context) error {
			ctx, cfg, err := setup(c)
			if err != nil {
				return err
			}
			log := logx.From(ctx)
			return runVerify(ctx, verifyOptions{
				Options: verify.Options{
					Layout:      layout(cfg),
					Nights:      c.StringSlice("night"),
					Channels:    c.StringSlice("channel"),
					Files:       c.Args().Slice(),
					Deep:        c.Bool("deep"),
					Fix:         c.Bool("fix"),
					Redeliver:   c.Bool(redeliverFlag.Name),
					Consumed:    cfg.Repo.Consumed,
					RepoTimeout: cfg.Repo.Timeout,
					Jobs:        cfg.Jobs,
					Proc:        processing(cfg, version),
					Version:     version,
					Deliverer: func() (*deliver.Deliverer, error) {
						if err := makeDefaultDirs(cfg); err != nil {
							return nil, err
						}
						return newDeliverer(cfg, version, log)
					},
				},
				JSON:         c.Bool(jsonFlag.Name),
				ShowProgress: progress.IsTerminal(os.Stderr),
			}, c.App.Writer, c.App.ErrWriter)
		},
	}
}

// verifyStatuses gives problems found a status of their own, so that a
// script can tell "a file is damaged" from "verify could not run".
var verifyStatuses = []exitStatus{
	{exitcode.OK, "every file verified intact"},
	{exitcode.Problems, "problems found: a copy missing, extra, differing or damaged"},
	statusUsage,
	{exitcode.Failure, "verify itself failed: a folder or a ledger could not be read"},
}

// verifyOptions are verify.Options and how to print the report.
type verifyOptions struct {
	verify.Options
	JSON         bool
	ShowProgress bool // draw progress bars on stderr
}

func runVerify(ctx context.Context, o verifyOptions, stdout, stderr io.Writer) error {
	if err := o.Check(); err != nil {
		return exitcode.New(exitcode.Usage, err)
	}
	o.Options.Progress = func(what string, total int) verify.Bar {
		return progress.New(stderr, o.ShowProgress, total, what)
	}
	rep, err := verify.Run(ctx, o.Options)
	if err != nil {
		return err
	}
	if len(rep.Files) == 0 {
		warnNothing(ctx, rep.Looked)
	}
	if err := printVerify(stdout, o.JSON, rep); err != nil {
		return err
	}
	if bad := rep.Summary.Problems(); bad > 0 {
		var hints []string
		if !o.Fix && slices.ContainsFunc(rep.Files, func(r verify.Result) bool { return len(r.Redo) > 0 }) {
			hints = append(hints, "dataman verify --fix hands what can be repaired to the delivery path")
		}
		return exitcode.New(exitcode.Problems, fmt.Errorf("verify: %d of %d files have problems", bad, rep.Summary.Files), hints...)
	}
	return nil
}

// warnNothing says where verify looked when it found nothing: a night
// without observing is no problem, but a wrong path or night looks the
// same, and only the places tell them apart.
func warnNothing(ctx context.Context, p verify.Places) {
	list := func(s []string) string {
		if len(s) == 0 {
			return "none found"
		}
		return strings.Join(s, ", ")
	}
	attrs := []any{"nights", list(p.Nights), "channels", list(p.Channels), "raw", list(p.Raw),
		"ledgers", list(p.Ledgers), "stored", list(p.Stored), "newdata", p.Repo}
	if len(p.Absent) > 0 {
		attrs = append(attrs, "absent", list(p.Absent))
	}
	logx.From(ctx).Warn("no files to verify: no raw file, ledger record or copy in the places looked at", attrs...)
}

func printVerify(w io.Writer, asJSON bool, rep verify.Report) error {
	sum := rep.Summary
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Files   []verify.Result `json:"files"`
			Summary verify.Summary  `json:"summary"`
		}{rep.Files, sum})
	}
	for _, r := range rep.Files {
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s", r.Status, r.File)
		if len(r.Problems) > 0 {
			b.WriteString(": " + strings.Join(r.Problems, "; "))
		}
		if len(r.Notes) > 0 {
			b.WriteString(" (" + strings.Join(r.Notes, "; ") + ")")
		}
		if r.Before != 0 {
			if len(r.Fixed) > 0 {
				b.WriteString(" [repaired: " + strings.Join(r.Fixed, "; ") + "]")
			}
			if r.FixError != "" {
				b.WriteString(" [not repaired: " + r.FixError + "]")
			}
			fmt.Fprintf(&b, " [was %s: %s]", r.Before, strings.Join(r.BeforeWhat, "; "))
		}
		fmt.Fprintln(w, b.String())
	}
	fmt.Fprintf(w, "%d files: %d ok, %d missing, %d extra, %d differ, %d errors", sum.Files, sum.OK, sum.Missing, sum.Extra, sum.Differ, sum.Errors)
	if sum.Repaired > 0 {
		fmt.Fprintf(w, ", %d repaired", sum.Repaired)
	}
	mbs := 0.0
	if sum.Seconds > 0 {
		mbs = float64(sum.Bytes) / 1e6 / sum.Seconds
	}
	_, err := fmt.Fprintf(w, "; %s verified in %.2f s (%.0f MB/s)\n", report.Bytes(sum.Bytes), sum.Seconds, mbs)
	return err
}
