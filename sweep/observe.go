package sweep

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/obsdata/dataman/internal/atomicfile"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/ledger"
)

// FS is the file system a sweep looks at. File content is read only through
// Open, and only to checksum a copy whose mtime no longer matches the
// ledger, so a sweep over an intact night opens nothing; tests count that.
type FS interface {
	ReadDir(dir string) ([]fs.DirEntry, error)
	Stat(path string) (fs.FileInfo, error)
	Open(path string) (io.ReadCloser, error)
}

// OSFS is the operating system's file system.
type OSFS struct{}

func (OSFS) ReadDir(dir string) ([]fs.DirEntry, error) { return os.ReadDir(dir) }
func (OSFS) Stat(path string) (fs.FileInfo, error)     { return os.Stat(path) }
func (OSFS) Open(path string) (io.ReadCloser, error)   { return os.Open(path) }

// chanRE is the channel part of raw file names (frame.ParseName).
var chanRE = regexp.MustCompile(`^[a-z][a-z0-9]*$`)

// observer gathers a State.
type observer struct {
	fs      FS
	s       *State
	nights  map[string]bool
	timeout time.Duration // for repoDir, which may be a dead NFS mount
	log     *slog.Logger
}

// observe looks at the nights in scope. opts has its defaults set.
func observe(ctx context.Context, opts Options, nights []string) (*State, error) {
	lay := opts.Deliverer.Layout()
	o := &observer{fs: opts.FS, nights: map[string]bool{}, timeout: opts.RepoTimeout, log: opts.Log, s: &State{
		Layout: lay, Nights: nights, Now: opts.Now(), MinAge: opts.MinAge,
		Raw: map[string]File{}, Listed: map[string]bool{}, Ledger: map[string]map[string]ledger.Event{},
		Stored: map[string]File{}, Newdata: map[string]File{}, Sums: map[string]string{}, Unchecked: map[string]string{},
	}}
	for _, n := range nights {
		o.nights[n] = true
	}
	rawChans, err := o.channels(lay.DataDir)
	if err != nil {
		return nil, fmt.Errorf("raw folder %s: %w", lay.DataDir, err)
	}
	ledgerChans := o.readLedgers()
	for _, ch := range slices.Sorted(maps.Keys(ledgerChans)) {
		if !rawChans[ch] && ledgerChans[ch] {
			o.problem("raw folder %s is missing, but the ledger lists files of the nights in scope", filepath.Join(lay.DataDir, ch))
		}
	}
	for _, ch := range slices.Sorted(maps.Keys(rawChans)) {
		o.listRaw(ctx, ch)
	}
	o.stored(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o.newdata(ctx)
	return o.s, ctx.Err()
}

func (o *observer) problem(format string, args ...any) {
	o.s.Problems = append(o.s.Problems, fmt.Sprintf(format, args...))
}

func (o *observer) inScope(base string) (frame.Name, bool) {
	n, err := frame.ParseName(base)
	return n, err == nil && o.nights[n.ObsDate]
}

// channels lists the channel folders under dataDir.
func (o *observer) channels(dir string) (map[string]bool, error) {
	entries, err := o.fs.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	chans := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() && chanRE.MatchString(e.Name()) {
			chans[e.Name()] = true
		}
	}
	return chans, nil
}

// readLedgers indexes the ledgers' events of files in scope, read from disk
// rather than opened, which would create them. It returns every channel
// with a ledger, true for those with files in scope.
func (o *observer) readLedgers() map[string]bool {
	paths, _ := filepath.Glob(filepath.Join(filepath.Dir(ledger.Path(o.s.Layout.StateDir, "x")), "*.ledger"))
	chans := map[string]bool{}
	for _, p := range paths {
		ch := strings.ToLower(strings.TrimSuffix(filepath.Base(p), ".ledger"))
		if !chanRE.MatchString(ch) {
			continue
		}
		chans[ch] = false
		events, bad, err := ledger.Read(p)
		if err != nil {
			o.problem("%v", err)
			continue
		}
		// A damaged line is the ledger's to report (Open logs it); failing
		// every sweep for it would hide the sweeps' own problems.
		for _, b := range bad {
			o.log.Warn("ledger line skipped", "problem", b)
		}
		for _, ev := range events {
			if _, ok := o.inScope(ev.File); !ok {
				continue
			}
			chans[ch] = true
			if o.s.Ledger[ev.File] == nil {
				o.s.Ledger[ev.File] = map[string]ledger.Event{}
			}
			o.s.Ledger[ev.File][ev.Step] = ev
		}
	}
	return chans
}

func (o *observer) listRaw(ctx context.Context, ch string) {
	dir := filepath.Join(o.s.Layout.DataDir, ch)
	entries, err := o.fs.ReadDir(dir)
	if err != nil {
		o.problem("raw folder %s: %v", dir, err)
		return
	}
	o.s.Listed[ch] = true
	for _, e := range entries {
		n, ok := o.inScope(e.Name())
		if !ok || n.Chan != ch || ctx.Err() != nil {
			continue
		}
		path := filepath.Join(dir, e.Name())
		fi, err := o.fs.Stat(path)
		if errors.Is(err, fs.ErrNotExist) || err == nil && !fi.Mode().IsRegular() {
			continue
		}
		if err != nil {
			// Not to be taken for lost: over NFS this is often a hiccup.
			o.s.Unchecked[path] = err.Error()
			continue
		}
		o.s.Raw[n.Base] = fileOf(fi)
	}
}

// stored looks at the stored copies the ledger names and the temporaries in
// the store folders of the nights in scope.
func (o *observer) stored(ctx context.Context) {
	for night := range o.nights {
		temps, err := o.temps(filepath.Join(o.s.Layout.ProcDir, night))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			o.problem("%v", err)
		}
		o.s.Temps = append(o.s.Temps, temps...)
	}
	for _, steps := range o.s.Ledger {
		if ev := steps[ledger.StepStore]; ev.Done() && ev.Dest != "" {
			look(ctx, o.fs, ev, o.s.Stored, o.s.Sums, o.s.Unchecked, func() {})
		}
	}
}

// newdata looks at repoDir: the dispatched copies the ledger names and the
// temporaries. All of it runs under the repo timeout, in a goroutine that is
// left behind, blocked, if the mount is dead; it fills maps of its own, so a
// late return cannot touch the State.
func (o *observer) newdata(ctx context.Context) {
	type result struct {
		files     map[string]File
		hashes    map[string]string
		unchecked map[string]string
		temps     []Temp
	}
	var events []ledger.Event
	for _, steps := range o.s.Ledger {
		if ev := steps[ledger.StepDispatch]; ev.Done() && ev.Dest != "" {
			events = append(events, ev)
		}
	}
	res, err := within(ctx, o.timeout, func(ctx context.Context, tick func()) (result, error) {
		r := result{files: map[string]File{}, hashes: map[string]string{}, unchecked: map[string]string{}}
		if _, err := o.fs.Stat(o.s.Layout.RepoDir); err != nil {
			return r, err
		}
		temps, err := o.temps(o.s.Layout.RepoDir)
		if err != nil {
			return r, err
		}
		r.temps = temps
		tick()
		for _, ev := range events {
			look(ctx, o.fs, ev, r.files, r.hashes, r.unchecked, tick)
		}
		return r, ctx.Err()
	})
	if err != nil {
		o.s.RepoErr = err
		return
	}
	o.s.Newdata, o.s.Temps = res.files, append(o.s.Temps, res.temps...)
	for k, v := range res.hashes {
		o.s.Sums[k] = v
	}
	for k, v := range res.unchecked {
		o.s.Unchecked[k] = v
	}
}

// look stats the copy ev made and reads it only if its size is as recorded
// but its mtime is not.
func look(ctx context.Context, fsys FS, ev ledger.Event, files map[string]File, sums, unchecked map[string]string, tick func()) {
	fi, err := fsys.Stat(ev.Dest)
	tick()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return
	case err != nil:
		unchecked[ev.Dest] = err.Error()
		return
	case !fi.Mode().IsRegular():
		unchecked[ev.Dest] = ev.Dest + " is not a regular file"
		return
	}
	f := fileOf(fi)
	files[ev.Dest] = f
	if f.Size != ev.OutSize || f.MTime == ev.MTime {
		return
	}
	sum, err := hashFile(ctx, fsys, ev.Dest, tick)
	if err != nil {
		unchecked[ev.Dest] = err.Error()
		return
	}
	sums[ev.Dest] = sum
}

func (o *observer) temps(dir string) ([]Temp, error) {
	entries, err := o.fs.ReadDir(dir)
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

func fileOf(fi fs.FileInfo) File {
	return File{Size: fi.Size(), MTime: fi.ModTime().UnixNano()}
}

func hashFile(ctx context.Context, fsys FS, path string, tick func()) (string, error) {
	f, err := fsys.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		tick()
		if err == io.EOF {
			return hex.EncodeToString(h.Sum(nil)), nil
		}
		if err != nil {
			return "", err
		}
	}
}

// errTimeout is the error of file operations that stalled.
var errTimeout = errors.New("timed out")

// within runs fn, which calls tick after each step it makes, and gives up
// when no step was made for limit (never, if limit is 0): a slow but live
// disk is waited for, a dead one is not. A system call blocked on a dead NFS
// mount cannot be interrupted, so on a timeout fn's goroutine is left
// behind, blocked, with its context cancelled.
func within[T any](ctx context.Context, limit time.Duration, fn func(ctx context.Context, tick func()) (T, error)) (T, error) {
	if limit <= 0 {
		return fn(ctx, func() {})
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	var last atomic.Int64 // latest progress, as an offset from start
	tick := func() { last.Store(int64(time.Since(start))) }
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn(ctx, tick)
		done <- result{v, err}
	}()
	check := time.NewTicker(max(limit/8, time.Millisecond))
	defer check.Stop()
	for {
		select {
		case r := <-done:
			return r.v, r.err
		case <-check.C:
			if time.Since(start)-time.Duration(last.Load()) < limit {
				continue
			}
			var zero T
			return zero, fmt.Errorf("%w: no progress for %s", errTimeout, limit)
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		}
	}
}
