package sweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/obsdata/dataman/internal/atomicfile"
	"github.com/obsdata/dataman/internal/deliver"
	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/ledger"
	"github.com/obsdata/dataman/internal/stall"
)

// Deliverer is the delivery path a sweep runs its actions through.
// *deliver.Deliverer is one; a sweep never conditions or copies a file
// itself.
type Deliverer interface {
	Ensure(ctx context.Context, rawName string, how deliver.Mode) (deliver.Report, error)
	Layout() frame.Layout
}

// Status is how an action ended.
type Status string

// The statuses of a Result.
const (
	Planned Status = "planned" // not applied: a dry run
	OK      Status = "ok"
	Pending Status = "pending" // stored, but the dispatch waits for repoDir to come back
	Failed  Status = "failed"
)

// Result is an action and how it went.
type Result struct {
	Action
	Status Status   `json:"status"`
	Error  string   `json:"error,omitempty"`
	Done   []string `json:"done,omitempty"` // what was done, for people
}

// applier runs a plan's actions.
type applier struct {
	d       Deliverer
	lay     frame.Layout
	timeout time.Duration
	version string
	now     func() time.Time
	log     *slog.Logger

	watcher   *stall.Watcher
	redeliver bool

	mu      sync.Mutex
	ledgers map[string]*ledger.Ledger
}

func (a *applier) apply(ctx context.Context, r *Result) {
	var err error
	switch r.Kind {
	case CleanTemps:
		err = a.clean(ctx, r)
	case Store:
		// The delivery path replaces a damaged copy the ledger knows as ours.
		err = a.ensure(ctx, r, deliver.Deliver)
	case Dispatch, Redispatch:
		how := deliver.DispatchOnly
		if a.redeliver {
			how |= deliver.Redeliver
		}
		err = a.ensure(ctx, r, how)
	case Lost:
		err = a.recordLost(r)
	default:
		err = fmt.Errorf("unknown action %q", r.Kind)
	}
	switch {
	case err == nil:
		r.Status = OK
	case errors.Is(err, deliver.ErrPending):
		r.Status, r.Error = Pending, err.Error()
	default:
		r.Status, r.Error = Failed, err.Error()
	}
}

func (a *applier) ensure(ctx context.Context, r *Result, how deliver.Mode) error {
	rep, err := a.d.Ensure(ctx, r.File, how)
	r.Done = append(r.Done, rep.Actions...)
	return err
}

func (a *applier) clean(ctx context.Context, r *Result) error {
	limit := time.Duration(0)
	if r.Dir == a.lay.RepoDir {
		limit = a.timeout
	}
	removed, err := stall.Do(ctx, a.watcher, r.Dir, limit, func(context.Context, func()) ([]string, error) {
		return atomicfile.CleanStale(r.Dir)
	})
	for _, p := range removed {
		r.Done = append(r.Done, "removed stale temporary "+p)
		a.log.Info("removed stale temporary file", "path", p)
	}
	if err != nil {
		return fmt.Errorf("%s: removing stale temporaries: %w", r.Dir, err)
	}
	return nil
}

// recordLost appends a sweep/lost line to the file's ledger, so that the
// next sweep reports it among the known losses instead of acting again.
func (a *applier) recordLost(r *Result) error {
	n, err := frame.ParseName(r.File)
	if err != nil {
		return err
	}
	l, err := a.ledger(n.Chan)
	if err != nil {
		return fmt.Errorf("%s: %w", r.File, err)
	}
	ev := ledger.Event{File: n.Base, Step: ledger.StepSweep, Status: ledger.StatusLost,
		Reason: r.Reason, Version: a.version, Time: a.now()}
	if err := l.Append(ev); err != nil {
		return fmt.Errorf("%s: %w", r.File, err)
	}
	r.Done = append(r.Done, "recorded as lost in "+l.Path())
	a.log.Warn("raw file lost", "file", r.File, "reason", r.Reason)
	return nil
}

// ledger opens a channel's ledger for the lost lines. Other handles on the
// same file (the Deliverer's, another process's) are fine: each line is one
// O_APPEND write under an flock.
func (a *applier) ledger(ch string) (*ledger.Ledger, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if l := a.ledgers[ch]; l != nil {
		return l, nil
	}
	l, err := ledger.Open(a.lay.StateDir, ch)
	if err != nil {
		return nil, err
	}
	a.ledgers[ch] = l
	return l, nil
}

func (a *applier) close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var errs []error
	for _, l := range a.ledgers {
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}
