package condition

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/internal/atomicfile"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/place"
	"github.com/obsdata/dataman/internal/workers"
)

// Options say what to condition and where.
type Options struct {
	Files  []string
	OutDir string
	// ByNight writes OutDir/<obsdate>/<name>, as procDir, instead of
	// OutDir/<name>; the raw files must then have raw file names.
	ByNight bool
	// Policy is for a name that holds a different file: under Rename
	// (the default) the UNIQNAME, then -2, -3…; under Error the file
	// fails; under Overwrite it is replaced.
	Policy place.Policy
	Jobs   int
	Proc   fits.Options
	Log    *slog.Logger // nil discards
	// Done, if not nil, is called after each file, from the worker that
	// did it.
	Done func(Result)
}

// Result is one raw file's outcome.
type Result struct {
	Raw        string   `json:"raw"`
	Out        string   `json:"out,omitempty"`
	OK         bool     `json:"ok"`
	Kept       bool     `json:"kept,omitempty"`        // the same bytes were there already and were left alone
	NotStarted bool     `json:"not_started,omitempty"` // the run was stopped first: a failure
	Error      string   `json:"error,omitempty"`
	Bytes      int64    `json:"bytes,omitempty"`
	HDUs       int      `json:"hdus,omitempty"`
	UniqName   string   `json:"uniqname,omitempty"`
	Seconds    float64  `json:"seconds"`
	Warnings   []string `json:"warnings,omitempty"`
}

// Run conditions o.Files into o.OutDir, creating it, and returns one result
// per file in the order given. One failure does not stop the others; a
// file not started when ctx was done is a failure too (NotStarted). It
// returns an error, and writes nothing, only when the work cannot start:
// OutDir cannot be made, or two different raw files would go to one name
// under a policy that cannot keep both.
//
// Files that go to one name (the same base name in the same folder) are
// conditioned one after the other, in the order given, so which of them
// keeps the name is decided by the order, never by timing; the others
// follow the collision policy. Files of different names run on o.Jobs
// goroutines.
func Run(ctx context.Context, o Options) ([]Result, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Policy == "" {
		o.Policy = place.Rename
	}
	groups, err := plan(o)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: write: --out: %w", o.OutDir, unwrapPath(err))
	}
	r := &runner{o: o, cleaned: map[string]bool{}}
	results := make([]Result, len(o.Files))
	workers.ForEach(ctx, len(groups), o.Jobs, func(g int) {
		for _, it := range groups[g] {
			if ctx.Err() != nil {
				break
			}
			res := r.one(ctx, it)
			results[it.i] = res
			if o.Done != nil {
				o.Done(res)
			}
		}
	})
	for i, res := range results {
		if res.Raw == "" {
			results[i] = Result{Raw: o.Files[i], NotStarted: true,
				Error: fmt.Sprintf("%s: not started: %v", o.Files[i], context.Cause(ctx))}
		}
	}
	return results, nil
}

// item is one raw file and where it goes.
type item struct {
	i         int
	raw       string
	dir, base string
	err       error // why it cannot be done at all
}

// plan gives each file its folder and groups the files by the name they go
// to, in the order given.
func plan(o Options) ([][]item, error) {
	var groups [][]item
	byTarget := map[string]int{}
	for i, raw := range o.Files {
		it := item{i: i, raw: raw, dir: o.OutDir, base: filepath.Base(raw)}
		if o.ByNight {
			n, err := frame.ParseName(it.base)
			if err != nil {
				it.err = fmt.Errorf("%s: name: %w", raw, err)
			} else {
				it.dir = filepath.Join(o.OutDir, n.ObsDate)
			}
		}
		key := filepath.Join(it.dir, it.base)
		g, ok := byTarget[key]
		if !ok || it.err != nil {
			g = len(groups)
			groups = append(groups, nil)
			if it.err == nil {
				byTarget[key] = g
			}
		}
		if o.Policy != place.Rename && len(groups[g]) > 0 && different(groups[g][0].raw, raw) {
			return nil, fmt.Errorf("%s and %s: both would be written as %s, and the collision policy %s cannot keep both",
				groups[g][0].raw, raw, key, o.Policy)
		}
		groups[g] = append(groups[g], it)
	}
	return groups, nil
}

type runner struct {
	o       Options
	mu      sync.Mutex
	cleaned map[string]bool // folders already rid of stale temporaries
}

// one conditions one raw file. Errors read "<file>: <step>: <reason>"; on
// any error nothing is left under a final name.
func (r *runner) one(ctx context.Context, it item) Result {
	start := time.Now()
	res := Result{Raw: it.raw}
	out, kept, fr, err := r.write(ctx, it)
	res.Seconds = time.Since(start).Seconds()
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.OK, res.Out, res.Kept = true, out, kept
	res.Bytes, res.HDUs, res.UniqName, res.Warnings = fr.OutSize, fr.HDUs, fr.UniqName, fr.Warnings
	for _, w := range fr.Warnings {
		r.o.Log.Warn(w, "file", it.raw)
	}
	return res
}

func (r *runner) write(ctx context.Context, it item) (string, bool, *fits.Result, error) {
	if it.err != nil {
		return "", false, nil, it.err
	}
	if sameFile(it.raw, filepath.Join(it.dir, it.base)) {
		return "", false, nil, fmt.Errorf("%s: write: the output %s would replace the raw file; use --out",
			it.raw, filepath.Join(it.dir, it.base))
	}
	raw, err := open(it.raw)
	if err != nil {
		return "", false, nil, err
	}
	defer raw.Close()
	if err := os.MkdirAll(it.dir, 0o755); err != nil {
		return "", false, nil, fmt.Errorf("%s: write: %w", it.raw, err)
	}
	r.cleanOnce(it.dir)
	tmp, err := atomicfile.Create(it.dir, it.base, 0o644)
	if err != nil {
		return "", false, nil, fmt.Errorf("%s: write: %w", it.raw, err)
	}
	defer tmp.Abort()
	fr, err := conditionTo(raw, tmp, r.o.Proc)
	if err != nil {
		return "", false, nil, err
	}
	c, err := place.File(tmp.File)
	if err != nil {
		return "", false, nil, fmt.Errorf("%s: write: %w", it.raw, err)
	}
	t := place.Target{Dir: it.dir, Base: it.base, Uniq: fr.UniqName, Policy: r.o.Policy,
		Taken: func(path string) { r.o.Log.Warn("name taken by a different file", "file", it.raw, "path", path) }}
	out, kept, err := t.Place(ctx, tmp, c)
	if err != nil {
		return "", false, nil, fmt.Errorf("%s: write: %w", it.raw, err)
	}
	return out, kept, fr, nil
}

// ToWriter conditions the raw file at path into w as one stream, for
// standard output: nothing is named, placed or made atomic, so after an
// error w holds an incomplete file. Errors read "<file>: <step>: <reason>".
func ToWriter(path string, w io.Writer, proc fits.Options) (*fits.Result, error) {
	raw, err := open(path)
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	return conditionTo(raw, w, proc)
}

func open(path string) (*fits.File, error) {
	raw, err := fits.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: read: %w", path, err)
	}
	return raw, nil
}

func conditionTo(raw *fits.File, w io.Writer, proc fits.Options) (*fits.Result, error) {
	fr, err := fits.Condition(raw, w, proc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", raw.Path, err)
	}
	return fr, nil
}

// cleanOnce removes from dir, the first time a file is written there, the
// temporaries of writers that died (killed, or their machine stopped): the
// rule of atomicfile.CleanStale, which never touches a live writer's.
func (r *runner) cleanOnce(dir string) {
	r.mu.Lock()
	done := r.cleaned[dir]
	r.cleaned[dir] = true
	r.mu.Unlock()
	if done {
		return
	}
	removed, err := atomicfile.CleanStale(dir)
	if err != nil {
		r.o.Log.Warn("removing stale temporary files", "dir", dir, "err", err)
	}
	for _, p := range removed {
		r.o.Log.Info("removed stale temporary file", "path", p)
	}
}

// sameFile reports whether a and b are one file; false if either is missing.
func sameFile(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false
	}
	return os.SameFile(sa, sb)
}

// different reports whether a and b are two files that both exist: a file
// that cannot be read fails on its own and clashes with nothing.
func different(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	if err != nil {
		return false
	}
	return !os.SameFile(sa, sb)
}

// unwrapPath drops the path of a *PathError whose message names the folder
// already.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
