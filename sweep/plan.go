package sweep

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/obsdata/dataman/internal/atomicfile"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/ledger"
)

// File is what a directory listing says of a file: enough to tell whether it
// is still the file the ledger recorded without reading it.
type File struct {
	Size  int64
	MTime int64 // Unix nanoseconds, as in the ledger
}

// Temp is the temporary file of an atomic write.
type Temp struct {
	Path  string
	MTime time.Time
}

// State is what a sweep found on disk and in the ledgers, for the nights in
// scope: the input of Plan.
type State struct {
	Layout frame.Layout
	Nights []string
	Now    time.Time
	MinAge time.Duration // raw files younger than this are left to the datagrams

	Raw    map[string]File                    // raw files by base name
	Listed map[string]bool                    // channels whose raw folder was read: only there is a missing raw file lost
	Ledger map[string]map[string]ledger.Event // latest event per step, by raw base name
	// Stored and Newdata are the copies the ledger names, by path, as they
	// are now; a path that is not there is a missing file.
	Stored  map[string]File
	Newdata map[string]File
	// Sums holds the SHA-256 (hex) of copies whose size agrees with the
	// ledger but whose mtime does not: the only copies a sweep reads.
	Sums map[string]string
	// Unchecked are raw files and copies that could not be looked at, by
	// path, with the reason: their files are left alone rather than acted
	// on blindly.
	Unchecked map[string]string
	Temps     []Temp
	RepoErr   error    // repoDir could not be read: no dispatch is planned
	Problems  []string // found while observing
}

// Kind is what an action does.
type Kind string

// The kinds of action, in the order a plan lists them.
const (
	// CleanTemps removes temporary files left by writers that crashed.
	CleanTemps Kind = "clean"
	// Store conditions, stores and dispatches a raw file; a damaged stored
	// copy of ours (Action.Damaged) is replaced by the delivery path.
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

// Plan is what a sweep will do.
type Plan struct {
	Nights    []string `json:"nights"`
	Actions   []Action `json:"actions"`
	Deferred  []string `json:"deferred,omitempty"`   // raw files younger than the minimum age
	KnownLost []string `json:"known_lost,omitempty"` // lost raw files the ledger already records
	Problems  []string `json:"problems,omitempty"`
}

// Plan works out what to do. It looks at nothing but s, so the same state
// always gives the same plan.
//
// A copy whose size and mtime are those the ledger recorded is taken to be
// intact; one whose size differs is damaged; one whose mtime alone differs is
// judged by its checksum (State.Sums).
func (s *State) Plan() Plan {
	p := Plan{Nights: s.Nights, Problems: slices.Clone(s.Problems)}
	if s.RepoErr != nil {
		p.Problems = append(p.Problems, fmt.Sprintf("%s: %v: copies there not checked, nothing dispatched", s.Layout.RepoDir, s.RepoErr))
	}
	p.Actions = append(p.Actions, s.cleanTemps()...)
	for _, name := range s.files() {
		s.planFile(name, &p)
	}
	return p
}

// files are the raw files in scope, known from the raw folders or the
// ledgers, in channel, night and sequence order, so that, one action at a
// time, the last dispatch, which <CHAN>.new names, is of the newest file.
func (s *State) files() []frame.Name {
	var names []frame.Name
	add := func(base string) {
		if n, err := frame.ParseName(base); err == nil {
			names = append(names, n)
		}
	}
	for base := range s.Raw {
		add(base)
	}
	for base := range s.Ledger {
		if _, ok := s.Raw[base]; !ok {
			add(base)
		}
	}
	slices.SortFunc(names, func(a, b frame.Name) int {
		return cmp.Or(cmp.Compare(a.Chan, b.Chan), cmp.Compare(a.ObsDate, b.ObsDate), cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.Base, b.Base))
	})
	return names
}

// copyState is what the plan concludes about a stored or dispatched copy.
type copyState int

const (
	intact    copyState = iota
	restamped           // content as recorded, but a new mtime: the ledger needs the new one
	missing             // never made, or gone
	damaged             // there, with other content than recorded
	unchecked           // could not be looked at
)

// judge compares a copy with the ledger event that made it.
func (s *State) judge(ev ledger.Event, files map[string]File, what string) (copyState, string) {
	f, ok := files[ev.Dest]
	if why, bad := s.Unchecked[ev.Dest]; bad {
		return unchecked, why
	}
	switch {
	case !ok:
		return missing, fmt.Sprintf("%s copy %s is missing", what, ev.Dest)
	case f.Size != ev.OutSize:
		return damaged, fmt.Sprintf("%s copy %s has %d bytes, the ledger %d", what, ev.Dest, f.Size, ev.OutSize)
	case f.MTime == ev.MTime:
		return intact, ""
	}
	sum, ok := s.Sums[ev.Dest]
	switch {
	case !ok:
		return unchecked, fmt.Sprintf("%s copy %s changed mtime and was not read", what, ev.Dest)
	case sum != ev.OutSHA256:
		return damaged, fmt.Sprintf("%s copy %s fails its checksum (sha256 %.12s…, the ledger %.12s…)", what, ev.Dest, sum, ev.OutSHA256)
	}
	return restamped, fmt.Sprintf("%s copy %s has a new mtime but the recorded content: recording it again", what, ev.Dest)
}

func (s *State) planFile(n frame.Name, p *Plan) {
	if why, bad := s.Unchecked[s.Layout.Raw(n)]; bad {
		p.Problems = append(p.Problems, n.Base+": "+why)
		return
	}
	raw, haveRaw := s.Raw[n.Base]
	steps := s.Ledger[n.Base]
	if haveRaw && s.Now.Sub(time.Unix(0, raw.MTime)) < s.MinAge {
		p.Deferred = append(p.Deferred, n.Base)
		return
	}
	if !haveRaw && !s.Listed[n.Chan] {
		return // its raw folder could not be read: nothing is known
	}

	st := steps[ledger.StepStore]
	state, why := missing, storeWhy(steps)
	if st.Done() && st.Dest != "" && st.OutSHA256 != "" {
		state, why = s.judge(st, s.Stored, "stored")
	}
	if state == unchecked {
		p.Problems = append(p.Problems, n.Base+": "+why)
		return
	}
	// Without its raw file a restamped stored copy cannot be recorded
	// anew, but its content is sound, so it can still be dispatched.
	sound := state == intact || state == restamped && !haveRaw
	if !haveRaw {
		lost := Action{Kind: Lost, File: n.Base, Reason: "the ledger knows it but " + s.Layout.Raw(n) + " is gone"}
		if !sound {
			lost.Reason += "; " + why + ", so it cannot be made again"
		}
		if steps[ledger.StepSweep].Status == ledger.StatusLost {
			p.KnownLost = append(p.KnownLost, n.Base)
		} else {
			p.Actions = append(p.Actions, lost)
		}
	}
	if !sound {
		if haveRaw {
			a := Action{Kind: Store, File: n.Base, Reason: why}
			if state == damaged {
				a.Damaged = st.Dest
			}
			// Ensure in Deliver mode dispatches what it stores, so one
			// action covers both.
			p.Actions = append(p.Actions, a)
		}
		return
	}
	if s.RepoErr == nil {
		s.planDispatch(n, st, steps[ledger.StepDispatch], p)
	}
}

// storeWhy says why a file has no stored copy the ledger vouches for.
func storeWhy(steps map[string]ledger.Event) string {
	cond, st := steps[ledger.StepCondition], steps[ledger.StepStore]
	switch {
	case len(steps) == 0:
		return "not in the ledger"
	case cond.Status == ledger.StatusFailed && !st.Done():
		return "condition failed: " + cond.Reason
	case st.Status == "":
		return "never stored"
	case !st.Done():
		return fmt.Sprintf("store %s: %s", st.Status, st.Reason)
	}
	return "the ledger has no stored copy for it"
}

func (s *State) planDispatch(n frame.Name, st, ev ledger.Event, p *Plan) {
	a := Action{Kind: Dispatch, File: n.Base}
	state := missing
	switch {
	case ev.Status == "":
		a.Reason = "never dispatched"
	case !ev.Done():
		a.Reason = fmt.Sprintf("dispatch %s: %s", ev.Status, ev.Reason)
	case ev.Dest == "":
		a.Reason = "the ledger has no dispatched copy for it"
	default:
		state, a.Reason = s.judge(ev, s.Newdata, "newdata")
		if (state == intact || state == restamped) && ev.OutSHA256 != st.OutSHA256 {
			// The stored copy was made again (a new configuration, a
			// repair) after this one was dispatched.
			state, a.Reason = damaged, fmt.Sprintf("newdata copy %s is of an older stored copy", ev.Dest)
		}
	}
	switch state {
	case intact:
		return
	case unchecked:
		p.Problems = append(p.Problems, n.Base+": "+a.Reason)
		return
	case damaged:
		a.Kind, a.Damaged = Redispatch, ev.Dest
	}
	p.Actions = append(p.Actions, a)
}

// cleanTemps plans the removal of temporaries older than atomicfile.StaleAge,
// the age after which atomicfile.CleanStale removes one whoever wrote it.
// Younger ones may belong to a write in progress, here or on another host
// sharing repoDir; those of a crashed local writer are removed by the next
// delivery into their folder.
func (s *State) cleanTemps() []Action {
	byDir := map[string][]string{}
	for _, t := range s.Temps {
		if s.Now.Sub(t.MTime) > atomicfile.StaleAge {
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
