package verify

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/obsdata/dataman/internal/atomicfile"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/judge"
	"github.com/obsdata/dataman/internal/ledger"
	"github.com/obsdata/dataman/internal/preview"
)

// This file is everything verify believes about a frame before it reads a
// copy: which frames exist (the raw folder and the ledger), what the ledger
// last recorded for each step, and where the two copies should therefore
// be. The checks ask it through Channel.Frame and nothing else, so that the
// judge package can take its place.

// Channel is what the raw folder and the ledger know of one channel. The
// ledger is read, never opened: opening creates it and cuts a torn last
// line, and verify changes nothing.
type Channel struct {
	Name     string
	Problems []error // ledger lines that did not parse

	layout frame.Layout
	raw    map[string]frame.Name              // in the raw folder, by base name
	state  map[string]map[string]ledger.Event // latest event per step, by file
	// The channel's files in repoDir and in each <procDir>/<night>/, read
	// once when first needed: repoDir is shared by every instrument.
	repo   []string
	stored map[string][]string
	hist   map[string]ledger.FileHistory // generations, by file
	// refused are the raw files of the folder the judge refuses (special
	// files, links out of it), with the reason.
	refused map[string]string
}

// LoadChannel reads the channel's raw folder and ledger. Either may be
// absent: a channel with neither simply has no files.
func LoadChannel(l frame.Layout, name string) (*Channel, error) {
	c := &Channel{Name: name, layout: l, raw: map[string]frame.Name{}, state: map[string]map[string]ledger.Event{}, stored: map[string][]string{}}
	entries, err := os.ReadDir(c.RawDir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("raw folder: %w", err)
	}
	c.refused = map[string]string{}
	for _, e := range entries {
		n, err := frame.ParseName(e.Name())
		if err != nil || n.Chan != name {
			continue
		}
		// The judge's rule: a regular file in its folder, or a link to one
		// there; anything else is refused, and said.
		switch r := judge.LookRaw(judge.OSFS{}, l, n); r.State {
		case judge.RawPresent:
			c.raw[n.Base] = n
		case judge.RawRefused, judge.RawUnchecked:
			c.refused[n.Base] = r.Why
		}
	}
	events, problems, err := ledger.ReadChannel(l.StateDir, name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	c.Problems = problems
	c.hist = ledger.Index(events)
	for file, h := range c.hist {
		c.state[file] = h.Generations[h.Current].Steps
	}
	return c, nil
}

// RawDir is the channel's raw folder.
func (c *Channel) RawDir() string { return filepath.Join(c.layout.DataDir, c.Name) }

// LedgerPath is the channel's ledger folder.
func (c *Channel) LedgerPath() string { return ledger.Dir(c.layout.StateDir, c.Name) }

// ledgerDir is the folder of every channel's ledger.
func ledgerDir(l frame.Layout) string { return filepath.Dir(ledger.Path(l.StateDir, "x")) }

// State is the latest ledger event of each step for file; empty if the
// ledger does not know it.
func (c *Channel) State(file string) map[string]ledger.Event {
	if s := c.state[file]; s != nil {
		return s
	}
	return map[string]ledger.Event{}
}

// HasRaw reports whether the raw file is in the raw folder.
func (c *Channel) HasRaw(file string) bool {
	_, ok := c.raw[file]
	return ok
}

// Knows reports whether the raw folder or the ledger knows the raw file.
func (c *Channel) Knows(file string) bool {
	_, ok := c.state[file]
	return ok || c.HasRaw(file)
}

// Earlier lists the generations of file other than the current one: the
// exposures a raw file of the same name has since replaced, each with the
// copies the ledger recorded for it.
func (c *Channel) Earlier(file string) []int {
	h, ok := c.hist[file]
	if !ok {
		return nil
	}
	var out []int
	for i, g := range h.Generations {
		if i != h.Current && (g.Steps[ledger.StepStore].Done() || g.Steps[ledger.StepDispatch].Done()) {
			out = append(out, i)
		}
	}
	return out
}

// FrameState is what the raw folder and the ledger say of one frame.
type FrameState struct {
	Name   frame.Name
	Label  string // how results name it: the file, or the file and which exposure
	HasRaw bool
	// Consumed: repoDir has a consumer, so a delivered copy gone from it
	// was taken (delivery.repo.consumed).
	Consumed bool
	// Ledger is the latest event of each step; empty if the ledger does not
	// know the frame.
	Ledger map[string]ledger.Event
	// Stored and Dispatched are where the copies should be (see Locate).
	Stored, Dispatched Copy
	// StoredReused and DispatchedReused: of an earlier exposure, a later
	// exposure of the name recorded its own copy at the same path (the
	// archive took this one, or the collision policy is overwrite), so the
	// file there is not this exposure's.
	StoredReused, DispatchedReused bool
	// Earlier: an earlier exposure, whose raw file is now another's.
	Earlier bool
}

// Frame says what state n is in, as far as the raw folder and the ledger
// tell: whether its raw file is there, the ledger's latest events, and
// where its copies should be.
func (c *Channel) Frame(n frame.Name) FrameState {
	st := FrameState{Name: n, Label: n.Base, HasRaw: c.HasRaw(n.Base), Ledger: c.State(n.Base)}
	st.Stored, st.Dispatched = Locate(c.layout, n, st.Ledger)
	if h, ok := c.hist[n.Base]; ok {
		st.reused(h, h.Current)
	}
	return st
}

// FrameOf is Frame for generation gen of n's history: an earlier exposure,
// whose raw file was replaced by another of the same name.
func (c *Channel) FrameOf(n frame.Name, gen int) FrameState {
	g := c.hist[n.Base].Generations[gen]
	st := FrameState{Name: n, Ledger: g.Steps, Earlier: true,
		Label: fmt.Sprintf("%s (earlier exposure, raw sha256 %s)", n.Base, short(g.RawSHA256))}
	st.Stored, st.Dispatched = Locate(c.layout, n, st.Ledger)
	st.reused(c.hist[n.Base], gen)
	return st
}

// reused marks the copies another exposure of the name recorded at the
// same place later: they are that exposure's (the judge's rule).
func (st *FrameState) reused(h ledger.FileHistory, gen int) {
	st.StoredReused = st.Stored.Recorded != nil && judge.OwnedLater(h, gen, st.Stored.Path)
	st.DispatchedReused = st.Dispatched.Recorded != nil && judge.OwnedLater(h, gen, st.Dispatched.Path)
}

// Copy is where one of a file's two copies should be, and what the ledger
// says of it.
type Copy struct {
	Step string // ledger.StepStore or ledger.StepDispatch
	Path string
	// Recorded is the ledger's latest event for the step, if that event
	// says the copy was made; the copy must then match its out_sha256.
	Recorded *ledger.Event
	// Why is the ledger's account of a copy it did not make ("dispatch
	// pending: …"), or "" if it has none.
	Why string
}

// Name is how reports refer to the copy.
func (c Copy) Name() string {
	if c.Step == ledger.StepDispatch {
		return "dispatched copy"
	}
	return "stored copy"
}

// Locate returns where n's stored and dispatched copies should be: where the
// ledger last put them (a collision may have sent them to the UNIQNAME),
// else where the layout puts them.
func Locate(l frame.Layout, n frame.Name, state map[string]ledger.Event) (stored, dispatched Copy) {
	stored = locate(ledger.StepStore, l.Stored(n), state)
	dispatched = locate(ledger.StepDispatch, l.Dispatched(n), state)
	if stored.Recorded == nil && stored.Why == "" {
		if ev, ok := state[ledger.StepCondition]; ok && !ev.Done() {
			stored.Why = "condition " + ev.Status + ": " + ev.Reason
		}
	}
	if dispatched.Recorded == nil && dispatched.Why == "" && stored.Why != "" {
		dispatched.Why = "not stored"
	}
	return stored, dispatched
}

func locate(step, usual string, state map[string]ledger.Event) Copy {
	c := Copy{Step: step, Path: usual}
	ev, ok := state[step]
	switch {
	case !ok:
	case ev.Done() && ev.Dest != "":
		c.Path = ev.Dest
		c.Recorded = &ev
	default:
		c.Why = step + " " + ev.Status
		if ev.Reason != "" {
			c.Why += ": " + ev.Reason
		}
	}
	return c
}

// names is every raw file name of the channel that the raw folder or the
// ledger knows, with its night.
func (c *Channel) names() map[string]frame.Name {
	all := maps.Clone(c.raw)
	for file := range c.state {
		if n, err := frame.ParseName(file); err == nil && n.Chan == c.Name {
			all[file] = n
		}
	}
	return all
}

// Nights lists the nights (CCYYMMDD) the raw folder and the ledger know,
// and those where procDir or repoDir hold a copy of the channel's, so that
// copies nobody knows of are found too.
func (c *Channel) Nights() ([]string, error) {
	set := map[string]bool{}
	for _, n := range c.names() {
		set[n.ObsDate] = true
	}
	nights, err := os.ReadDir(c.layout.ProcDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range nights {
		if !e.IsDir() || !isNight(e.Name()) || set[e.Name()] {
			continue
		}
		names, err := c.storedIn(e.Name())
		if err != nil {
			return nil, err
		}
		set[e.Name()] = len(names) > 0
	}
	repo, err := c.inRepo()
	if err != nil {
		return nil, err
	}
	for _, name := range repo {
		if night, _, ok := strings.Cut(strings.TrimPrefix(name, c.Name+"."), "."); ok && isNight(night) {
			set[night] = true
		}
	}
	var out []string
	for night, ok := range set {
		if ok {
			out = append(out, night)
		}
	}
	slices.Sort(out)
	return out, nil
}

func isNight(s string) bool {
	_, err := time.Parse("20060102", s)
	return err == nil && len(s) == 8
}

func (c *Channel) storedIn(night string) ([]string, error) {
	if names, ok := c.stored[night]; ok {
		return names, nil
	}
	names, err := listPrefix(filepath.Join(c.layout.ProcDir, night), c.Name+".")
	if err != nil {
		return nil, err
	}
	names = slices.DeleteFunc(names, preview.IsPreview)
	c.stored[night] = names
	return names, nil
}

func (c *Channel) inRepo() ([]string, error) {
	if c.repo == nil {
		var err error
		if c.repo, err = listPrefix(c.layout.RepoDir, c.Name+"."); err != nil {
			return nil, err
		}
	}
	return c.repo, nil
}

// Files lists the raw files of one night, in sequence order.
func (c *Channel) Files(night string) []frame.Name {
	var out []frame.Name
	for _, n := range c.names() {
		if n.ObsDate == night {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b frame.Name) int { return a.Seq - b.Seq })
	return out
}

// Extras lists copies of the channel's files of one night that nobody
// expects: files in <procDir>/<night>/ named after the channel, and files in
// repoDir named <chan>.<night>.…, that are neither where the ledger last
// put a copy nor, for a file the ledger has not placed, where the layout
// would put it. The temporaries of a writer at work are not copies.
func (c *Channel) Extras(night string) ([]string, error) {
	expected := map[string]bool{}
	for _, n := range c.names() {
		s, d := Locate(c.layout, n, c.State(n.Base))
		expected[s.Path], expected[d.Path] = true, true
		for _, g := range c.hist[n.Base].Generations {
			for _, step := range []string{ledger.StepStore, ledger.StepDispatch} {
				if ev := g.Steps[step]; ev.Done() && ev.Dest != "" {
					expected[ev.Dest] = true
				}
			}
		}
	}
	var out []string
	stored, err := c.storedIn(night)
	if err != nil {
		return nil, err
	}
	for _, name := range stored {
		if p := filepath.Join(c.layout.ProcDir, night, name); !expected[p] {
			out = append(out, p)
		}
	}
	repo, err := c.inRepo()
	if err != nil {
		return nil, err
	}
	for _, name := range repo {
		if p := filepath.Join(c.layout.RepoDir, name); strings.HasPrefix(name, c.Name+"."+night+".") && !expected[p] {
			out = append(out, p)
		}
	}
	return out, nil
}

// listPrefix lists the regular files in dir whose names start with prefix;
// a missing dir has none.
func listPrefix(dir, prefix string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []string{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && e.Type().IsRegular() && !atomicfile.IsTemp(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Channels lists the channels that have a raw folder or a ledger.
func Channels(l frame.Layout) ([]string, error) {
	set := map[string]bool{}
	raw, err := os.ReadDir(l.DataDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("raw folder: %w", err)
	}
	for _, e := range raw {
		if e.IsDir() && ValidChannel(e.Name()) {
			set[e.Name()] = true
		}
	}
	ledgers, err := os.ReadDir(ledgerDir(l))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("ledger folder: %w", err)
	}
	for _, e := range ledgers {
		name, ok := strings.CutSuffix(e.Name(), ".ledger")
		ok = ok && e.Type().IsRegular() || e.IsDir()
		if name = strings.ToLower(name); ok && ValidChannel(name) {
			set[name] = true
		}
	}
	return slices.Sorted(maps.Keys(set)), nil
}

// ValidChannel accepts what frame.ParseName accepts as a channel: a
// lower-case letter, then lower-case letters and digits.
func ValidChannel(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	return strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789") == ""
}
