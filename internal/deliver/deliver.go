package deliver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/obsdata/dataman/internal/atomicfile"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/judge"
	"github.com/obsdata/dataman/internal/ledger"
	"github.com/obsdata/dataman/internal/place"
	"github.com/obsdata/dataman/internal/stall"
)

// Conditioner turns a raw file into its conditioned FITS file.
type Conditioner interface {
	// Condition writes the complete conditioned file for rawPath to out,
	// in order (out is a stream, it cannot seek), and returns facts about
	// the raw input. It must honour ctx, and it must be deterministic: the
	// same raw file gives the same bytes.
	Condition(ctx context.Context, rawPath string, out io.Writer) (RawInfo, error)
}

// RawInfo is what a Conditioner reports about a raw file.
type RawInfo struct {
	Size     int64
	SHA256   string // hex
	UniqName string // the UNIQNAME card of the conditioned file, the first name tried on a collision under PolicyRename
	// Preview, if not nil, draws the quick-look previews of the stored
	// copy from what the conditioning gathered, instead of Options.Preview
	// reading the file back.
	Preview func(stored string) error
}

// Policy says what to do when a different file already has the name being
// written: the rule of package place, which condition --out shares.
type Policy = place.Policy

// The collision policies, as in the configuration.
const (
	PolicyRename    = place.Rename
	PolicyError     = place.Error
	PolicyOverwrite = place.Overwrite
)

// DestOptions are the settings of one destination (the store or the repository).
//
// MinFree is checked before writing: for the repository against the stored
// copy's size, for the store against an estimate of three times the raw
// file's (the conditioned file adds a float32 mosaic to the int16 images).
//
// Timeout bounds a stall, not a whole step: each file operation and each
// chunk copied restarts it. For the store it also covers the conditioner
// (which reads the raw file, itself on NFS), so it must be longer than the
// longest pause between two of the conditioner's writes.
type DestOptions struct {
	Collision Policy        // empty means PolicyRename, dataMan's behaviour
	MinFree   int64         // bytes to leave free; 0 turns the check off
	Timeout   time.Duration // 0 waits for ever
}

// Options configure a Deliverer.
type Options struct {
	frame.Layout
	Proc, Repo DestOptions
	Version    string // dataman's version, for the ledger
	ConfigHash string
	Log        *slog.Logger     // nil discards
	Now        func() time.Time // the ledger's clock; nil is time.Now
	// Watcher knows the folders where a file operation is stuck; share one
	// with the sweeps of the same process. nil makes one.
	Watcher *stall.Watcher
	// Consumed says repoDir has a consumer (the archive) that takes the
	// copies away: a delivered copy that is gone was taken, and is sent
	// again only on request (Redeliver). Without a consumer a missing
	// copy is sent again.
	Consumed bool
	// Retry paces the conditioning of a raw file that failed; zero is
	// judge.DefaultRetry.
	Retry judge.Retry
	// FS is what the judge looks through; nil is the operating system's.
	FS judge.FS
	// Preview, when set, draws the quick-look previews of the stored copy
	// once a job has stored or delivered it: after <CHAN>.new is updated and
	// outside the file's lock, so it never delays a delivery. Best effort:
	// an error is logged, never returned.
	Preview func(stored string) error
}

// Mode says what Ensure should do.
type Mode uint

const (
	Archive      Mode = iota + 1 // condition and store
	Deliver                      // condition, store and dispatch
	DispatchOnly                 // copy the stored file to the repository
	// DryRun, or-ed with one of the above, reports what would be done and
	// changes nothing: no file, no folder, no ledger line.
	DryRun Mode = 1 << 4
	// Announced, or-ed in, says the camera server announced the frame
	// (a datagram): it is the newest, and <CHAN>.new names it unless a
	// frame announced later is already there.
	Announced Mode = 1 << 5
	// Redeliver, or-ed in, sends a copy the archive took from repoDir again.
	Redeliver Mode = 1 << 6
)

func (m Mode) kind() Mode { return m &^ (DryRun | Announced | Redeliver) }

type announcedKey struct{}

// WithAnnounced says when the datagram announcing the frame came, for an
// Ensure with Announced: a request that waited (its raw file incomplete at
// first, or queued) is as new as its datagram, not as its delivery, so it
// does not take .new from a frame announced after it. Without it the
// announcement is the start of Ensure.
func WithAnnounced(ctx context.Context, at time.Time) context.Context {
	return context.WithValue(ctx, announcedKey{}, at)
}

func announcedAt(ctx context.Context, start time.Time) time.Time {
	if at, ok := ctx.Value(announcedKey{}).(time.Time); ok && !at.IsZero() {
		return at
	}
	return start
}

// Report is what Ensure did, or in a dry run would do.
type Report struct {
	File       string
	Stored     string   // path of the stored copy
	Dispatched string   // path of the dispatched copy
	Actions    []string // for people: "stored /home/data/20260119/…", "already delivered", "dispatch pending: …"
	Already    bool     // the ledger and the files showed there was nothing to do
	Pending    bool     // the dispatch failed for a reason that may pass; RetryPending will try again
	Failed     bool     // the raw file could not be conditioned (now or before)
	Err        error
	Timings    Timings

	draw func(stored string) error // the conditioning's RawInfo.Preview, if this Ensure conditioned
}

// Timings are the wall-clock durations of the steps.
type Timings struct {
	Condition, Store, Dispatch time.Duration
}

// Errors that callers can test with errors.Is.
var (
	// ErrFailedBefore: the raw file failed to condition and is not due to
	// be tried again (see judge.Retry).
	ErrFailedBefore = errors.New("conditioning failed before")
	// ErrRefused: the raw file is not a regular file in its raw folder.
	ErrRefused   = errors.New("raw file refused")
	ErrPending   = errors.New("dispatch pending")
	ErrCollision = place.ErrCollision
	ErrChecksum  = errors.New("checksum mismatch")
	ErrTimeout   = stall.ErrTimeout
)

// errNoSource marks a dispatch that has nothing to copy; retrying cannot help.
var errNoSource = errors.New("no stored copy")

// Deliverer runs the delivery path. It is safe for concurrent use; two
// Ensure calls for the same file run one after the other.
type Deliverer struct {
	opts Options
	cond Conditioner
	log  *slog.Logger
	now  func() time.Time

	mu       sync.Mutex
	ledgers  map[string]*ledger.Ledger // by upper-case channel
	cleaned  map[string]bool           // folders already rid of stale temporaries
	inflight map[string]chan struct{}  // files being ensured

	// fault, when set by tests, runs before each file operation on a
	// destination and can fail it or block it.
	fault   func(op, path string) error
	watcher *stall.Watcher
	judge   *judge.Judge
}

// New checks opts and returns a Deliverer.
func New(opts Options, c Conditioner) (*Deliverer, error) {
	if c == nil {
		return nil, errors.New("deliver: no conditioner")
	}
	for _, p := range []struct {
		name string
		dir  *string
	}{{"data", &opts.DataDir}, {"proc", &opts.ProcDir}, {"repo", &opts.RepoDir}, {"state", &opts.StateDir}} {
		if *p.dir == "" {
			return nil, fmt.Errorf("deliver: no %s directory", p.name)
		}
		abs, err := filepath.Abs(*p.dir)
		if err != nil {
			return nil, fmt.Errorf("deliver: %s directory: %w", p.name, err)
		}
		*p.dir = abs
	}
	for _, d := range []*DestOptions{&opts.Proc, &opts.Repo} {
		switch d.Collision {
		case "":
			d.Collision = PolicyRename
		case PolicyRename, PolicyError, PolicyOverwrite:
		default:
			return nil, fmt.Errorf("deliver: %q is not a collision policy (use rename, error or overwrite)", d.Collision)
		}
	}
	d := &Deliverer{
		opts:     opts,
		cond:     c,
		log:      opts.Log,
		now:      opts.Now,
		ledgers:  map[string]*ledger.Ledger{},
		cleaned:  map[string]bool{},
		inflight: map[string]chan struct{}{},
		watcher:  opts.Watcher,
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.watcher == nil {
		d.watcher = &stall.Watcher{}
	}
	fsys := opts.FS
	if fsys == nil {
		fsys = judge.OSFS{}
	}
	jo := d.JudgeOptions()
	jo.FS = faultFS{fsys, d}
	d.judge = judge.New(jo)
	return d, nil
}

// JudgeOptions are the options of the Deliverer's judge, for a sweep or
// a view that should see the folders as the delivery path does: the same
// timeouts, the same stuck folders, the same consumer of repoDir.
func (d *Deliverer) JudgeOptions() judge.Options {
	return judge.Options{
		Layout: d.opts.Layout, FS: d.opts.FS, Watcher: d.watcher,
		RawTimeout: d.opts.Proc.Timeout, ProcTimeout: d.opts.Proc.Timeout, RepoTimeout: d.opts.Repo.Timeout,
		Retry: d.opts.Retry, Consumed: d.opts.Consumed, Now: d.now,
	}
}

// Layout is the layout the Deliverer writes, with absolute paths.
func (d *Deliverer) Layout() frame.Layout { return d.opts.Layout }

// Close closes the ledgers. File operations still blocked on a dead mount
// are not waited for.
func (d *Deliverer) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for k, l := range d.ledgers {
		errs = append(errs, l.Close())
		delete(d.ledgers, k)
	}
	return errors.Join(errs...)
}

// Ensure makes sure the raw file rawName is conditioned, stored and, for
// Deliver and DispatchOnly, dispatched. Only the base name of rawName counts,
// as in dataMan: the raw file is always read from <DataDir>/<chan>/.
//
// If the ledger says the steps are done and the files still have the size and
// modification time it recorded, Ensure reads nothing and reports "already
// delivered". Otherwise it works from content: an identical file already at a
// destination is kept as it is. A dispatch that fails for a reason that may
// pass (destination missing, read-only, full, hung) leaves the stored copy in
// place, is recorded as pending, and returns an error wrapping ErrPending.
//
// Errors read "<file>: <step>: <reason>".
func (d *Deliverer) Ensure(ctx context.Context, rawName string, how Mode) (Report, error) {
	rep := Report{File: filepath.Base(rawName)}
	err := d.ensure(ctx, rawName, how, &rep)
	rep.Err = err
	if err == nil && how&DryRun == 0 && !rep.Already && rep.Stored != "" {
		d.preview(rep.File, rep.Stored, rep.draw)
	}
	return rep, err
}

// preview draws the previews of a stored copy: with draw, from what its
// conditioning gathered, else with Options.Preview from the file.
func (d *Deliverer) preview(file, stored string, draw func(string) error) {
	if draw == nil {
		draw = d.opts.Preview
	}
	if draw == nil {
		return
	}
	start := time.Now()
	if err := draw(stored); err != nil {
		d.log.Warn("preview failed; the frame is delivered", "file", file, "err", err)
		return
	}
	d.log.Debug("preview drawn", "file", file, "stored", stored, "took", time.Since(start))
}

func (d *Deliverer) ensure(ctx context.Context, rawName string, how Mode, rep *Report) error {
	n, err := frame.ParseName(rep.File)
	if err != nil {
		return err
	}
	kind := how.kind()
	if kind < Archive || kind > DispatchOnly {
		return fmt.Errorf("%s: unknown mode %d", n.Base, how)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", n.Base, err)
	}
	if how&DryRun != 0 {
		return d.plan(ctx, n, how, rep)
	}
	start := d.now()
	release, err := d.acquire(ctx, n.Base)
	if err != nil {
		return fmt.Errorf("%s: %w", n.Base, err)
	}
	defer release()
	lg, err := d.ledger(n.Chan)
	if err != nil {
		return fmt.Errorf("%s: %w", n.Base, err)
	}
	gens, cur := lg.Generations(n.Base)
	j := &job{d: d, n: n, lg: lg, how: how, rep: rep, damaged: map[string]bool{}}
	j.judge(ctx, d.judge.Frame(ctx, n, ledger.FileHistory{Generations: gens, Current: cur}))
	if how&Announced != 0 {
		j.announced = announcedAt(ctx, start)
	}
	defer j.end()
	return j.run(ctx, kind)
}

// acquire waits until no other Ensure of file is running, so that duplicate
// requests (a repeated datagram, a sweep finding a file in flight) find the
// work done instead of racing it.
func (d *Deliverer) acquire(ctx context.Context, file string) (func(), error) {
	for {
		d.mu.Lock()
		busy, ok := d.inflight[file]
		if !ok {
			mine := make(chan struct{})
			d.inflight[file] = mine
			d.mu.Unlock()
			return func() {
				d.mu.Lock()
				delete(d.inflight, file)
				d.mu.Unlock()
				close(mine)
			}, nil
		}
		d.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (d *Deliverer) ledger(channel string) (*ledger.Ledger, error) {
	key := strings.ToUpper(channel)
	d.mu.Lock()
	defer d.mu.Unlock()
	if l := d.ledgers[key]; l != nil {
		return l, nil
	}
	l, err := ledger.Open(d.opts.StateDir, key)
	if err != nil {
		return nil, err
	}
	for _, p := range l.Problems() {
		d.log.Warn("ledger", "problem", p)
	}
	d.ledgers[key] = l
	return l, nil
}

// cleanOnce removes stale temporaries from dir the first time this process
// writes there; later temporaries of ours are removed by our own error paths.
func (d *Deliverer) cleanOnce(dir string) []string {
	d.mu.Lock()
	done := d.cleaned[dir]
	d.cleaned[dir] = true
	d.mu.Unlock()
	if done {
		return nil
	}
	removed, err := atomicfile.CleanStale(dir)
	if err != nil {
		d.log.Warn("removing stale temporary files", "dir", dir, "err", err)
	}
	for _, p := range removed {
		d.log.Debug("removed stale temporary file", "path", p)
	}
	return removed
}

func (d *Deliverer) inject(op, path string) error {
	if d.fault == nil {
		return nil
	}
	return d.fault(op, path)
}

// crashHook, set only by the crash tests, runs at named points of the write
// sequence; the test's child process kills itself there with SIGKILL.
var crashHook func(point string)

func crash(point string) {
	if crashHook != nil {
		crashHook(point)
	}
}
