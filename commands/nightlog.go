package commands

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/obsdata/dataman/internal/atomicfile"
	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/internal/logx"
	"github.com/obsdata/dataman/internal/nightlog"
)

func nightlogCommand(version string) *cli.Command {
	return &cli.Command{
		Name:      "nightlog",
		Usage:     "write a night's log as an HTML page: a row per frame with its headers, state and thumbnail",
		ArgsUsage: " ",
		Description: "Writes the night log of the observing night (--night, default the current one) as one HTML\n" +
			"page, the page listen serves on its HTTP address: a row per frame, newest first, with UT\n" +
			"(DATE-OBS), file, channel, IMAGETYP, OBJECT, EXPTIME, MASKNAME, GRATNAME / FILTNAME, binning,\n" +
			"AIRMASS, the MERGED Q1-Q4 overscan biases, its state as status sees it (on /newdata, taken,\n" +
			"stored, pending, failed, lost, ...) and its thumbnail linking the preview. The headers are those\n" +
			"of the stored copy, else of the raw file; a file that cannot be read has a row that says why.\n" +
			"It reads headers only, and changes nothing but the page it writes.\n\n" +
			"Without --out the page goes to standard output. --out DIR writes DIR/CCYYMMDD.html, --out FILE\n" +
			"writes FILE, atomically. The previews are linked relative to the page's folder, so the links work\n" +
			"wherever the page is written on the same disk, e.g. in procDir beside the night's folder (for a web\n" +
			"server); on standard output they are relative to procDir. --embed puts the thumbnails in the page\n" +
			"as data: URIs and links no preview, so that the page stands alone (for a mail). The page uses no\n" +
			"script and nothing from the internet.",
		Flags: withConfigFlags(
			&cli.StringFlag{Name: "night", Usage: "the observing night `CCYYMMDD` (default: the current one)"},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, TakesFile: true, Usage: "write the page to `PATH` (a folder: PATH/CCYYMMDD.html); default: standard output"},
			&cli.BoolFlag{Name: "embed", Usage: "put the thumbnails in the page (data: URIs), for a page that stands alone"},
		),
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return exitcode.Usagef("nightlog takes no arguments (name the night with --night)")
			}
			ctx, cfg, err := setup(c)
			if err != nil {
				return err
			}
			night, err := nightFlag(c)
			if err != nil {
				return err
			}
			d, err := newDeliverer(cfg, version, logx.From(ctx))
			if err != nil {
				return exitcode.New(exitcode.Usage, err)
			}
			defer d.Close()
			return runNightlog(ctx, nightlogOptions{
				Log: nightlog.Options{Status: viewOptions(cfg, d)}, Night: night,
				Out: c.String("out"), Embed: c.Bool("embed"),
			}, c.App.Writer)
		},
	}
}

var nightlogStatuses = []exitStatus{
	{exitcode.OK, "the page was written (what could not be seen is said in it, and logged)"},
	{exitcode.Failure, "the page could not be written"},
	statusUsage,
}

type nightlogOptions struct {
	Log   nightlog.Options
	Night string
	Out   string // "": stdout; a folder: Out/<night>.html
	Embed bool
}

func runNightlog(ctx context.Context, o nightlogOptions, stdout io.Writer) error {
	procDir := o.Log.Status.Judge.Layout.ProcDir
	path := o.Out
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		path = filepath.Join(path, o.Night+".html")
	}
	links, err := staticLinks(procDir, path, o.Night, o.Embed)
	if err != nil {
		return err
	}
	p := nightlog.Build(ctx, o.Log, o.Night)
	for _, pr := range p.Problems {
		logx.From(ctx).Warn(pr, "night", o.Night)
	}
	var b bytes.Buffer
	if err := p.Write(&b, links); err != nil {
		return fmt.Errorf("night log %s: %w", o.Night, err)
	}
	if path == "" {
		_, err := stdout.Write(b.Bytes())
		return err
	}
	if err := atomicfile.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("night log %s: %w", path, err)
	}
	fmt.Fprintln(stdout, path)
	return nil
}

// staticLinks link the previews relative to the folder of the page at
// path (procDir for standard output).
func staticLinks(procDir, path, night string, embed bool) (nightlog.Links, error) {
	if embed {
		return nightlog.Links{Embed: true}, nil
	}
	from := procDir
	if path != "" {
		from = filepath.Dir(path)
	}
	absFrom, err := filepath.Abs(from)
	if err != nil {
		return nightlog.Links{}, err
	}
	absNight, err := filepath.Abs(filepath.Join(procDir, night))
	if err != nil {
		return nightlog.Links{}, err
	}
	rel, err := filepath.Rel(absFrom, absNight)
	if err != nil {
		return nightlog.Links{}, fmt.Errorf("night log: no relative path from %s to %s: %w", absFrom, absNight, err)
	}
	segs := strings.Split(filepath.ToSlash(rel), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return nightlog.Links{Previews: strings.Join(segs, "/") + "/"}, nil
}
