package deliver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/ledger"
)

// job is one Ensure of one file.
type job struct {
	d     *Deliverer
	n     frame.Name
	lg    *ledger.Ledger
	state map[string]ledger.Event // latest ledger event per step, from before this job
	rep   *Report
	// damaged holds copies of ours found with the wrong bytes, reported once.
	damaged map[string]bool
}

// source is a stored copy with its known checksum: what dispatch copies.
type source struct {
	path string
	sum  string
	size int64
	uniq string
}

func (j *job) action(format string, args ...any) {
	j.rep.Actions = append(j.rep.Actions, fmt.Sprintf(format, args...))
}

func (j *job) run(ctx context.Context, kind Mode) error {
	stored, storeOK := j.trustedStore(ctx)
	switch kind {
	case Archive:
		if storeOK {
			return j.already("already stored", stored, "")
		}
		_, err := j.store(ctx)
		return err
	case DispatchOnly:
		if storeOK {
			if dest, ok := j.trustedDispatch(ctx, stored); ok {
				return j.already("already dispatched", stored, dest)
			}
		} else {
			var err error
			if stored, err = j.storedCopy(ctx); err != nil {
				return j.dispatchFailed(err)
			}
		}
		return j.dispatch(ctx, stored)
	default:
		if storeOK {
			if dest, ok := j.trustedDispatch(ctx, stored); ok {
				return j.already("already delivered", stored, dest)
			}
			return j.dispatch(ctx, stored)
		}
		if j.d.opts.Twin {
			return j.storeAndDispatch(ctx)
		}
		stored, err := j.store(ctx)
		if err != nil {
			return err
		}
		return j.dispatch(ctx, stored)
	}
}

func (j *job) already(what string, stored source, dest string) error {
	j.rep.Already = true
	j.rep.Stored = stored.path
	j.rep.Dispatched = dest
	j.action("%s", what)
	j.d.log.Info(what, "file", j.n.Base)
	return nil
}

// trustedStore returns the stored copy the ledger recorded, if it is still
// there with the recorded size and mtime.
func (j *job) trustedStore(ctx context.Context) (source, bool) {
	ev := j.state[ledger.StepStore]
	// A copy recorded in another folder than the configured one (procDir
	// changed) proves nothing about where the file must be now.
	if !ev.Done() || ev.Dest == "" || ev.OutSHA256 == "" || !inDir(ev.Dest, j.d.opts.StoreDir(j.n)) ||
		!j.unchanged(ctx, ev, j.d.opts.Proc.Timeout) {
		return source{}, false
	}
	return source{path: ev.Dest, sum: ev.OutSHA256, size: ev.OutSize, uniq: j.uniqName(ev)}, true
}

// trustedDispatch returns the dispatched copy the ledger recorded, if it is
// a copy of stored and still has the recorded size and mtime.
func (j *job) trustedDispatch(ctx context.Context, stored source) (string, bool) {
	ev := j.state[ledger.StepDispatch]
	if !ev.Done() || ev.Dest == "" || ev.OutSHA256 != stored.sum || !inDir(ev.Dest, j.d.opts.RepoDir) ||
		!j.unchanged(ctx, ev, j.d.opts.Repo.Timeout) {
		return "", false
	}
	return ev.Dest, true
}

// unchanged stats ev.Dest, under the destination's timeout since /newdata
// may be a dead NFS mount; any failure just means "check by content".
func (j *job) unchanged(ctx context.Context, ev ledger.Event, limit time.Duration) bool {
	fi, err := watch(ctx, j.d, filepath.Dir(ev.Dest), limit, func(context.Context, func()) (os.FileInfo, error) {
		if err := j.d.inject("stat", ev.Dest); err != nil {
			return nil, err
		}
		return os.Stat(ev.Dest)
	})
	return err == nil && fi.Mode().IsRegular() && fi.Size() == ev.OutSize && fi.ModTime().UnixNano() == ev.MTime
}

func (j *job) uniqName(events ...ledger.Event) string {
	for _, ev := range append(events, j.state[ledger.StepCondition]) {
		if u := ev.Extra["uniqname"]; u != "" {
			return u
		}
	}
	return ""
}

// storedCopy finds the copy to dispatch when the ledger cannot vouch for it:
// where the ledger last stored it, else the usual place, read once for its
// checksum. A file that differs from what the ledger recorded is not ours to
// deliver.
func (j *job) storedCopy(ctx context.Context) (source, error) {
	ev := j.state[ledger.StepStore]
	path := ev.Dest
	if path == "" || !ev.Done() {
		path = j.d.opts.Stored(j.n)
	}
	h, err := watch(ctx, j.d, filepath.Dir(path), j.d.opts.Proc.Timeout, func(ctx context.Context, tick func()) (digest, error) {
		if err := j.d.inject("stat", path); err != nil {
			return digest{}, err
		}
		return hashPath(ctx, path, tick)
	})
	if errors.Is(err, os.ErrNotExist) {
		return source{}, fmt.Errorf("%s: %w (archive it first)", path, errNoSource)
	}
	if err != nil {
		return source{}, err
	}
	if ev.Done() && ev.OutSHA256 != "" && ev.OutSHA256 != h.sum {
		return source{}, fmt.Errorf("%s: sha256 %s, but the ledger recorded %s for it: %w", path, h.sum, ev.OutSHA256, errNoSource)
	}
	return source{path: path, sum: h.sum, size: h.size, uniq: j.uniqName(ev)}, nil
}

// event fills the fields every event has.
func (j *job) event(step, status string) ledger.Event {
	ev := ledger.Event{
		File:    j.n.Base,
		Step:    step,
		Status:  status,
		Version: j.d.opts.Version,
		Config:  j.d.opts.ConfigHash,
		Time:    j.d.now(),
		Attempt: 1,
	}
	if prev, ok := j.state[step]; ok && !prev.Done() {
		ev.Attempt = prev.Attempt + 1
	}
	return ev
}

// record appends ev. A ledger that cannot be written makes the step fail:
// without the line, the next run could not know what this one did.
func (j *job) record(ev ledger.Event) error {
	if err := j.lg.Append(ev); err != nil {
		return fmt.Errorf("%s: %s: %w", j.n.Base, ev.Step, err)
	}
	j.state[ev.Step] = ev
	return nil
}

func (j *job) store(ctx context.Context) (source, error) {
	d := j.d
	raw := d.opts.Raw(j.n)
	dir := d.opts.StoreDir(j.n)
	start := time.Now()
	res, err := watch(ctx, d, dir, d.opts.Proc.Timeout, func(ctx context.Context, tick func()) (stored, error) {
		return j.conditionAndStore(ctx, tick, raw, dir)
	})
	j.rep.Timings.Condition = res.condTime
	j.rep.Timings.Store = time.Since(start) - res.condTime
	return j.recordStore(res, err)
}

// storeAndDispatch delivers a file whose stored copy cannot be trusted: see
// conditionStoreDispatch for the order of the work. The ledger gets its
// lines in the usual order, condition, store, dispatch, once both copies
// are settled.
func (j *job) storeAndDispatch(ctx context.Context) error {
	d := j.d
	dir := d.opts.StoreDir(j.n)
	start := time.Now()
	res, err := watch(ctx, d, dir, d.opts.Proc.Timeout, func(ctx context.Context, tick func()) (fresh, error) {
		return j.conditionStoreDispatch(ctx, tick, d.opts.Raw(j.n), dir)
	})
	// The steps overlap: Condition is the stored copy's conditioning,
	// Dispatch the rest of the time until .new named the file, Store the
	// time after that until the stored copy was committed.
	j.rep.Timings.Condition = res.condTime
	j.rep.Timings.Dispatch = max(0, res.dispTime-res.condTime)
	j.rep.Timings.Store = time.Since(start) - j.rep.Timings.Condition - j.rep.Timings.Dispatch
	src, serr := j.recordStore(res.stored, err)
	if !res.tried {
		return serr
	}
	if serr != nil {
		src = source{sum: res.sum, size: res.size}
		if errors.Is(res.dispErr, ErrChecksum) {
			// Recorded as the store's failure already.
			res.dispErr = fmt.Errorf("%w (the copy was not kept)", res.dispErr)
		}
	}
	derr := j.recordDispatch(src, res.disp, res.dispErr, false)
	if serr != nil {
		if derr != nil && !errors.Is(derr, ErrPending) && !errors.Is(derr, ErrChecksum) {
			return errors.Join(serr, derr)
		}
		return serr
	}
	return derr
}

// recordStore records the outcome of conditioning and storing and returns
// the stored copy.
func (j *job) recordStore(res stored, err error) (source, error) {
	raw := j.d.opts.Raw(j.n)
	for _, p := range res.cleaned {
		j.action("removed stale temporary %s", p)
	}

	cond := j.event(ledger.StepCondition, ledger.StatusOK)
	if err != nil && !res.conditioned {
		cond.Status, cond.Reason = ledger.StatusFailed, err.Error()
		j.d.log.Warn("condition failed", "file", j.n.Base, "err", err)
		if lerr := j.record(cond); lerr != nil {
			return source{}, errors.Join(fmt.Errorf("%s: condition: %w", j.n.Base, err), lerr)
		}
		return source{}, fmt.Errorf("%s: condition: %w", j.n.Base, err)
	}
	cond.RawSize, cond.RawSHA256 = res.info.Size, res.info.SHA256
	cond.OutSize, cond.OutSHA256 = res.size, res.sum
	if res.info.UniqName != "" {
		cond.Extra = map[string]string{"uniqname": res.info.UniqName}
	}
	if lerr := j.record(cond); lerr != nil {
		return source{}, lerr
	}
	j.action("conditioned %s", raw)

	st := j.event(ledger.StepStore, ledger.StatusOK)
	st.OutSize, st.OutSHA256, st.Extra = res.size, res.sum, cond.Extra
	if err != nil {
		st.Status, st.Reason, st.Dest = ledger.StatusFailed, err.Error(), res.path
		j.d.log.Warn("store failed", "file", j.n.Base, "err", err)
		if lerr := j.record(st); lerr != nil {
			return source{}, errors.Join(fmt.Errorf("%s: store: %w", j.n.Base, err), lerr)
		}
		return source{}, fmt.Errorf("%s: store: %w", j.n.Base, err)
	}
	st.Dest, st.MTime = res.path, res.mtime
	if res.already {
		st.Status = ledger.StatusAlready
		j.action("stored copy already present: %s", res.path)
	} else {
		j.action("stored %s", res.path)
	}
	j.d.log.Info("stored", "file", j.n.Base, "path", res.path, "already", res.already)
	if lerr := j.record(st); lerr != nil {
		return source{}, lerr
	}
	crash("store/after-ledger")
	j.rep.Stored = res.path
	return source{path: res.path, sum: res.sum, size: res.size, uniq: res.info.UniqName}, nil
}

func (j *job) dispatch(ctx context.Context, src source) error {
	d := j.d
	j.rep.Stored = src.path
	start := time.Now()
	res, err := watch(ctx, d, d.opts.RepoDir, d.opts.Repo.Timeout, func(ctx context.Context, tick func()) (dispatched, error) {
		return j.copyToRepo(ctx, tick, src)
	})
	j.rep.Timings.Dispatch = time.Since(start)
	return j.recordDispatch(src, res, err, true)
}

// recordDispatch records the outcome of copying src to the repository. With
// distrust, a checksum mismatch marks the stored copy failed too: it no
// longer has the bytes the ledger recorded.
func (j *job) recordDispatch(src source, res dispatched, err error, distrust bool) error {
	d := j.d
	for _, p := range res.cleaned {
		j.action("removed stale temporary %s", p)
	}
	if err != nil {
		if distrust && errors.Is(err, ErrChecksum) {
			// The stored copy no longer matches the ledger; the next run
			// must condition again rather than trust it.
			st := j.event(ledger.StepStore, ledger.StatusFailed)
			st.Dest, st.Reason = src.path, err.Error()
			if lerr := j.record(st); lerr != nil {
				d.log.Warn("ledger", "err", lerr)
			}
		}
		return j.dispatchFailed(err)
	}
	ev := j.event(ledger.StepDispatch, ledger.StatusOK)
	ev.Dest, ev.MTime, ev.OutSize, ev.OutSHA256 = res.path, res.mtime, src.size, src.sum
	if res.already {
		ev.Status = ledger.StatusAlready
		j.action("dispatched copy already present: %s", res.path)
	} else {
		j.action("dispatched %s", res.path)
	}
	if res.keptNew != "" {
		j.action("kept %s at the newer %s", d.opts.LastFile(j.n), res.keptNew)
	} else {
		j.action("updated %s: %s", d.opts.LastFile(j.n), filepath.Base(res.path))
	}
	d.log.Info("dispatched", "file", j.n.Base, "path", res.path, "already", res.already)
	if err := j.record(ev); err != nil {
		return err
	}
	crash("dispatch/after-ledger")
	j.rep.Dispatched = res.path
	return nil
}

// dispatchFailed records a failed dispatch: pending if trying again later
// may work, failed if the content is wrong or there is nothing to copy.
func (j *job) dispatchFailed(err error) error {
	ev := j.event(ledger.StepDispatch, ledger.StatusPending)
	ev.Reason = err.Error()
	pending := !errors.Is(err, ErrChecksum) && !errors.Is(err, ErrCollision) && !errors.Is(err, errNoSource)
	if !pending {
		ev.Status = ledger.StatusFailed
	}
	err = fmt.Errorf("%s: dispatch: %w", j.n.Base, err)
	j.d.log.Warn("dispatch "+ev.Status, "file", j.n.Base, "err", err)
	lerr := j.record(ev)
	if pending {
		j.rep.Pending = true
		j.action("dispatch pending: %s", ev.Reason)
		err = pendingError{err}
	}
	if lerr != nil {
		return errors.Join(err, lerr)
	}
	return err
}

// pendingError keeps the message of the failure while answering errors.Is
// for ErrPending too.
type pendingError struct{ err error }

func (e pendingError) Error() string   { return e.err.Error() }
func (e pendingError) Unwrap() []error { return []error{ErrPending, e.err} }

// inDir reports whether path is directly in dir.
func inDir(path, dir string) bool {
	return filepath.Clean(filepath.Dir(path)) == filepath.Clean(dir)
}
