package judge

import (
	"fmt"
	"time"

	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/ledger"
)

// CopyState is what a stored or dispatched copy is, against the ledger
// event that made it.
type CopyState string

// The states of a copy.
const (
	None      CopyState = "none"      // the ledger records no such copy (never made, or its step failed)
	Intact    CopyState = "intact"    // size and mtime as recorded, or the recorded SHA-256 read back
	Restamped CopyState = "restamped" // the recorded content, under a new mtime: the ledger needs the new one
	Missing   CopyState = "missing"   // recorded, and gone
	Taken     CopyState = "taken"     // a dispatched copy gone from repoDir: the archive took it
	Damaged   CopyState = "damaged"   // there, with other content than recorded
	Outdated  CopyState = "outdated"  // a dispatched copy of an older stored copy
	Unchecked CopyState = "unchecked" // could not be looked at
)

// Sound reports a copy whose content is the recorded one.
func (s CopyState) Sound() bool { return s == Intact || s == Restamped }

// Seen is what a look at a copy found.
type Seen struct {
	Err     error // the look failed (not "does not exist")
	Exists  bool
	Regular bool
	Size    int64
	MTime   int64  // Unix nanoseconds
	SHA256  string // when the content was read
}

// Copy is a judged copy.
type Copy struct {
	Path  string
	State CopyState
	Why   string       // for people, when not intact
	Event ledger.Event // the ledger event that made it
	Seen  Seen
}

// JudgeCopy is the one rule for whether a copy is sound: the copy ev
// recorded, as seen. A copy whose size and mtime are as recorded is intact
// without being read; one whose size differs is damaged; one whose mtime
// alone differs is judged by its checksum, if it was read (NeedsRead says
// when to read it). what names the copy for people ("stored", "newdata").
func JudgeCopy(ev ledger.Event, seen Seen, what string) Copy {
	c := Copy{Path: ev.Dest, Event: ev, Seen: seen}
	state := func(s CopyState, format string, args ...any) Copy {
		c.State = s
		if format != "" {
			c.Why = fmt.Sprintf(format, args...)
		}
		return c
	}
	switch {
	case !ev.Done() || ev.Dest == "":
		return state(None, "")
	case seen.Err != nil:
		return state(Unchecked, "%s copy %s: %v", what, ev.Dest, seen.Err)
	case !seen.Exists:
		return state(Missing, "%s copy %s is missing", what, ev.Dest)
	case !seen.Regular:
		return state(Damaged, "%s copy %s is not a regular file", what, ev.Dest)
	case seen.Size != ev.OutSize:
		return state(Damaged, "%s copy %s has %d bytes, the ledger %d", what, ev.Dest, seen.Size, ev.OutSize)
	case seen.SHA256 != "" && seen.SHA256 != ev.OutSHA256:
		return state(Damaged, "%s copy %s fails its checksum (sha256 %.12s…, the ledger %.12s…)", what, ev.Dest, seen.SHA256, ev.OutSHA256)
	case seen.MTime == ev.MTime:
		return state(Intact, "")
	case seen.SHA256 != "":
		return state(Restamped, "%s copy %s has a new mtime but the recorded content", what, ev.Dest)
	}
	return state(Unchecked, "%s copy %s changed mtime and was not read", what, ev.Dest)
}

// NeedsRead reports whether JudgeCopy needs the copy's checksum to decide.
func NeedsRead(ev ledger.Event, seen Seen) bool {
	return ev.Done() && ev.Dest != "" && seen.Err == nil && seen.Exists && seen.Regular &&
		seen.Size == ev.OutSize && seen.MTime != ev.MTime && seen.SHA256 == ""
}

// JudgeNewdata adds the dispatched copy's own rules to JudgeCopy: a copy
// delivered and gone was taken by the archive when repoDir has a consumer,
// and a copy of another content than the stored copy's is outdated.
func JudgeNewdata(ev ledger.Event, seen Seen, stored ledger.Event, consumed bool) Copy {
	c := JudgeCopy(ev, seen, "newdata")
	switch {
	case c.State == Missing && consumed && ev.OutSHA256 != "":
		c.State, c.Why = Taken, fmt.Sprintf("newdata copy %s was delivered and taken by the archive", ev.Dest)
	case c.State.Sound() && stored.Done() && stored.OutSHA256 != "" && ev.OutSHA256 != stored.OutSHA256:
		c.State, c.Why = Outdated, fmt.Sprintf("newdata copy %s is of an older stored copy", ev.Dest)
	}
	return c
}

// RawState is what a look at the raw file found.
type RawState string

// The states of a raw file.
const (
	RawPresent   RawState = "present"
	RawGone      RawState = "gone"
	RawRefused   RawState = "refused"   // not a regular file inside its raw folder
	RawUnchecked RawState = "unchecked" // could not be looked at
)

// Raw is a raw file as seen.
type Raw struct {
	Path   string
	State  RawState
	Why    string
	Size   int64
	MTime  int64  // Unix nanoseconds
	SHA256 string // only when read
}

// Identity says whether the raw file is the exposure the ledger knows
// under its name.
type Identity string

// The identities.
const (
	Unknown     Identity = "unknown"      // the ledger has nothing of this name
	Same        Identity = "same"         // size and mtime as recorded (or the content, read back)
	RawRestamp  Identity = "restamped"    // the recorded content under a new size or mtime record
	NewExposure Identity = "new exposure" // another exposure under a known name
	NoRaw       Identity = "no raw file"  // the raw file is gone, refused or unreadable
	NeedHash    Identity = "need hash"    // same size, new mtime: only the content can tell
)

// Identify matches the raw file to a generation of its name's history and
// returns the generation's index (-1 for none). A raw file is the exposure
// a generation recorded when its size and mtime are the recorded ones.
// Events of an earlier format recorded no mtime: the size cannot tell (every
// frame of a readout mode has the same), so their content is read once and
// its mtime recorded. When only the mtime differs, only the content can
// tell: without raw.SHA256 the answer is NeedHash.
func Identify(raw Raw, h ledger.FileHistory) (int, Identity) {
	if raw.State != RawPresent {
		return h.Current, NoRaw
	}
	if len(h.Generations) == 0 {
		return -1, Unknown
	}
	if raw.SHA256 != "" {
		for i := len(h.Generations) - 1; i >= 0; i-- {
			g := h.Generations[i]
			if g.RawSHA256 == raw.SHA256 {
				if g.RawSize == raw.Size && g.RawMTime == raw.MTime {
					return i, Same
				}
				return i, RawRestamp
			}
		}
		return -1, NewExposure
	}
	g := h.Generations[h.Current]
	switch {
	case g.RawMTime == 0 && g.RawSHA256 == "" && (g.RawSize == 0 || g.RawSize == raw.Size):
		return h.Current, Same // nothing recorded to tell another exposure by
	case g.RawSize == raw.Size && g.RawMTime == raw.MTime:
		return h.Current, Same
	case g.RawSize == raw.Size || g.RawSize == 0:
		return h.Current, NeedHash
	}
	for i, g := range h.Generations {
		if g.RawSize == raw.Size && g.RawMTime == raw.MTime {
			return i, Same
		}
	}
	return -1, NewExposure
}

// Need is what must be done to make a frame delivered.
type Need string

// The needs, in the words of the sweep's actions.
const (
	Nothing    Need = "nothing"
	Condition  Need = "condition"  // condition, store and dispatch
	Dispatch   Need = "dispatch"   // the stored copy is sound: dispatch it
	Redispatch Need = "redispatch" // replace a damaged or outdated copy of ours in repoDir
	Record     Need = "record"     // the content is right: record a new size or mtime
	Wait       Need = "wait"       // young, or failed and not due again
	Look       Need = "look"       // something could not be looked at: leave it
	Refuse     Need = "refuse"     // the raw file is not acceptable
)

// Retry paces the conditioning of a raw file that failed: at most Attempts
// in all, the second Initial after the first, each wait four times the
// last; then the file is left until it changes.
type Retry struct {
	Attempts int
	Initial  time.Duration
}

// DefaultRetry costs a bad raw file three ledger lines, within an hour.
var DefaultRetry = Retry{Attempts: 3, Initial: 10 * time.Minute}

// Frame is a frame as judged: what it is and what it needs.
type Frame struct {
	Name       frame.Name
	Raw        Raw
	Identity   Identity
	Gen        int                     // index of the generation the raw file is, -1 for none
	History    ledger.FileHistory      // every generation of this name
	Steps      map[string]ledger.Event // the judged generation's latest events (empty for a new exposure)
	Stored     Copy
	Newdata    Copy
	Need       Need
	Why        string
	RecordLost bool // the raw file is gone and the ledger does not say so yet
	// EarlierUndispatched: an earlier exposure of this name was stored and
	// never reached repoDir; the delivery path dispatches it first.
	EarlierUndispatched bool
	Failed              bool      // the raw file could not be conditioned
	RetryAt             time.Time // when a failed raw file is due again (zero: not before it changes)
}

// Status is the frame's state in one word, for views.
func (f Frame) Status() string {
	switch {
	case f.Raw.State == RawRefused:
		return "refused"
	case f.Need == Look:
		return "unchecked"
	case f.Failed:
		return "failed"
	case f.Identity == NoRaw && !f.Stored.State.Sound():
		return "lost"
	case f.Stored.State.Sound() && f.Newdata.State == Taken:
		return "taken"
	case f.Stored.State.Sound() && f.Newdata.State.Sound():
		return "delivered"
	case f.Steps[ledger.StepDispatch].Status == ledger.StatusPending:
		return "pending"
	case f.Stored.State.Sound():
		return "stored"
	case f.Need == Wait:
		return "young"
	}
	return "new"
}

// Facts are what the observer gives Decide.
type Facts struct {
	Now       time.Time
	MinAge    time.Duration // raw files younger than this are left to the datagrams; 0: none
	Retry     Retry
	Consumed  bool // repoDir has a consumer that takes the copies (the archive)
	Redeliver bool // send taken copies again
}

// Decide says what f needs, from what was seen of it. It looks at nothing
// but its arguments, so the same facts always give the same answer.
func Decide(f *Frame, x Facts) {
	set := func(n Need, format string, args ...any) {
		f.Need, f.Why = n, fmt.Sprintf(format, args...)
	}
	for i, g := range f.History.Generations {
		if (i != f.Gen || f.Identity == NewExposure) && g.Steps[ledger.StepStore].Done() && !g.Steps[ledger.StepDispatch].Done() {
			f.EarlierUndispatched = true
		}
	}
	switch f.Raw.State {
	case RawRefused:
		set(Refuse, "%s", f.Raw.Why)
		return
	case RawUnchecked:
		set(Look, "%s", f.Raw.Why)
		return
	case RawPresent:
		if x.MinAge > 0 && x.Now.Sub(time.Unix(0, f.Raw.MTime)) < x.MinAge {
			set(Wait, "raw file younger than %s: left to the datagrams", x.MinAge)
			return
		}
	}
	switch f.Identity {
	case NeedHash:
		set(Look, "raw file %s has a new mtime and was not read", f.Raw.Path)
		return
	case Unknown:
		set(Condition, "not in the ledger")
		return
	case NewExposure:
		set(Condition, "a new exposure under a known name: %s differs from what was conditioned", f.Raw.Path)
		return
	case NoRaw:
		f.RecordLost = f.Steps[ledger.StepSweep].Status != ledger.StatusLost && len(f.History.Generations) > 0
	}

	if f.Stored.State == Unchecked {
		set(Look, "%s", f.Stored.Why)
		return
	}
	if !f.Stored.State.Sound() {
		why := storeWhy(f.Steps, f.Stored)
		if f.Identity == NoRaw {
			set(Nothing, "%s, and the raw file is gone, so it cannot be made again", why)
			return
		}
		if cond := f.Steps[ledger.StepCondition]; cond.Status == ledger.StatusFailed {
			f.Failed = true
			if due, at := failedDue(cond, x); !due {
				f.RetryAt = at
				if at.IsZero() {
					set(Wait, "condition failed %d times: %s; left until the raw file changes", cond.Attempt, cond.Reason)
				} else {
					set(Wait, "condition failed: %s; trying again at %s", cond.Reason, at.UTC().Format(time.RFC3339))
				}
				return
			}
			set(Condition, "condition failed: %s; trying again (attempt %d of %d)", cond.Reason, cond.Attempt+1, x.Retry.Attempts)
			return
		}
		set(Condition, "%s", why)
		return
	}

	restamped := ""
	switch {
	case f.Stored.State == Restamped:
		restamped = f.Stored.Why
	case f.Identity == RawRestamp:
		restamped = fmt.Sprintf("raw file %s has a new mtime but the content conditioned", f.Raw.Path)
	}
	switch f.Newdata.State {
	case Intact:
		if restamped != "" && f.Identity != NoRaw {
			set(Record, "%s: recording it again", restamped)
			return
		}
		set(Nothing, "")
	case Taken:
		if x.Redeliver {
			set(Dispatch, "%s: sending it again on request", f.Newdata.Why)
			return
		}
		if restamped != "" && f.Identity != NoRaw {
			set(Record, "%s: recording it again", restamped)
			return
		}
		set(Nothing, "%s", f.Newdata.Why)
	case Unchecked:
		set(Look, "%s", f.Newdata.Why)
	case Damaged, Outdated:
		set(Redispatch, "%s", f.Newdata.Why)
	case Restamped:
		set(Dispatch, "%s: recording it again", f.Newdata.Why)
	default: // None, Missing
		set(Dispatch, "%s", dispatchWhy(f.Steps[ledger.StepDispatch], f.Newdata))
	}
}

// failedDue says whether a failed conditioning may be tried again now, and
// if not, when (zero: not before the raw file changes).
func failedDue(cond ledger.Event, x Facts) (bool, time.Time) {
	r := x.Retry
	if r.Attempts <= 0 {
		r = DefaultRetry
	}
	if cond.Attempt >= r.Attempts {
		return false, time.Time{}
	}
	wait := r.Initial
	for i := 1; i < cond.Attempt; i++ {
		wait *= 4
	}
	at := cond.Time.Add(wait)
	return !x.Now.Before(at), at
}

// storeWhy says why a frame has no stored copy to trust.
func storeWhy(steps map[string]ledger.Event, c Copy) string {
	st := steps[ledger.StepStore]
	switch {
	case c.State == Missing || c.State == Damaged:
		return c.Why
	case len(steps) == 0:
		return "not in the ledger"
	case st.Status == "":
		return "never stored"
	case !st.Done():
		return fmt.Sprintf("store %s: %s", st.Status, st.Reason)
	}
	return "the ledger has no stored copy for it"
}

func dispatchWhy(ev ledger.Event, c Copy) string {
	switch {
	case c.State == Missing:
		return c.Why
	case ev.Status == "":
		return "never dispatched"
	case !ev.Done():
		return fmt.Sprintf("dispatch %s: %s", ev.Status, ev.Reason)
	}
	return "the ledger has no dispatched copy for it"
}

// OwnedLater reports whether a generation of h other than gen recorded a
// copy at path after gen did: the path is that exposure's now (the archive
// took gen's copy, and a later exposure of the name took its place).
func OwnedLater(h ledger.FileHistory, gen int, path string) bool {
	if path == "" || gen < 0 || gen >= len(h.Generations) {
		return false
	}
	mine, _ := copyTime(h.Generations[gen], path)
	for i, g := range h.Generations {
		if t, ok := copyTime(g, path); ok && i != gen && t.After(mine) {
			return true
		}
	}
	return false
}

// copyTime is the latest time a done event of g recorded a copy at path:
// from the ledger's Copies, and from the latest events for a generation
// made without them.
func copyTime(g ledger.Generation, path string) (time.Time, bool) {
	t, ok := g.Copies[path]
	for _, ev := range g.Steps {
		if ev.Dest == path && ev.Done() && (!ok || ev.Time.After(t)) {
			t, ok = ev.Time, true
		}
	}
	return t, ok
}

// yieldCopies gives up the copies another exposure of the name recorded at
// the same place later: they are that exposure's, and this one's copy is
// gone (taken, where repoDir has a consumer), never damaged.
func (f *Frame) yieldCopies(consumed bool) {
	if f.Identity == NewExposure || f.Identity == Unknown {
		return
	}
	if c := f.Newdata; c.Path != "" && OwnedLater(f.History, f.Gen, c.Path) && c.State != Taken {
		f.Newdata = JudgeNewdata(c.Event, Seen{}, f.Steps[ledger.StepStore], consumed)
	}
	if c := f.Stored; c.Path != "" && OwnedLater(f.History, f.Gen, c.Path) {
		f.Stored = JudgeCopy(c.Event, Seen{}, "stored")
	}
}
