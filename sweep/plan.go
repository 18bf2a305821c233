package sweep

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/obsdata/dataman/internal/atomicfile"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/judge"
	"github.com/obsdata/dataman/internal/ledger"
)

// Kind is what an action does.
type Kind string

// The kinds of action, in the order a plan lists them.
const (
	// CleanTemps removes temporary files left by writers that crashed.
	CleanTemps Kind = "clean"
	// Store conditions, stores and dispatches a raw file; a damaged stored
	// copy of ours (Action.Damaged) is replaced by the delivery path. It
	// also records a copy or raw file whose mtime alone changed.
	Store Kind = "store"
	// Dispatch copies a sound stored copy to repoDir.
	Dispatch Kind = "dispatch"
	// Redispatch dispatches again over a damaged or outdated copy of ours
	// in repoDir.
	Redispatch Kind = "redispatch"
	// Lost reports, and records in the ledger, a file the ledger knows
	// whose raw file has gone from the raw folder.
	Lost Kind = "lost"
)

// Action is one step of a plan.
type Action struct {
	Kind    Kind     `json:"kind"`
	File    string   `json:"file,omitempty"` // the raw file's base name
	Reason  string   `json:"reason"`
	Damaged string   `json:"damaged,omitempty"` // a copy of ours whose content is wrong, to be replaced
	Dir     string   `json:"dir,omitempty"`     // CleanTemps: the folder
	Temps   []string `json:"temps,omitempty"`   // CleanTemps: the stale temporaries seen
}

func (a Action) String() string {
	what := a.File
	if a.Kind == CleanTemps {
		what = a.Dir
	}
	return fmt.Sprintf("%-10s %s (%s)", a.Kind, what, a.Reason)
}

// Plan is what a sweep will do, and what it found that needs no action.
type Plan struct {
	Nights    []string `json:"nights"`
	Actions   []Action `json:"actions"`
	Deferred  []string `json:"deferred,omitempty"`   // raw files younger than the minimum age
	KnownLost []string `json:"known_lost,omitempty"` // lost raw files the ledger already records
	Taken     []string `json:"taken,omitempty"`      // delivered, and taken from repoDir by the archive
	Failed    []string `json:"failed,omitempty"`     // "file: reason" of raw files that cannot be conditioned, not due again
	Problems  []string `json:"problems,omitempty"`
}

// planView turns the judge's verdicts into actions: the judge decides what
// each frame needs, the plan only says it in actions, in channel, night and
// sequence order, so that, one action at a time, the last dispatch, which
// <CHAN>.new names, is of the newest file.
func planView(v judge.View, now time.Time) Plan {
	p := Plan{Nights: v.Nights, Problems: slices.Clone(v.Problems)}
	if v.RepoErr != nil {
		msg := errText(v.RepoErr)
		if !strings.HasPrefix(msg, v.RepoDir) {
			msg = v.RepoDir + ": " + msg
		}
		p.Problems = append(p.Problems, msg+": copies there not checked, nothing dispatched")
	}
	p.Actions = append(p.Actions, cleanTemps(v.Temps, now)...)
	for _, f := range v.Frames {
		planFrame(f, v.RepoErr != nil, &p)
	}
	return p
}

func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Error()
	}
	return err.Error()
}

func planFrame(f judge.Frame, repoDown bool, p *Plan) {
	base := f.Name.Base
	if f.RecordLost {
		reason := "the ledger knows it but " + f.Raw.Path + " is gone"
		if !f.Stored.State.Sound() {
			reason += "; " + f.Why
		}
		p.Actions = append(p.Actions, Action{Kind: Lost, File: base, Reason: reason})
	} else if f.Identity == judge.NoRaw && f.Raw.State == judge.RawGone && f.Steps[ledger.StepSweep].Status == ledger.StatusLost {
		p.KnownLost = append(p.KnownLost, base)
	}
	switch f.Need {
	case judge.Condition, judge.Record:
		a := Action{Kind: Store, File: base, Reason: f.Why}
		if f.Stored.State == judge.Damaged {
			a.Damaged = f.Stored.Path
		}
		p.Actions = append(p.Actions, a)
	case judge.Dispatch, judge.Redispatch:
		if repoDown {
			return
		}
		a := Action{Kind: Dispatch, File: base, Reason: f.Why}
		if f.Need == judge.Redispatch {
			a.Kind, a.Damaged = Redispatch, f.Newdata.Path
		}
		p.Actions = append(p.Actions, a)
	case judge.Wait:
		if f.Failed {
			p.Failed = append(p.Failed, base+": "+f.Why)
		} else {
			p.Deferred = append(p.Deferred, base)
		}
	case judge.Look, judge.Refuse:
		if repoDown && f.Newdata.State == judge.Unchecked {
			return // said once for all
		}
		p.Problems = append(p.Problems, base+": "+f.Why)
	case judge.Nothing:
		if f.Newdata.State == judge.Taken {
			p.Taken = append(p.Taken, base)
		}
	}
	if f.EarlierUndispatched && !repoDown && f.Need == judge.Nothing {
		p.Actions = append(p.Actions, Action{Kind: Dispatch, File: base,
			Reason: "an earlier exposure under this name was stored and never dispatched"})
	}
}

// cleanTemps plans the removal of temporaries older than atomicfile.StaleAge,
// the age after which atomicfile.CleanStale removes one whoever wrote it.
// Younger ones may belong to a write in progress, here or on another host
// sharing repoDir; those of a crashed local writer are removed by the next
// delivery into their folder.
func cleanTemps(temps []judge.Temp, now time.Time) []Action {
	byDir := map[string][]string{}
	for _, t := range temps {
		if now.Sub(t.MTime) > atomicfile.StaleAge {
			dir := filepath.Dir(t.Path)
			byDir[dir] = append(byDir[dir], t.Path)
		}
	}
	var out []Action
	for dir, paths := range byDir {
		slices.Sort(paths)
		out = append(out, Action{Kind: CleanTemps, Dir: dir, Temps: paths,
			Reason: fmt.Sprintf("%d temporary file(s) older than %s, left by writers that crashed", len(paths), atomicfile.StaleAge)})
	}
	slices.SortFunc(out, func(a, b Action) int { return cmp.Compare(a.Dir, b.Dir) })
	return out
}

// File is what a directory listing says of a file.
type File struct {
	Size  int64
	MTime int64 // Unix nanoseconds, as in the ledger
}

// State is an observation written out by hand: what a look at the nights
// found. Plan judges it with the judge's rules, exactly as a sweep judges
// what it observes; it is how the plan is tested and explained.
type State struct {
	Layout frame.Layout
	Nights []string
	Now    time.Time
	MinAge time.Duration

	Raw    map[string]File                    // raw files by base name
	Listed map[string]bool                    // channels whose raw folder was read: only there is a missing raw file lost
	Ledger map[string]map[string]ledger.Event // latest event per step, by raw base name (one generation)
	// Stored and Newdata are the copies the ledger names, by path, as they
	// are now; a path that is not there is a missing file.
	Stored  map[string]File
	Newdata map[string]File
	// Sums holds the SHA-256 of copies read back.
	Sums map[string]string
	// Unchecked are raw files and copies that could not be looked at, by
	// path, with the reason.
	Unchecked map[string]string
	Temps     []judge.Temp
	RepoErr   error
	Problems  []string
}

// Plan works out what to do. It looks at nothing but s, so the same state
// always gives the same plan.
func (s *State) Plan() Plan {
	v := judge.View{Nights: s.Nights, RepoDir: s.Layout.RepoDir, Temps: s.Temps, RepoErr: s.RepoErr, Problems: s.Problems}
	x := judge.Facts{Now: s.Now, MinAge: s.MinAge, Retry: judge.DefaultRetry}
	names := map[string]bool{}
	for _, m := range []map[string]File{s.Raw} {
		for k := range m {
			names[k] = true
		}
	}
	for k := range s.Ledger {
		names[k] = true
	}
	for _, base := range slices.Sorted(maps.Keys(names)) {
		n, err := frame.ParseName(base)
		if err != nil {
			continue
		}
		f := judge.Frame{Name: n, Raw: judge.Raw{Path: s.Layout.Raw(n)}}
		if steps := s.Ledger[base]; len(steps) > 0 {
			f.History = ledger.FileHistory{Generations: []ledger.Generation{{Steps: steps}}}
		}
		switch r, ok := s.Raw[base]; {
		case s.Unchecked[f.Raw.Path] != "":
			f.Raw.State, f.Raw.Why = judge.RawUnchecked, s.Unchecked[f.Raw.Path]
		case ok:
			f.Raw.State, f.Raw.Size, f.Raw.MTime = judge.RawPresent, r.Size, r.MTime
		case s.Listed[n.Chan]:
			f.Raw.State = judge.RawGone
		default:
			continue // its raw folder could not be read: nothing is known
		}
		f.Gen, f.Identity = judge.Identify(f.Raw, f.History)
		f.Steps = map[string]ledger.Event{}
		if f.Gen >= 0 && f.Gen < len(f.History.Generations) {
			f.Steps = f.History.Generations[f.Gen].Steps
		}
		stored, disp := f.Steps[ledger.StepStore], f.Steps[ledger.StepDispatch]
		f.Stored = judge.JudgeCopy(stored, s.seen(stored, s.Stored, nil), "stored")
		f.Newdata = judge.JudgeNewdata(disp, s.seen(disp, s.Newdata, s.RepoErr), stored, false)
		judge.Decide(&f, x)
		v.Frames = append(v.Frames, f)
	}
	slices.SortFunc(v.Frames, func(a, b judge.Frame) int {
		return cmp.Or(cmp.Compare(a.Name.Chan, b.Name.Chan), cmp.Compare(a.Name.ObsDate, b.Name.ObsDate),
			cmp.Compare(a.Name.Seq, b.Name.Seq), cmp.Compare(a.Name.Base, b.Name.Base))
	})
	return planView(v, s.Now)
}

func (s *State) seen(ev ledger.Event, files map[string]File, folderErr error) judge.Seen {
	if folderErr != nil {
		return judge.Seen{Err: folderErr}
	}
	if why := s.Unchecked[ev.Dest]; why != "" {
		return judge.Seen{Err: errors.New(why)}
	}
	f, ok := files[ev.Dest]
	if !ok {
		return judge.Seen{}
	}
	return judge.Seen{Exists: true, Regular: true, Size: f.Size, MTime: f.MTime, SHA256: s.Sums[ev.Dest]}
}
