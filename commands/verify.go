package commands

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/ledger"
	"github.com/obsdata/dataman/internal/logx"
	"github.com/obsdata/dataman/internal/progress"
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
			"Nothing is written unless --fix is given. Then each file the delivery path can repair is handed to it\n" +
			"(a ledger record that vouches for a damaged copy is first marked failed, so that the delivery path does\n" +
			"not trust it), verified again, and its line says what was done. Extra copies are never removed.",
		Flags: []cli.Flag{
			configFlag, setFlag, logLevelFlag, jobsFlag, jsonFlag,
			&cli.StringSliceFlag{Name: "night", Usage: "verify the night `CCYYMMDD` (repeatable; default: every night found)"},
			&cli.StringSliceFlag{Name: "channel", Usage: "verify the channel `CHAN`, e.g. mods1b (repeatable; default: every channel found)"},
			&cli.BoolFlag{Name: "deep", Usage: "also recompute MERGED from the raw file and compare it bit for bit"},
			&cli.BoolFlag{Name: "fix", Usage: "hand what can be repaired to the delivery path, then verify it again"},
		},
		Action: func(c *cli.Context) error {
			ctx, cfg, err := setup(c)
			if err != nil {
				return err
			}
			log := logx.From(ctx)
			return runVerify(ctx, verifyOptions{
				Layout: frame.Layout{
					DataDir:  cfg.Paths.DataDir,
					ProcDir:  cfg.Paths.ProcDir,
					RepoDir:  cfg.Paths.RepoDir,
					StateDir: cfg.Paths.StateDir,
				},
				Nights:   c.StringSlice("night"),
				Channels: c.StringSlice("channel"),
				Files:    c.Args().Slice(),
				Deep:     c.Bool("deep"),
				Fix:      c.Bool("fix"),
				JSON:     c.Bool(jsonFlag.Name),
				Progress: progress.IsTerminal(os.Stderr),
				Jobs:     cfg.Jobs,
				Proc:     processing(cfg, version),
				Version:  version,
				Deliverer: func() (*deliver.Deliverer, error) {
					if err := makeDefaultDirs(cfg); err != nil {
						return nil, err
					}
					return newDeliverer(cfg, version, log, false)
				},
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

type verifyOptions struct {
	Layout   frame.Layout
	Nights   []string
	Channels []string
	Files    []string // raw file names; their directories do not count
	Deep     bool
	Fix      bool
	JSON     bool
	Progress bool
	Jobs     int
	// Proc recomputes MERGED for --deep; its MakeOTM says whether a
	// conditioned file must have a MERGED extension at all.
	Proc fits.Options
	// Version goes in the ledger lines --fix writes.
	Version string
	// Deliverer builds the delivery path for --fix, only when a file needs it.
	Deliverer func() (*deliver.Deliverer, error)
}

// verifySummary is the last line, and the "summary" object of --json.
type verifySummary struct {
	Files    int     `json:"files"`
	OK       int     `json:"ok"`
	Missing  int     `json:"missing"`
	Extra    int     `json:"extra"`
	Differ   int     `json:"differs"`
	Errors   int     `json:"errors"`
	Repaired int     `json:"repaired"`
	Bytes    int64   `json:"bytes"`
	Seconds  float64 `json:"seconds"`
}

func runVerify(ctx context.Context, o verifyOptions, stdout, stderr io.Writer) error {
	log := logx.From(ctx)
	start := time.Now()
	sel, err := selectFiles(o)
	if err != nil {
		return err
	}
	for _, ch := range sel.chans {
		for _, p := range ch.Problems {
			log.Warn("ledger line skipped", "problem", p)
		}
	}
	if len(sel.targets) == 0 {
		log.Warn("no files to verify", "channels", slices.Sorted(maps.Keys(sel.chans)), "nights", o.Nights)
	}
	results := make([]verify.Result, len(sel.targets))
	bar := progress.New(stderr, o.Progress, len(sel.targets), "verifying")
	forEach(ctx, len(sel.targets), o.Jobs, func(i int) {
		results[i] = checkFile(o, sel.targets[i])
		log.Debug("verified", "file", results[i].File, "status", results[i].Status.Word())
		bar.Add(1)
	})
	bar.Done()
	if err := ctx.Err(); err != nil {
		return err
	}
	if o.Fix {
		if err := repair(ctx, o, sel, results, stderr); err != nil {
			return err
		}
	}
	extras, err := sel.extras()
	if err != nil {
		return err
	}
	results = append(results, extras...)

	sum := verifySummary{Files: len(results), Seconds: time.Since(start).Seconds()}
	for _, r := range results {
		sum.Bytes += r.Bytes
		if r.Before != 0 && r.OK() {
			sum.Repaired++
		}
		switch r.Status {
		case verify.OK:
			sum.OK++
		case verify.Missing:
			sum.Missing++
		case verify.Extra:
			sum.Extra++
		case verify.Differs:
			sum.Differ++
		default:
			sum.Errors++
		}
	}
	if err := printVerify(stdout, o.JSON, results, sum); err != nil {
		return err
	}
	if bad := sum.Files - sum.OK; bad > 0 {
		var hints []string
		if !o.Fix && slices.ContainsFunc(results, func(r verify.Result) bool { return len(r.Redo) > 0 }) {
			hints = append(hints, "dataman verify --fix hands what can be repaired to the delivery path")
		}
		return exitcode.New(exitcode.Problems, fmt.Errorf("verify: %d of %d files have problems", bad, sum.Files), hints...)
	}
	return nil
}

func printVerify(w io.Writer, asJSON bool, results []verify.Result, sum verifySummary) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Files   []verify.Result `json:"files"`
			Summary verifySummary   `json:"summary"`
		}{results, sum})
	}
	for _, r := range results {
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s", r.Status, r.File)
		if len(r.Problems) > 0 {
			b.WriteString(": " + strings.Join(r.Problems, "; "))
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
	_, err := fmt.Fprintf(w, "; %s verified in %.2f s (%.0f MB/s)\n", humanBytes(sum.Bytes), sum.Seconds, mbs)
	return err
}

// target is one raw file to verify.
type target struct {
	n  frame.Name
	ch *verify.Channel
}

// selection is what verify looks at: the files, and for nights the folders
// that may hold extra copies.
type selection struct {
	layout  frame.Layout
	chans   map[string]*verify.Channel
	nights  map[string][]string // by channel; nil when files were named
	targets []target
}

func selectFiles(o verifyOptions) (*selection, error) {
	if len(o.Files) > 0 && (len(o.Nights) > 0 || len(o.Channels) > 0) {
		return nil, exitcode.Usagef("name files or give --night/--channel, not both")
	}
	for _, night := range o.Nights {
		if _, err := time.Parse("20060102", night); err != nil || len(night) != 8 {
			return nil, exitcode.Usagef("--night %q: want a date as CCYYMMDD", night)
		}
	}
	sel := &selection{layout: o.Layout, chans: map[string]*verify.Channel{}}
	channel := func(name string) (*verify.Channel, error) {
		if ch := sel.chans[name]; ch != nil {
			return ch, nil
		}
		ch, err := verify.LoadChannel(o.Layout, name)
		if err != nil {
			return nil, fmt.Errorf("channel %s: %w", name, err)
		}
		sel.chans[name] = ch
		return ch, nil
	}
	if len(o.Files) > 0 {
		seen := map[string]bool{}
		for _, f := range o.Files {
			n, err := frame.ParseName(filepath.Base(f))
			if err != nil {
				return nil, exitcode.New(exitcode.Usage, err)
			}
			if seen[n.Base] {
				continue
			}
			seen[n.Base] = true
			ch, err := channel(n.Chan)
			if err != nil {
				return nil, err
			}
			sel.targets = append(sel.targets, target{n, ch})
		}
		return sel, nil
	}
	var names []string
	for _, c := range o.Channels {
		names = append(names, strings.ToLower(c))
		if !verify.ValidChannel(names[len(names)-1]) {
			return nil, exitcode.Usagef("--channel %q: want a channel name such as mods1b", c)
		}
	}
	if len(names) == 0 {
		var err error
		if names, err = verify.Channels(o.Layout); err != nil {
			return nil, err
		}
	}
	sel.nights = map[string][]string{}
	for _, name := range slices.Compact(slices.Sorted(slices.Values(names))) {
		ch, err := channel(name)
		if err != nil {
			return nil, err
		}
		nights := o.Nights
		if len(nights) == 0 {
			if nights, err = ch.Nights(); err != nil {
				return nil, fmt.Errorf("channel %s: %w", name, err)
			}
		}
		sel.nights[name] = slices.Compact(slices.Sorted(slices.Values(nights)))
		for _, night := range sel.nights[name] {
			for _, n := range ch.Files(night) {
				sel.targets = append(sel.targets, target{n, ch})
			}
		}
	}
	return sel, nil
}

// extras reports the copies nobody accounts for in the nights looked at.
func (s *selection) extras() ([]verify.Result, error) {
	var out []verify.Result
	for _, name := range slices.Sorted(maps.Keys(s.nights)) {
		for _, night := range s.nights[name] {
			paths, err := s.chans[name].Extras(night)
			if err != nil {
				return nil, fmt.Errorf("channel %s, night %s: %w", name, night, err)
			}
			for _, p := range paths {
				r := verify.Result{File: p, Status: verify.OK}
				if s.chans[name].Knows(filepath.Base(p)) {
					r.Flag(verify.Extra, "not the copy the ledger records for this file")
				} else {
					r.Flag(verify.Extra, "neither the raw folder nor the ledger knows this file")
				}
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// reload rereads the channels, after --fix changed the ledgers.
func (s *selection) reload() error {
	for name := range s.chans {
		ch, err := verify.LoadChannel(s.layout, name)
		if err != nil {
			return fmt.Errorf("channel %s: %w", name, err)
		}
		s.chans[name] = ch
	}
	for i := range s.targets {
		s.targets[i].ch = s.chans[s.targets[i].n.Chan]
	}
	return nil
}

// checkFile verifies one raw file's copies. It only reads.
func checkFile(o verifyOptions, t target) verify.Result {
	r := verify.Result{File: t.n.Base, Status: verify.OK}
	state := t.ch.State(t.n.Base)
	stored, dispatched := verify.Locate(o.Layout, t.n, state)
	si, haveStored := stored.Stat(&r)
	di, haveDispatched := dispatched.Stat(&r)
	for _, fi := range []os.FileInfo{si, di} {
		if fi != nil {
			r.Bytes += fi.Size()
		}
	}
	var hdus []*fits.HDU
	var checked verify.Copy
	switch {
	case haveStored && haveDispatched:
		hdus = checkCopies(o, &r, stored, &dispatched)
		checked = stored
	case haveStored:
		hdus = checkCopies(o, &r, stored, nil)
		checked = stored
	case haveDispatched:
		hdus = checkCopies(o, &r, dispatched, nil)
		checked = dispatched
	}
	if o.Deep && hdus != nil {
		deepCheck(o, &r, t, checked, hdus, state)
	}
	return r
}

// checkCopies reads c, and other if given, once: FITS structure, checksums
// and MERGED header of c, its SHA-256 against the ledger, and other
// compared byte for byte. The HDUs of c are returned if its structure is
// sound.
func checkCopies(o verifyOptions, r *verify.Result, c verify.Copy, other *verify.Copy) []*fits.HDU {
	otherPath := ""
	if other != nil {
		otherPath = other.Path
	}
	rd, err := verify.Open(c.Path, otherPath)
	if err != nil {
		r.Flag(verify.Error, "%v", err)
		return nil
	}
	defer rd.Close()
	redone := len(r.Redo)
	hdus, problems := checkFITS(rd, rd.Size(), o.Proc.MakeOTM)
	sum, err := rd.Finish()
	if err != nil {
		r.Flag(verify.Error, "%v", err)
		return nil
	}
	if r.SHA256 == "" {
		r.SHA256 = sum.SHA256
	}
	setPath(r, c)
	c.CheckLedger(r, sum)
	if other != nil && sum.Identical {
		setPath(r, *other)
		other.CheckLedger(r, sum)
		for _, p := range problems {
			c.Damaged(r, p.status, "both copies: %s", p.what)
			other.Redo(r)
		}
		return hdus
	}
	for _, p := range problems {
		c.Damaged(r, p.status, "%s: %s", c.Name(), p.what)
	}
	if other != nil {
		r.Flag(verify.Differs, "the %s differs from the %s from byte %d on", other.Name(), c.Name(), sum.DifferAt)
		checkCopies(o, r, *other, nil)
		if len(r.Redo) == redone {
			// Both copies look sound and the ledger cannot tell which is
			// right: the stored copy is the source of the dispatched one.
			other.Redo(r)
		}
	}
	return hdus
}

func setPath(r *verify.Result, c verify.Copy) {
	if c.Step == ledger.StepDispatch {
		r.Dispatched = c.Path
	} else {
		r.Stored = c.Path
	}
}

type problem struct {
	status verify.Status
	what   string
}

// checkFITS checks the structure, every HDU's CHECKSUM and DATASUM, and
// that the MERGED header repeats the primary's cards.
func checkFITS(r io.ReaderAt, size int64, wantMerged bool) ([]*fits.HDU, []problem) {
	hdus, err := fits.Scan(r, size)
	if err != nil {
		return nil, []problem{{verify.Error, "not sound FITS: " + err.Error()}}
	}
	var out []problem
	buf := make([]byte, 1<<20)
	for _, h := range hdus {
		st, err := fits.VerifyChecksum(r, h, buf)
		if err != nil {
			out = append(out, problem{verify.Error, fmt.Sprintf("%s: %v", hduName(h), err)})
			continue
		}
		if st.OK() {
			continue
		}
		var what []string
		s := verify.Differs
		if !st.HasChecksum {
			what, s = append(what, "no CHECKSUM, so nothing proves it intact"), verify.Error
		} else if !st.ChecksumOK {
			what = append(what, "CHECKSUM does not match")
		}
		if !st.HasDatasum {
			what, s = append(what, "no DATASUM"), verify.Error
		} else if !st.DatasumOK {
			what = append(what, "the data do not match DATASUM")
		}
		out = append(out, problem{s, hduName(h) + ": " + strings.Join(what, ", ")})
	}
	merged := findMerged(hdus)
	switch {
	case merged == nil && wantMerged:
		out = append(out, problem{verify.Differs, "no MERGED extension"})
	case merged != nil:
		if diffs := headerDiffs(hdus[0].Header, merged.Header); len(diffs) > 0 {
			if len(diffs) > 4 {
				diffs = append(diffs[:4], fmt.Sprintf("and %d more", len(diffs)-4))
			}
			out = append(out, problem{verify.Differs, "MERGED header disagrees with the primary: " + strings.Join(diffs, ", ")})
		}
	}
	return hdus, out
}

func hduName(h *fits.HDU) string { return fmt.Sprintf("HDU %d (%s)", h.Index, h.Name()) }

func findMerged(hdus []*fits.HDU) *fits.HDU {
	for _, h := range hdus[1:] {
		if strings.EqualFold(h.Name(), "MERGED") {
			return h
		}
	}
	return nil
}

// The cards MERGED may lack or add: the primary's structure and provenance
// cards, MERGED's own structure, name and bias statistics, the checksums,
// and LONGSTRN, which only declares a convention each header may use.
var (
	primaryOnly = setOf("SIMPLE", "BITPIX", "NAXIS", "EXTEND", "CHECKSUM", "DATASUM", fits.KeyVersion, fits.KeyConfig, "LONGSTRN")
	mergedOnly  = setOf("XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "PCOUNT", "GCOUNT", "EXTNAME", "CHECKSUM", "DATASUM", "LONGSTRN",
		"Q1BIAS", "Q1STD", "Q2BIAS", "Q2STD", "Q3BIAS", "Q3STD", "Q4BIAS", "Q4STD")
)

func setOf(keys ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// headerDiffs names the keywords on which MERGED and the primary disagree.
// Cards are compared as written, and COMMENT and HISTORY cards in order;
// where a card sits in the header does not matter.
func headerDiffs(primary, merged *fits.Header) []string {
	p, m := cardImages(primary, primaryOnly), cardImages(merged, mergedOnly)
	var out []string
	for _, k := range slices.Sorted(maps.Keys(p)) {
		switch mv, ok := m[k]; {
		case !ok:
			out = append(out, k+" missing")
		case !slices.Equal(p[k], mv):
			out = append(out, k+" differs")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if _, ok := p[k]; !ok {
			out = append(out, k+" not in the primary")
		}
	}
	return out
}

func cardImages(h *fits.Header, skip map[string]bool) map[string][]string {
	out := map[string][]string{}
	for i := range h.Cards {
		c := &h.Cards[i]
		key := c.Key
		if c.Hierarch {
			key = "HIERARCH " + key
		} else if skip[key] {
			continue
		}
		imgs, err := c.Images()
		if err != nil {
			imgs = []string{"unformattable: " + err.Error()}
		}
		out[key] = append(out[key], imgs...)
	}
	return out
}

// deepCheck conditions the raw file again, into a temporary file outside
// the tree, and compares MERGED with the checked copy's bit for bit.
func deepCheck(o verifyOptions, r *verify.Result, t target, c verify.Copy, hdus []*fits.HDU, state map[string]ledger.Event) {
	have := findMerged(hdus)
	if have == nil {
		r.Flag(verify.Differs, "--deep: no MERGED extension to compare")
		return
	}
	raw, err := fits.Open(o.Layout.Raw(t.n))
	if err != nil {
		r.Flag(verify.Error, "--deep: cannot recompute MERGED: raw file: %v", err)
		return
	}
	defer raw.Close()
	tmp, err := os.CreateTemp("", "dataman-verify-*.fits")
	if err != nil {
		r.Flag(verify.Error, "--deep: %v", err)
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	opts := o.Proc
	opts.MakeOTM, opts.HashRaw = true, true
	res, err := fits.Condition(raw, tmp, opts)
	r.Bytes += raw.Size
	if err != nil {
		r.Flag(verify.Error, "--deep: recomputing MERGED: %v", err)
		return
	}
	if ev, ok := state[ledger.StepCondition]; ok && ev.RawSHA256 != "" && ev.RawSHA256 != res.RawSHA256 {
		r.Flag(verify.Differs, "--deep: the raw file changed since it was conditioned (sha256 %.12s…, the ledger recorded %.12s…)", res.RawSHA256, ev.RawSHA256)
	}
	out, err := fits.Scan(tmp, res.OutSize)
	if err != nil {
		r.Flag(verify.Error, "--deep: reading the recomputation: %v", err)
		return
	}
	want := findMerged(out)
	if want == nil {
		r.Flag(verify.Error, "--deep: the recomputation has no MERGED extension")
		return
	}
	f, err := os.Open(c.Path)
	if err != nil {
		r.Flag(verify.Error, "--deep: %v", err)
		return
	}
	defer f.Close()
	d, err := diffMerged(f, have, tmp, want)
	switch {
	case err != nil:
		r.Flag(verify.Error, "--deep: comparing MERGED: %v", err)
	case d != "":
		r.Flag(verify.Differs, "--deep: %s: %s", c.Name(), d)
	}
}

// diffMerged compares two MERGED data units and describes the difference:
// how many pixels differ, and the first, as FITS (x, y) from 1.
func diffMerged(a io.ReaderAt, ha *fits.HDU, b io.ReaderAt, hb *fits.HDU) (string, error) {
	na1, _ := ha.Header.Int("NAXIS1")
	nb1, _ := hb.Header.Int("NAXIS1")
	if ha.DataSize != hb.DataSize || na1 != nb1 {
		return fmt.Sprintf("MERGED is %d bytes wide %d, the recomputation %d bytes wide %d", ha.DataSize, na1, hb.DataSize, nb1), nil
	}
	bitpix, _ := ha.Header.Int("BITPIX")
	px := max(1, int64(math.Abs(float64(bitpix)))/8)
	const chunk = 1 << 20
	bufA, bufB := make([]byte, chunk), make([]byte, chunk)
	var count, first int64 = 0, -1
	var firstA, firstB []byte
	for off := int64(0); off < ha.DataSize; off += chunk {
		n := min(chunk, ha.DataSize-off)
		if _, err := a.ReadAt(bufA[:n], ha.DataStart()+off); err != nil {
			return "", err
		}
		if _, err := b.ReadAt(bufB[:n], hb.DataStart()+off); err != nil {
			return "", err
		}
		if bytes.Equal(bufA[:n], bufB[:n]) {
			continue
		}
		for i := int64(0); i+px <= n; i += px {
			if !bytes.Equal(bufA[i:i+px], bufB[i:i+px]) {
				if first < 0 {
					first = (off + i) / px
					firstA, firstB = slices.Clone(bufA[i:i+px]), slices.Clone(bufB[i:i+px])
				}
				count++
			}
		}
	}
	if count == 0 {
		return "", nil
	}
	x, y := first%max(1, na1)+1, first/max(1, na1)+1
	return fmt.Sprintf("MERGED differs from its recomputation in %d of %d pixels, first at (%d, %d): %s, recomputed %s",
		count, ha.DataSize/px, x, y, pixel(firstA, bitpix), pixel(firstB, bitpix)), nil
}

func pixel(b []byte, bitpix int64) string {
	if bitpix == -32 && len(b) == 4 {
		return fmt.Sprint(math.Float32frombits(binary.BigEndian.Uint32(b)))
	}
	return fmt.Sprintf("%x", b)
}

// repair hands each repairable file to the delivery path and verifies it
// again. The delivery path trusts a ledger record whose copy still has the
// recorded size and modification time, which a damaged copy can keep (bit
// rot, an edit that restored the time), so such records are first voided
// with a failed event, as the delivery path itself does when it finds a
// stored copy that no longer matches.
func repair(ctx context.Context, o verifyOptions, sel *selection, results []verify.Result, stderr io.Writer) error {
	log := logx.From(ctx)
	var todo []int
	for i, r := range results {
		if r.OK() || len(r.Redo) == 0 {
			continue
		}
		results[i].Before, results[i].BeforeWhat = r.Status, r.Problems
		if slices.Contains(r.Redo, ledger.StepStore) && !sel.targets[i].ch.HasRaw(r.File) {
			results[i].FixError = "the stored copy must be made again and the raw file is gone"
			continue
		}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return nil
	}
	if err := voidRecords(o, sel, results, todo); err != nil {
		return err
	}
	d, err := o.Deliverer()
	if err != nil {
		return err
	}
	defer d.Close()
	bar := progress.New(stderr, o.Progress, len(todo), "repairing")
	forEach(ctx, len(todo), o.Jobs, func(k int) {
		i := todo[k]
		rep, err := d.Ensure(ctx, sel.targets[i].n.Base, deliver.Deliver)
		results[i].Fixed = rep.Actions
		if err != nil {
			results[i].FixError = err.Error()
			log.Warn("repair failed", "file", results[i].File, "err", err)
		} else {
			log.Debug("repaired", "file", results[i].File, "actions", rep.Actions)
		}
		bar.Add(1)
	})
	bar.Done()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := sel.reload(); err != nil {
		return err
	}
	forEach(ctx, len(todo), o.Jobs, func(k int) {
		i := todo[k]
		r := checkFile(o, sel.targets[i])
		r.Before, r.BeforeWhat, r.Fixed, r.FixError = results[i].Before, results[i].BeforeWhat, results[i].Fixed, results[i].FixError
		r.Bytes += results[i].Bytes
		results[i] = r
	})
	return ctx.Err()
}

// voidRecords marks failed the ledger records that vouch for damaged copies.
func voidRecords(o verifyOptions, sel *selection, results []verify.Result, todo []int) error {
	ledgers := map[string]*ledger.Ledger{}
	defer func() {
		for _, l := range ledgers {
			l.Close()
		}
	}()
	for _, i := range todo {
		r := results[i]
		for _, step := range r.Invalidate {
			t := sel.targets[i]
			l := ledgers[t.n.Chan]
			if l == nil {
				var err error
				if l, err = ledger.Open(o.Layout.StateDir, t.n.Chan); err != nil {
					return err
				}
				ledgers[t.n.Chan] = l
			}
			ev := t.ch.State(r.File)[step]
			err := l.Append(ledger.Event{
				File:    r.File,
				Step:    step,
				Status:  ledger.StatusFailed,
				Dest:    ev.Dest,
				Version: o.Version,
				Reason:  "verify: " + strings.Join(r.Problems, "; "),
				Attempt: ev.Attempt + 1,
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}
