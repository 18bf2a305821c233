package verify

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/logx"
	"github.com/obsdata/dataman/internal/stall"
	"github.com/obsdata/dataman/internal/workers"
)

// Options say what to verify and how.
type Options struct {
	Layout   frame.Layout
	Nights   []string // CCYYMMDD; none: every night found
	Channels []string // none: every channel found
	Files    []string // raw file names; their directories do not count
	Deep     bool
	Fix      bool
	// Redeliver, with Fix, sends again the copies the archive took.
	Redeliver bool
	// Consumed: repoDir has a consumer (delivery.repo.consumed), so a
	// delivered copy gone from it was taken, which is no problem.
	Consumed bool
	// RepoTimeout bounds a stall reading a file (delivery.repo.timeout);
	// 0 waits for ever.
	RepoTimeout time.Duration
	// Watcher knows the stuck folders; nil makes one per run.
	Watcher *stall.Watcher
	tick    func()
	Jobs    int
	// Proc recomputes MERGED for Deep; its MakeOTM says whether a
	// conditioned file must have a MERGED extension at all.
	Proc fits.Options
	// Version goes in the ledger lines Fix writes.
	Version string
	// Deliverer builds the delivery path for Fix, only when a file needs it.
	Deliverer func() (*deliver.Deliverer, error)
	// Progress, if not nil, starts a progress bar for a phase of total
	// files ("verifying", "repairing").
	Progress func(what string, total int) Bar
}

// Bar counts the files of one phase; *progress.Bar is one.
type Bar interface {
	Add(n int)
	Done()
}

type noBar struct{}

func (noBar) Add(int) {}
func (noBar) Done()   {}

// Report is what a run found: one result per raw file, in the order of
// channels, nights and sequence numbers (or of the files named), then the
// extra copies.
type Report struct {
	Files   []Result
	Summary Summary
	// Looked is where the run looked for files: the nights and channels,
	// their raw folders, ledgers and copies.
	Looked Places
}

// Summary counts the results; the last line of verify's output, and the
// "summary" object of --json.
type Summary struct {
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

// Problems is the number of files with a problem.
func (s Summary) Problems() int { return s.Files - s.OK }

// Check reports what is wrong with the options as a user gave them: a
// malformed night, channel or file name, or files named along with nights
// or channels.
func (o Options) Check() error {
	if len(o.Files) > 0 && (len(o.Nights) > 0 || len(o.Channels) > 0) {
		return errors.New("name files or give --night/--channel, not both")
	}
	for _, night := range o.Nights {
		if _, err := time.Parse("20060102", night); err != nil || len(night) != 8 {
			return fmt.Errorf("--night %q: want a date as CCYYMMDD", night)
		}
	}
	for _, c := range o.Channels {
		if !ValidChannel(strings.ToLower(c)) {
			return fmt.Errorf("--channel %q: want a channel name such as mods1b", c)
		}
	}
	for _, f := range o.Files {
		if _, err := frame.ParseName(filepath.Base(f)); err != nil {
			return err
		}
	}
	return nil
}

// Run verifies the files o asks for and, with o.Fix, hands what can be
// repaired to the delivery path and verifies it again. Problems found are
// in the report; an error means verify could not do its job (bad options,
// a folder or ledger it could not read, ctx done).
func Run(ctx context.Context, o Options) (Report, error) {
	log := logx.From(ctx)
	start := time.Now()
	if err := o.Check(); err != nil {
		return Report{}, err
	}
	if o.Progress == nil {
		o.Progress = func(string, int) Bar { return noBar{} }
	}
	sel, err := selectFiles(o)
	if err != nil {
		return Report{}, err
	}
	for _, ch := range sel.chans {
		for _, p := range ch.Problems {
			log.Warn("ledger line skipped", "problem", p)
		}
	}
	results := make([]Result, len(sel.targets))
	bar := o.Progress("verifying", len(sel.targets))
	workers.ForEach(ctx, len(sel.targets), o.Jobs, func(i int) {
		results[i] = checkWatched(ctx, o, sel.targets[i].state())
		log.Debug("verified", "file", results[i].File, "status", results[i].Status.Word())
		bar.Add(1)
	})
	bar.Done()
	if err := ctx.Err(); err != nil {
		return Report{}, err
	}
	if o.Fix {
		if err := repair(ctx, o, sel, results); err != nil {
			return Report{}, err
		}
	}
	extras, err := sel.extras()
	if err != nil {
		return Report{}, err
	}
	results = append(results, extras...)

	rep := Report{Files: results, Looked: sel.looked()}
	sum := &rep.Summary
	sum.Files, sum.Seconds = len(results), time.Since(start).Seconds()
	for _, r := range results {
		sum.Bytes += r.Bytes
		if r.Before != 0 && r.OK() {
			sum.Repaired++
		}
		switch r.Status {
		case OK:
			sum.OK++
		case Missing:
			sum.Missing++
		case Extra:
			sum.Extra++
		case Differs:
			sum.Differ++
		default:
			sum.Errors++
		}
	}
	return rep, nil
}

// target is one raw file to verify, or an earlier exposure under its name
// (gen >= 0).
type target struct {
	n        frame.Name
	ch       *Channel
	gen      int
	consumed bool
}

func (t target) state() FrameState {
	st := t.ch.Frame(t.n)
	if t.gen >= 0 {
		st = t.ch.FrameOf(t.n, t.gen)
	}
	st.Consumed = t.consumed
	return st
}

// withEarlier adds to targets the earlier exposures of the last one's name.
func withEarlier(targets []target) []target {
	t := targets[len(targets)-1]
	for _, g := range t.ch.Earlier(t.n.Base) {
		targets = append(targets, target{n: t.n, ch: t.ch, gen: g, consumed: t.consumed})
	}
	return targets
}

// selection is what verify looks at: the files, and for nights the folders
// that may hold extra copies.
type selection struct {
	layout  frame.Layout
	chans   map[string]*Channel
	nights  map[string][]string // by channel; nil when files were named
	asked   []string            // the nights asked for, with or without a channel
	targets []target
}

func selectFiles(o Options) (*selection, error) {
	sel := &selection{layout: o.Layout, chans: map[string]*Channel{}, asked: o.Nights}
	channel := func(name string) (*Channel, error) {
		if ch := sel.chans[name]; ch != nil {
			return ch, nil
		}
		ch, err := LoadChannel(o.Layout, name)
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
				return nil, err
			}
			if seen[n.Base] {
				continue
			}
			seen[n.Base] = true
			ch, err := channel(n.Chan)
			if err != nil {
				return nil, err
			}
			sel.targets = withEarlier(append(sel.targets, target{n: n, ch: ch, gen: -1, consumed: o.Consumed}))
		}
		return sel, nil
	}
	var names []string
	for _, c := range o.Channels {
		names = append(names, strings.ToLower(c))
	}
	if len(names) == 0 {
		var err error
		if names, err = Channels(o.Layout); err != nil {
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
				sel.targets = withEarlier(append(sel.targets, target{n: n, ch: ch, gen: -1, consumed: o.Consumed}))
			}
		}
	}
	return sel, nil
}

// extras reports the copies nobody accounts for in the nights looked at.
func (s *selection) extras() ([]Result, error) {
	var out []Result
	for _, name := range slices.Sorted(maps.Keys(s.nights)) {
		for _, night := range s.nights[name] {
			for _, base := range slices.Sorted(maps.Keys(s.chans[name].refused)) {
				if n, err := frame.ParseName(base); err == nil && n.ObsDate == night {
					r := Result{File: base, Status: OK}
					r.Flag(Error, "%s", s.chans[name].refused[base])
					out = append(out, r)
				}
			}
			paths, err := s.chans[name].Extras(night)
			if err != nil {
				return nil, fmt.Errorf("channel %s, night %s: %w", name, night, err)
			}
			for _, p := range paths {
				r := Result{File: p, Status: OK}
				if s.chans[name].Knows(filepath.Base(p)) {
					r.Flag(Extra, "not the copy the ledger records for this file")
				} else {
					r.Flag(Extra, "neither the raw folder nor the ledger knows this file")
				}
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// Places are where a run looked for files.
type Places struct {
	Channels []string
	Nights   []string // of every channel
	Raw      []string // the channels' raw folders, or dataDir if there is no channel
	Ledgers  []string // the channels' ledgers, or their folder if there is no channel
	Stored   []string // procDir/<night> for each night, or procDir if there is none
	Repo     string
	Absent   []string // those of the folders and ledgers above that do not exist
}

func (s *selection) looked() Places {
	p := Places{Repo: s.layout.RepoDir}
	nights := map[string]bool{}
	for _, n := range s.asked {
		nights[n] = true
	}
	for _, ns := range s.nights {
		for _, n := range ns {
			nights[n] = true
		}
	}
	for _, t := range s.targets {
		nights[t.n.ObsDate] = true
	}
	p.Nights = slices.Sorted(maps.Keys(nights))
	p.Channels = slices.Sorted(maps.Keys(s.chans))
	for _, name := range p.Channels {
		p.Raw = append(p.Raw, s.chans[name].RawDir())
		p.Ledgers = append(p.Ledgers, s.chans[name].LedgerPath())
	}
	if len(p.Channels) == 0 {
		p.Raw, p.Ledgers = []string{s.layout.DataDir}, []string{ledgerDir(s.layout)}
	}
	for _, night := range p.Nights {
		p.Stored = append(p.Stored, filepath.Join(s.layout.ProcDir, night))
	}
	if len(p.Nights) == 0 {
		p.Stored = []string{s.layout.ProcDir}
	}
	for _, paths := range [][]string{p.Raw, p.Ledgers, p.Stored, {p.Repo}} {
		for _, path := range paths {
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				p.Absent = append(p.Absent, path)
			}
		}
	}
	return p
}

// reload rereads the channels, after Fix changed the ledgers.
func (s *selection) reload() error {
	for name := range s.chans {
		ch, err := LoadChannel(s.layout, name)
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

func (o *Options) watcher() *stall.Watcher {
	if o.Watcher == nil {
		o.Watcher = &stall.Watcher{}
	}
	return o.Watcher
}
