package sweep

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/judge"
	"github.com/obsdata/dataman/internal/ledger"
	"github.com/obsdata/dataman/internal/stall"
	"github.com/obsdata/dataman/internal/workers"
)

// Options configure Run.
type Options struct {
	// Deliverer is the delivery path; its frame.Layout says where to look.
	Deliverer Deliverer
	// Nights are the CCYYMMDD observing dates in scope; empty means
	// DefaultNights.
	Nights []string
	// Location is the servers' clock, for DefaultNights; nil is frame.Arizona.
	Location *time.Location
	// MinAge: raw files younger than this are left to the datagram path.
	MinAge time.Duration
	// DryRun plans and reports, and changes nothing: no file, no ledger
	// line, and no lock taken.
	DryRun bool
	// Jobs is how many actions run at once; below 1 means 1.
	Jobs int
	// Lock, if not nil, is taken for the run, waiting up to Wait (0: not
	// at all; a held lock gives a *HeldError). With nil the caller keeps
	// other sweeps away itself.
	Lock *Lock
	Wait time.Duration
	// RepoTimeout bounds stalls of file operations in repoDir, which may
	// be a dead NFS mount; 0 waits for ever. A Deliverer that has
	// JudgeOptions gives the timeouts of every folder itself.
	RepoTimeout time.Duration
	// Redeliver sends again the copies the archive took from repoDir.
	Redeliver bool
	// Version is dataman's version, for the ledger lines a sweep writes.
	Version string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// FS is what the sweep observes; nil is the operating system's.
	FS  judge.FS
	Log *slog.Logger // nil discards
	// OnPlan is called with the plan before it is applied; OnResult after
	// each action, never two at once. Both may be nil.
	OnPlan   func(Plan)
	OnResult func(Result)
}

// Summary is what a sweep found and did.
type Summary struct {
	Nights    []string `json:"nights"`
	DryRun    bool     `json:"dry_run"`
	Actions   []Result `json:"actions"`
	Deferred  []string `json:"deferred,omitempty"`
	KnownLost []string `json:"known_lost,omitempty"`
	Taken     []string `json:"taken,omitempty"`
	FailedRaw []string `json:"failed_raw,omitempty"` // "file: reason" of raw files that cannot be conditioned
	Problems  []string `json:"problems,omitempty"`
	Failed    int      `json:"failed"` // actions that failed or are pending
}

// Count is the number of actions of kind k.
func (s Summary) Count(k Kind) int {
	n := 0
	for _, r := range s.Actions {
		if r.Kind == k {
			n++
		}
	}
	return n
}

// Run sweeps once: it takes the lock (if Options.Lock is set), observes the
// nights in scope, plans, and applies the plan through the Deliverer. The
// returned error is for a sweep that could not run (the lock is held, the raw
// folder cannot be read, ctx ended); failed actions and problems are in the
// Summary. A sweep that is not a dry run records what it did in the state
// directory's LastName, for dataman status.
func Run(ctx context.Context, o Options) (sum Summary, err error) {
	if o.Deliverer == nil {
		return Summary{}, errors.New("sweep: no deliverer")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = frame.Arizona
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	nights := o.Nights
	if len(nights) == 0 {
		nights = frame.DefaultNights(o.Now(), o.Location)
	}
	if o.Lock != nil && !o.DryRun {
		err := o.Lock.Acquire(ctx, o.Wait, func(pid int) {
			o.Log.Info("waiting for the sweep lock", "lock", o.Lock.Path(), "pid", pid, "wait", o.Wait)
		})
		if err != nil {
			return Summary{}, err
		}
		defer func() {
			if err := o.Lock.Release(); err != nil {
				o.Log.Warn("releasing the sweep lock", "lock", o.Lock.Path(), "err", err)
			}
		}()
	}

	if !o.DryRun {
		start := o.Now()
		defer func() {
			if werr := WriteLast(o.Deliverer.Layout().StateDir, last(sum, start, o.Now(), err)); werr != nil {
				o.Log.Warn("recording the sweep", "err", werr)
			}
		}()
		// A ledger of an earlier version is split into nights first, so
		// that judging a night never reads years of it.
		if err := ledger.MigrateAll(o.Deliverer.Layout().StateDir); err != nil {
			return Summary{}, err
		}
	}
	jo := judge.Options{Layout: o.Deliverer.Layout(), RepoTimeout: o.RepoTimeout}
	if d, ok := o.Deliverer.(interface{ JudgeOptions() judge.Options }); ok {
		// The delivery path's own view: its folders' timeouts, its stuck
		// folders, whether repoDir has a consumer, its retry pacing.
		jo = d.JudgeOptions()
	}
	if o.FS != nil {
		jo.FS = o.FS
	}
	if o.RepoTimeout > 0 {
		jo.RepoTimeout = o.RepoTimeout
	}
	jo.MinAge, jo.Redeliver, jo.Now = o.MinAge, o.Redeliver, o.Now
	j := judge.New(jo)
	v, err := j.Nights(ctx, nights)
	if err != nil {
		return Summary{}, err
	}
	plan := planView(v, o.Now())
	sum = Summary{Nights: plan.Nights, DryRun: o.DryRun, Actions: make([]Result, len(plan.Actions)),
		Deferred: plan.Deferred, KnownLost: plan.KnownLost, Taken: plan.Taken, FailedRaw: plan.Failed, Problems: plan.Problems}
	for i, a := range plan.Actions {
		sum.Actions[i] = Result{Action: a, Status: Planned}
	}
	// A caller that reports the results itself (OnResult) says them once;
	// without one (listen) the log is the only report.
	quiet := o.OnResult != nil
	if !quiet {
		for _, p := range plan.Problems {
			o.Log.Warn("sweep", "problem", p)
		}
	}
	if o.DryRun || len(plan.Actions) == 0 {
		return sum, nil
	}
	if o.OnPlan != nil {
		o.OnPlan(plan)
	}

	a := &applier{d: o.Deliverer, lay: o.Deliverer.Layout(), timeout: o.RepoTimeout, version: o.Version,
		now: o.Now, log: o.Log, ledgers: map[string]*ledger.Ledger{}, watcher: jo.Watcher, redeliver: o.Redeliver}
	if a.watcher == nil {
		a.watcher = &stall.Watcher{}
	}
	var mu sync.Mutex
	workers.ForEach(ctx, len(sum.Actions), o.Jobs, func(i int) {
		r := &sum.Actions[i]
		// Once ctx ends no new action starts, but one under way finishes:
		// cut short, a delivery would be left for the next run half done
		// (copied but not recorded), and each is bounded by the
		// destination timeouts.
		a.apply(context.WithoutCancel(ctx), r)
		mu.Lock()
		defer mu.Unlock()
		if quiet {
			o.OnResult(*r)
		} else {
			logResult(o.Log, *r)
		}
	})
	if err := a.close(); err != nil {
		o.Log.Warn("closing the ledger", "err", err)
	}
	for _, r := range sum.Actions {
		if r.Status == Failed || r.Status == Pending || (r.Status == Planned && ctx.Err() != nil) {
			sum.Failed++
		}
	}
	return sum, ctx.Err()
}

func logResult(log *slog.Logger, r Result) {
	what := r.File
	if r.Kind == CleanTemps {
		what = r.Dir
	}
	switch r.Status {
	case OK:
		log.Info("swept", "action", r.Kind, "file", what, "reason", r.Reason)
	default:
		log.Warn("sweep "+string(r.Status), "action", r.Kind, "file", what, "err", r.Error)
	}
}
