package judge

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/obsdata/dataman/internal/atomicfile"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/ledger"
	"github.com/obsdata/dataman/internal/place"
	"github.com/obsdata/dataman/internal/stall"
)

// FS is what the judge looks through. File content is read only through
// Open, and only to checksum a file whose size is as recorded but whose
// mtime is not, so a look at an intact night opens nothing; tests count
// that.
type FS interface {
	ReadDir(dir string) ([]fs.DirEntry, error)
	Stat(path string) (fs.FileInfo, error)
	Lstat(path string) (fs.FileInfo, error)
	Open(path string) (io.ReadCloser, error)
}

// OSFS is the operating system's file system.
type OSFS struct{}

func (OSFS) ReadDir(dir string) ([]fs.DirEntry, error) { return os.ReadDir(dir) }
func (OSFS) Stat(path string) (fs.FileInfo, error)     { return os.Stat(path) }
func (OSFS) Lstat(path string) (fs.FileInfo, error)    { return os.Lstat(path) }
func (OSFS) Open(path string) (io.ReadCloser, error)   { return os.Open(path) }

// Options configure a Judge.
type Options struct {
	Layout frame.Layout
	FS     FS // nil is OSFS
	// Watcher knows the folders where an operation is stuck; share the
	// delivery path's. nil makes one.
	Watcher *stall.Watcher
	// Stall timeouts of the raw folders, the store and repoDir; 0 waits
	// for ever.
	RawTimeout, ProcTimeout, RepoTimeout time.Duration
	MinAge                               time.Duration // raw files younger than this are left to the datagrams (nights only)
	Retry                                Retry         // zero is DefaultRetry
	Consumed                             bool          // repoDir's copies are taken by a consumer (the archive)
	Redeliver                            bool          // send taken copies again
	Now                                  func() time.Time
}

// Judge observes frames and decides their state. It never writes.
type Judge struct{ o Options }

// New returns a Judge.
func New(o Options) *Judge {
	if o.FS == nil {
		o.FS = OSFS{}
	}
	if o.Watcher == nil {
		o.Watcher = &stall.Watcher{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Retry.Attempts <= 0 {
		o.Retry = DefaultRetry
	}
	return &Judge{o: o}
}

func (j *Judge) facts(minAge time.Duration) Facts {
	return Facts{Now: j.o.Now(), MinAge: minAge, Retry: j.o.Retry, Consumed: j.o.Consumed, Redeliver: j.o.Redeliver}
}

// Frame judges one frame, whose ledger history is h, as the delivery path
// does before it acts: the raw file, whichever generation of h it is, and
// that generation's copies. The minimum age does not apply: a frame asked
// for by name is wanted now.
func (j *Judge) Frame(ctx context.Context, n frame.Name, h ledger.FileHistory) Frame {
	f := Frame{Name: n, History: h}
	dir := filepath.Join(j.o.Layout.DataDir, n.Chan)
	raw, err := stall.Do(ctx, j.o.Watcher, dir, j.o.RawTimeout, func(ctx context.Context, tick func()) (Raw, error) {
		return j.rawFile(n), nil
	})
	if err != nil {
		raw = Raw{Path: j.o.Layout.Raw(n), State: RawUnchecked, Why: err.Error()}
	}
	f.Raw = raw
	j.identify(ctx, &f)
	stored, dispatched := j.copyEvents(n, f.Steps)
	f.Stored = j.lookCopy(ctx, stored, j.o.ProcTimeout, func(s Seen) Copy { return JudgeCopy(stored, s, "stored") })
	f.Newdata = j.lookCopy(ctx, dispatched, j.o.RepoTimeout, func(s Seen) Copy {
		return JudgeNewdata(dispatched, s, stored, j.o.Consumed)
	})
	f.yieldCopies(j.o.Consumed)
	Decide(&f, j.facts(0))
	return f
}

// identify sets f's identity and the steps of its generation, reading the
// raw file only when its size is as recorded but not its mtime.
func (j *Judge) identify(ctx context.Context, f *Frame) {
	gen, id := Identify(f.Raw, f.History)
	if id == NeedHash {
		sum, err := j.hash(ctx, f.Raw.Path, j.o.RawTimeout)
		if err != nil {
			f.Raw.State, f.Raw.Why = RawUnchecked, fmt.Sprintf("raw file %s: %v", f.Raw.Path, err)
			gen, id = f.History.Current, NoRaw
		} else {
			f.Raw.SHA256 = sum
			gen, id = Identify(f.Raw, f.History)
		}
	}
	f.Gen, f.Identity, f.Steps = gen, id, map[string]ledger.Event{}
	if gen >= 0 && gen < len(f.History.Generations) {
		f.Steps = f.History.Generations[gen].Steps
	}
}

// copyEvents are the store and dispatch events to judge the copies by. A
// copy recorded in another folder than the configured one (procDir or
// repoDir changed) proves nothing about where the file must be now.
func (j *Judge) copyEvents(n frame.Name, steps map[string]ledger.Event) (stored, dispatched ledger.Event) {
	stored, dispatched = steps[ledger.StepStore], steps[ledger.StepDispatch]
	if !inDir(stored.Dest, j.o.Layout.StoreDir(n)) {
		stored = ledger.Event{}
	}
	if !inDir(dispatched.Dest, j.o.Layout.RepoDir) {
		dispatched = ledger.Event{}
	}
	return stored, dispatched
}

func inDir(path, dir string) bool {
	return path != "" && filepath.Clean(filepath.Dir(path)) == filepath.Clean(dir)
}

// lookCopy looks at the copy ev recorded, under the stall timeout of its
// folder, and judges it.
func (j *Judge) lookCopy(ctx context.Context, ev ledger.Event, limit time.Duration, judge func(Seen) Copy) Copy {
	if !ev.Done() || ev.Dest == "" {
		return judge(Seen{})
	}
	seen, err := stall.Do(ctx, j.o.Watcher, filepath.Dir(ev.Dest), limit, func(ctx context.Context, tick func()) (Seen, error) {
		return j.see(ctx, ev, tick), nil
	})
	if err != nil {
		seen = Seen{Err: err}
	}
	return judge(seen)
}

// see stats the copy ev recorded and reads it only if its size is as
// recorded but its mtime is not.
func (j *Judge) see(ctx context.Context, ev ledger.Event, tick func()) Seen {
	fi, err := j.o.FS.Stat(ev.Dest)
	tick()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Seen{}
	case err != nil:
		return Seen{Err: err}
	}
	s := Seen{Exists: true, Regular: fi.Mode().IsRegular(), Size: fi.Size(), MTime: fi.ModTime().UnixNano()}
	if NeedsRead(ev, s) {
		sum, err := hashFile(ctx, j.o.FS, ev.Dest, tick)
		if err != nil {
			return Seen{Err: err}
		}
		s.SHA256 = sum
	}
	return s
}

// rawFile looks at n's raw file: see LookRaw.
func (j *Judge) rawFile(n frame.Name) Raw { return LookRaw(j.o.FS, j.o.Layout, n) }

// LookRaw looks at n's raw file. It must be a regular file inside its raw
// folder dataDir/<chan>/ (which may itself be a link): a link out of it is
// refused, and so is a special file, which a reader would block on.
func LookRaw(fsys FS, l frame.Layout, n frame.Name) Raw {
	dir := filepath.Join(l.DataDir, n.Chan)
	r := Raw{Path: filepath.Join(dir, n.Base)}
	fi, err := fsys.Lstat(r.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		r.State = RawGone
		return r
	case err != nil:
		r.State, r.Why = RawUnchecked, fmt.Sprintf("raw file %s: %v", r.Path, err)
		return r
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		// A link to a file not there (yet) is a missing raw file, as the
		// file it names would be.
		if _, err := filepath.EvalSymlinks(r.Path); errors.Is(err, fs.ErrNotExist) {
			r.State, r.Why = RawGone, fmt.Sprintf("raw file %s is a link to a file that is not there", r.Path)
			return r
		}
		if why := confined(dir, r.Path); why != "" {
			r.State, r.Why = RawRefused, why
			return r
		}
		if fi, err = fsys.Stat(r.Path); err != nil {
			r.State, r.Why = RawUnchecked, fmt.Sprintf("raw file %s: %v", r.Path, err)
			return r
		}
	}
	if !fi.Mode().IsRegular() {
		r.State, r.Why = RawRefused, fmt.Sprintf("raw file %s is not a regular file (%s)", r.Path, kind(fi.Mode()))
		return r
	}
	r.State, r.Size, r.MTime = RawPresent, fi.Size(), fi.ModTime().UnixNano()
	return r
}

// confined says why a link in a raw folder may not be followed: it must
// lead to a file inside the same folder (a sub-folder is inside).
func confined(dir, path string) string {
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Sprintf("raw folder %s: %v", dir, err)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Sprintf("raw file %s is a link that leads nowhere: %v", path, err)
	}
	if rel, err := filepath.Rel(realDir, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fmt.Sprintf("raw file %s is a link to %s, outside its raw folder %s: refused", path, real, dir)
	}
	return ""
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	}
	return m.Type().String()
}

func (j *Judge) hash(ctx context.Context, path string, limit time.Duration) (string, error) {
	return stall.Do(ctx, j.o.Watcher, filepath.Dir(path), limit, func(ctx context.Context, tick func()) (string, error) {
		return hashFile(ctx, j.o.FS, path, tick)
	})
}

func hashFile(ctx context.Context, fsys FS, path string, tick func()) (string, error) {
	f, err := fsys.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	d, err := place.HashReader(ctx, f, tick)
	return d.Sum, err
}

// Temp is the temporary file of an atomic write.
type Temp struct {
	Path  string
	MTime time.Time
}

// View is the judgment of the nights in scope.
type View struct {
	Nights   []string
	RepoDir  string
	Frames   []Frame         // by channel, night, sequence
	Listed   map[string]bool // channels whose raw folder was read
	Temps    []Temp
	RepoErr  error // repoDir could not be looked at: its copies are unchecked
	Problems []string
}

// chanRE is the channel part of raw file names (frame.ParseName).
var chanRE = regexp.MustCompile(`^[a-z][a-z0-9]*$`)

// Nights judges every frame of the nights in scope that a raw folder or a
// ledger knows. Each folder is looked at under its stall timeout, once: a
// dead repoDir costs one timeout per pass and, while it stays dead, no
// more blocked goroutines.
func (j *Judge) Nights(ctx context.Context, nights []string) (View, error) {
	v := View{Nights: nights, RepoDir: j.o.Layout.RepoDir, Listed: map[string]bool{}}
	in := map[string]bool{}
	for _, n := range nights {
		in[n] = true
	}
	lay := j.o.Layout
	entries, err := stall.Do(ctx, j.o.Watcher, lay.DataDir, j.o.RawTimeout, func(context.Context, func()) ([]fs.DirEntry, error) {
		return j.o.FS.ReadDir(lay.DataDir)
	})
	if err != nil {
		return v, fmt.Errorf("raw folder %s: %w", lay.DataDir, err)
	}
	rawChans := map[string]bool{}
	for _, e := range entries {
		if chanRE.MatchString(e.Name()) && (e.IsDir() || e.Type()&fs.ModeSymlink != 0) {
			rawChans[e.Name()] = true
		}
	}
	chans := maps.Clone(rawChans)
	for _, ch := range ledgerChannels(lay.StateDir) {
		chans[ch] = true
	}

	var frames []*Frame
	for _, ch := range slices.Sorted(maps.Keys(chans)) {
		l, err := ledger.OpenReadOnly(lay.StateDir, ch)
		if err != nil {
			v.Problems = append(v.Problems, err.Error())
			continue
		}
		for _, p := range l.Problems() {
			v.Problems = append(v.Problems, "ledger: "+p.Error())
		}
		known := map[string]ledger.FileHistory{}
		for _, night := range nights {
			maps.Copy(known, l.Night(night))
		}
		raws := map[string]Raw{}
		if rawChans[ch] {
			raws = j.listRaw(ctx, ch, in, &v)
		} else if len(known) > 0 {
			v.Problems = append(v.Problems, fmt.Sprintf("raw folder %s is missing, but the ledger lists files of the nights in scope", filepath.Join(lay.DataDir, ch)))
		}
		for _, base := range slices.Sorted(maps.Keys(mergeKeys(raws, known))) {
			n, err := frame.ParseName(base)
			if err != nil || n.Chan != ch || !in[n.ObsDate] {
				continue
			}
			f := &Frame{Name: n, History: known[base]}
			switch r, ok := raws[base]; {
			case ok:
				f.Raw = r
			case v.Listed[ch]:
				f.Raw = Raw{Path: lay.Raw(n), State: RawGone}
			default:
				f.Raw = Raw{Path: lay.Raw(n), State: RawUnchecked, Why: "raw folder " + filepath.Join(lay.DataDir, ch) + " could not be read"}
			}
			frames = append(frames, f)
		}
	}
	for _, f := range frames {
		if f.Raw.State == RawPresent || f.Raw.State == RawGone {
			j.identify(ctx, f)
		} else {
			f.Gen, f.Identity, f.Steps = f.History.Current, NoRaw, map[string]ledger.Event{}
			if f.Gen >= 0 && f.Gen < len(f.History.Generations) {
				f.Steps = f.History.Generations[f.Gen].Steps
			}
		}
	}
	j.lookCopies(ctx, frames, nights, &v)
	x := j.facts(j.o.MinAge)
	for _, f := range frames {
		Decide(f, x)
		v.Frames = append(v.Frames, *f)
	}
	slices.SortFunc(v.Frames, func(a, b Frame) int {
		return cmp.Or(cmp.Compare(a.Name.Chan, b.Name.Chan), cmp.Compare(a.Name.ObsDate, b.Name.ObsDate),
			cmp.Compare(a.Name.Seq, b.Name.Seq), cmp.Compare(a.Name.Base, b.Name.Base))
	})
	return v, ctx.Err()
}

func mergeKeys(raws map[string]Raw, known map[string]ledger.FileHistory) map[string]bool {
	out := map[string]bool{}
	for k := range raws {
		out[k] = true
	}
	for k := range known {
		out[k] = true
	}
	return out
}

// ledgerChannels lists the channels with a ledger, in either layout.
func ledgerChannels(stateDir string) []string {
	entries, _ := os.ReadDir(filepath.Join(stateDir, "ledger"))
	var out []string
	for _, e := range entries {
		name := strings.ToLower(strings.TrimSuffix(e.Name(), ".ledger"))
		if chanRE.MatchString(name) && (e.IsDir() || strings.HasSuffix(e.Name(), ".ledger")) {
			out = append(out, name)
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(out)))
}

// listRaw lists the raw files of the nights in scope in one channel's raw
// folder, under the raw timeout.
func (j *Judge) listRaw(ctx context.Context, ch string, in map[string]bool, v *View) map[string]Raw {
	dir := filepath.Join(j.o.Layout.DataDir, ch)
	raws, err := stall.Do(ctx, j.o.Watcher, dir, j.o.RawTimeout, func(ctx context.Context, tick func()) (map[string]Raw, error) {
		entries, err := j.o.FS.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		out := map[string]Raw{}
		for _, e := range entries {
			n, err := frame.ParseName(e.Name())
			if err != nil || n.Chan != ch || !in[n.ObsDate] || ctx.Err() != nil {
				continue
			}
			r := j.rawFile(n)
			tick()
			if r.State != RawGone {
				out[n.Base] = r
			}
		}
		return out, nil
	})
	if err != nil {
		v.Problems = append(v.Problems, fmt.Sprintf("raw folder %s: %v", dir, err))
		return map[string]Raw{}
	}
	v.Listed[ch] = true
	return raws
}

// lookCopies looks at the stored and dispatched copies the frames' ledger
// events record, and the temporaries in their folders: the store under its
// timeout, repoDir under its own, each once.
func (j *Judge) lookCopies(ctx context.Context, frames []*Frame, nights []string, v *View) {
	lay := j.o.Layout
	type look struct {
		f             *Frame
		stored, disp  ledger.Event
		storedSeen    Seen
		dispatchedSee Seen
	}
	looks := make([]*look, len(frames))
	for i, f := range frames {
		s, d := j.copyEvents(f.Name, f.Steps)
		looks[i] = &look{f: f, stored: s, disp: d}
	}
	stored, err := stall.Do(ctx, j.o.Watcher, lay.ProcDir, j.o.ProcTimeout, func(ctx context.Context, tick func()) ([]Temp, error) {
		var temps []Temp
		for _, night := range nights {
			t, err := j.temps(filepath.Join(lay.ProcDir, night))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			temps = append(temps, t...)
			tick()
		}
		for _, lk := range looks {
			if lk.stored.Done() && lk.stored.Dest != "" {
				lk.storedSeen = j.see(ctx, lk.stored, tick)
			}
		}
		return temps, ctx.Err()
	})
	if err != nil {
		v.Problems = append(v.Problems, fmt.Sprintf("%s: %v", lay.ProcDir, err))
		for _, lk := range looks {
			lk.storedSeen = Seen{Err: err}
		}
	}
	v.Temps = append(v.Temps, stored...)

	// The goroutine left behind on a dead mount must not touch looks: it
	// fills maps of its own.
	type repo struct {
		seen  map[string]Seen
		temps []Temp
	}
	var events []ledger.Event
	for _, lk := range looks {
		if lk.disp.Done() && lk.disp.Dest != "" {
			events = append(events, lk.disp)
		}
	}
	r, err := stall.Do(ctx, j.o.Watcher, lay.RepoDir, j.o.RepoTimeout, func(ctx context.Context, tick func()) (repo, error) {
		out := repo{seen: map[string]Seen{}}
		if _, err := j.o.FS.Stat(lay.RepoDir); err != nil {
			return out, err
		}
		temps, err := j.temps(lay.RepoDir)
		if err != nil {
			return out, err
		}
		out.temps = temps
		tick()
		for _, ev := range events {
			out.seen[ev.Dest] = j.see(ctx, ev, tick)
		}
		return out, ctx.Err()
	})
	if err != nil {
		v.RepoErr = err
	} else {
		v.Temps = append(v.Temps, r.temps...)
	}
	for _, lk := range looks {
		lk.f.Stored = JudgeCopy(lk.stored, lk.storedSeen, "stored")
		seen := Seen{Err: err}
		if err == nil {
			seen = r.seen[lk.disp.Dest]
		}
		lk.f.Newdata = JudgeNewdata(lk.disp, seen, lk.stored, j.o.Consumed)
		lk.f.yieldCopies(j.o.Consumed)
	}
}

func (j *Judge) temps(dir string) ([]Temp, error) {
	entries, err := j.o.FS.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var temps []Temp
	for _, e := range entries {
		if !atomicfile.IsTemp(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // committed or removed meanwhile
		}
		temps = append(temps, Temp{Path: filepath.Join(dir, e.Name()), MTime: fi.ModTime()})
	}
	return temps, nil
}
