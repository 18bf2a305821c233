package deliver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/obsdata/dataman/internal/frame"
	"github.com/obsdata/dataman/internal/judge"
	"github.com/obsdata/dataman/internal/ledger"
)

// job is one Ensure of one file.
type job struct {
	d     *Deliverer
	n     frame.Name
	lg    *ledger.Ledger
	how   Mode
	v     judge.Frame             // what the judge found before the job acted
	state map[string]ledger.Event // latest ledger event per step of the frame's generation
	rep   *Report
	// rawSHA is the raw content's SHA-256 once known: every event of the
	// job carries it, so that it belongs to this exposure's generation.
	rawSHA string
	// announced is when a datagram asked for the frame (zero: it did not).
	announced time.Time
	// damaged holds copies of ours found with the wrong bytes, reported once.
	damaged map[string]bool

	// mu guards what a watched goroutine may touch while the job goes on
	// without it (one abandoned after its timeout, still asking ownDamaged
	// whether a copy is ours): state, rawSHA, damaged, rep.Actions and
	// ended. The job's own goroutine writes them only under mu, once
	// goroutines run; it reads them without.
	mu sync.Mutex
	// ended is set when the job has returned its report: an abandoned
	// goroutine that wakes later adds nothing to it.
	ended bool
}

// setRawSHA sets rawSHA, which ownCopy reads from watched goroutines.
func (j *job) setRawSHA(sum string) {
	j.mu.Lock()
	j.rawSHA = sum
	j.mu.Unlock()
}

// end marks the job's report as handed over.
func (j *job) end() {
	j.mu.Lock()
	j.ended = true
	j.mu.Unlock()
}

// source is a stored copy with its known checksum: what dispatch copies.
type source struct {
	path string
	sum  string
	size int64
	uniq string
}

func (j *job) action(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.actionLocked(format, args...)
}

func (j *job) actionLocked(format string, args ...any) {
	if !j.ended {
		j.rep.Actions = append(j.rep.Actions, fmt.Sprintf(format, args...))
	}
}

// judge takes the judge's verdict: the generation the raw file is, and its
// events. A new exposure under a known name starts with none.
func (j *job) judge(ctx context.Context, v judge.Frame) {
	j.v = v
	j.state = maps.Clone(v.Steps)
	if j.state == nil {
		j.state = map[string]ledger.Event{}
	}
	j.rawSHA = v.Raw.SHA256
	if v.Gen >= 0 && v.Gen < len(v.History.Generations) && v.Identity != judge.NewExposure {
		j.rawSHA = cmp.Or(j.rawSHA, v.History.Generations[v.Gen].RawSHA256)
	}
}

func (j *job) run(ctx context.Context, kind Mode) error {
	v := j.v
	switch {
	case v.Raw.State == judge.RawRefused && kind != DispatchOnly:
		err := fmt.Errorf("%s: raw: %s: %w", j.n.Base, v.Raw.Why, ErrRefused)
		j.d.log.Debug("raw file refused", "file", j.n.Base, "err", err)
		return err
	case v.Identity == judge.NewExposure:
		j.action("new exposure under a known name: %s is not the raw file conditioned before", v.Raw.Path)
		j.d.log.Debug("new exposure under a known name", "file", j.n.Base, "raw", v.Raw.Path)
	case v.Identity == judge.RawRestamp:
		if err := j.recordIdentity(); err != nil {
			return err
		}
	}
	if kind != Archive {
		if err := j.dispatchEarlier(ctx); err != nil {
			return err
		}
	}
	stored, storeOK := j.judgedStore()
	if storeOK && v.Stored.State == judge.Restamped {
		if err := j.recordAgain(ledger.StepStore, v.Stored); err != nil {
			return err
		}
	}
	switch kind {
	case Archive:
		if storeOK {
			return j.already("already stored", stored, "")
		}
		if err := j.failedBefore(); err != nil {
			return err
		}
		_, err := j.store(ctx)
		return err
	case DispatchOnly:
		if !storeOK {
			if v.Identity == judge.NewExposure {
				return j.dispatchFailed(fmt.Errorf("%s is a new exposure, never stored: %w (archive it first)", v.Raw.Path, errNoSource))
			}
			var err error
			if stored, err = j.storedCopy(ctx); err != nil {
				return j.dispatchFailed(err)
			}
			return j.dispatch(ctx, stored)
		}
		return j.dispatchJudged(ctx, stored, "already dispatched")
	default:
		if !storeOK {
			if err := j.failedBefore(); err != nil {
				return err
			}
			return j.storeAndDispatch(ctx)
		}
		return j.dispatchJudged(ctx, stored, "already delivered")
	}
}

// judgedStore returns the stored copy the judge found sound.
func (j *job) judgedStore() (source, bool) {
	c := j.v.Stored
	if !c.State.Sound() || c.Event.OutSHA256 == "" {
		return source{}, false
	}
	return source{path: c.Path, sum: c.Event.OutSHA256, size: c.Event.OutSize, uniq: j.uniqName(c.Event)}, true
}

// dispatchJudged dispatches a sound stored copy, unless the judge found
// its dispatched copy intact, or taken by the archive and not asked for
// again.
func (j *job) dispatchJudged(ctx context.Context, stored source, what string) error {
	switch j.v.Newdata.State {
	case judge.Intact:
		return j.already(what, stored, j.v.Newdata.Path)
	case judge.Taken:
		if j.how&Redeliver == 0 {
			return j.already(what+"; the archive took the copy from "+j.d.opts.RepoDir, stored, "")
		}
		j.action("sending again the copy the archive took: %s", j.v.Newdata.Path)
	}
	return j.dispatch(ctx, stored)
}

// failedBefore refuses to condition again a raw file that failed and is
// not due again.
func (j *job) failedBefore() error {
	if !j.v.Failed || j.v.Need != judge.Wait {
		return nil
	}
	j.rep.Failed = true
	cond := j.v.Steps[ledger.StepCondition]
	when := "left until the raw file changes"
	if !j.v.RetryAt.IsZero() {
		when = "tried again after " + j.v.RetryAt.UTC().Format(time.RFC3339)
	}
	return failedBeforeError{fmt.Sprintf("%s: condition: %s (failed %d times; %s)", j.n.Base, cond.Reason, cond.Attempt, when)}
}

// failedBeforeError says why a raw file is not conditioned now, and is
// ErrFailedBefore.
type failedBeforeError struct{ msg string }

func (e failedBeforeError) Error() string        { return e.msg }
func (e failedBeforeError) Is(target error) bool { return target == ErrFailedBefore }

func (j *job) already(what string, stored source, dest string) error {
	j.rep.Already = true
	j.rep.Stored = stored.path
	j.rep.Dispatched = dest
	j.action("%s", what)
	j.d.log.Debug(what, "file", j.n.Base)
	return nil
}

// recordIdentity records that the raw file, under a new size or mtime,
// still has the content conditioned: the next look need not read it.
func (j *job) recordIdentity() error {
	ev := j.event(ledger.StepIdentify, ledger.StatusOK)
	ev.RawSize, ev.RawMTime = j.v.Raw.Size, j.v.Raw.MTime
	ev.Attempt = 0
	j.action("raw file %s has a new mtime but the content conditioned: recorded", j.v.Raw.Path)
	return j.record(ev)
}

// recordAgain records a copy whose content is as recorded under its new
// mtime, as the step's "already" event.
func (j *job) recordAgain(step string, c judge.Copy) error {
	ev := j.event(step, ledger.StatusAlready)
	ev.Dest, ev.MTime, ev.OutSize, ev.OutSHA256, ev.Extra = c.Path, c.Seen.MTime, c.Event.OutSize, c.Event.OutSHA256, c.Event.Extra
	ev.Attempt = 0
	j.action("%s copy %s has a new mtime but the recorded content: recorded", step, c.Path)
	return j.record(ev)
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
		File:      j.n.Base,
		Step:      step,
		Status:    status,
		RawSHA256: j.rawSHA,
		Version:   j.d.opts.Version,
		Config:    j.d.opts.ConfigHash,
		Time:      j.d.now(),
		Attempt:   1,
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
		return fmt.Errorf("%s: ledger: recording %s %s: %w", j.n.Base, ev.Step, ev.Status, err)
	}
	j.mu.Lock()
	j.state[ev.Step] = ev
	j.mu.Unlock()
	return nil
}

// store conditions the raw file into the store folder: conditionDeliver
// with nothing to dispatch.
func (j *job) store(ctx context.Context) (source, error) {
	d := j.d
	dir := d.opts.StoreDir(j.n)
	start := time.Now()
	res, err := watch(ctx, d, dir, d.opts.Proc.Timeout, func(sctx context.Context, tick func()) (fresh, error) {
		return j.conditionDeliver(ctx, sctx, tick, d.opts.Raw(j.n), dir, false)
	})
	j.rep.Timings.Condition = res.condTime
	j.rep.Timings.Store = time.Since(start) - res.condTime
	return j.recordStore(res.stored, err)
}

// storeAndDispatch delivers a file whose stored copy cannot be trusted, in
// one conditioning pass: see conditionDeliver for the order of the work.
// The ledger gets its lines in the usual order, condition, store, dispatch,
// once both copies are settled.
func (j *job) storeAndDispatch(ctx context.Context) error {
	d := j.d
	dir := d.opts.StoreDir(j.n)
	start := time.Now()
	res, err := watch(ctx, d, dir, d.opts.Proc.Timeout, func(sctx context.Context, tick func()) (fresh, error) {
		return j.conditionDeliver(ctx, sctx, tick, d.opts.Raw(j.n), dir, true)
	})
	// The steps overlap: Condition is the conditioning, into both copies,
	// Dispatch the rest of the time until .new named the file, Store the
	// time after that until the stored copy was committed.
	j.rep.Timings.Condition = res.condTime
	j.rep.Timings.Dispatch = max(0, res.dispTime-res.condTime)
	j.rep.Timings.Store = max(0, time.Since(start)-j.rep.Timings.Condition-j.rep.Timings.Dispatch)
	src, serr := j.recordStore(res.stored, err)
	if res.slow && serr == nil {
		// The /newdata copy held up the stored one for longer than its
		// timeout: it is made now, by copying the stored copy.
		j.d.log.Warn("repoDir slow: dispatching by copying the stored copy", "file", j.n.Base, "repo", d.opts.RepoDir)
		j.action("repoDir slow: the stored copy was made first, then copied")
		return j.dispatch(ctx, src)
	}
	if !res.tried || !res.conditioned {
		// Nothing was made to dispatch: a raw file that cannot be
		// conditioned is a failed conditioning, never a pending dispatch.
		return serr
	}
	if serr != nil {
		src = source{sum: res.sum, size: res.size}
	}
	derr := j.recordDispatch(src, res.disp, res.dispErr, false)
	if serr != nil {
		if derr != nil && !errors.Is(derr, ErrPending) {
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
	dir := j.d.opts.StoreDir(j.n)
	for _, p := range res.cleaned {
		j.action("removed stale temporary %s", p)
	}

	if err != nil && !res.conditioned && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		// Cut short by the caller (listen stopping): neither the raw file
		// nor the store is at fault, and the next run starts afresh.
		j.d.log.Debug("conditioning cut short", "file", j.n.Base, "err", err)
		return source{}, fmt.Errorf("%s: condition: %w", j.n.Base, err)
	}
	cond := j.event(ledger.StepCondition, ledger.StatusOK)
	cond.RawSize, cond.RawMTime = j.v.Raw.Size, j.v.Raw.MTime
	var se storeError
	if err != nil && !res.conditioned && (errors.As(err, &se) || errors.Is(err, ErrTimeout)) {
		// The store failed under the conditioning (full, read-only), or
		// the store folder or the raw file's stalled: the raw file is not
		// at fault and is not counted as failed.
		st := j.event(ledger.StepStore, ledger.StatusFailed)
		st.Reason, st.Dest = err.Error(), dir
		j.d.log.Debug("store failed", "file", j.n.Base, "err", err)
		if lerr := j.record(st); lerr != nil {
			return source{}, errors.Join(fmt.Errorf("%s: store: %w", j.n.Base, err), lerr)
		}
		return source{}, fmt.Errorf("%s: store: %w", j.n.Base, err)
	}
	if err != nil && !res.conditioned {
		cond.Status, cond.Reason = ledger.StatusFailed, err.Error()
		cond.RawSHA256 = j.rawIdentity(raw)
		j.rep.Failed = true
		j.d.log.Debug("condition failed", "file", j.n.Base, "err", err)
		if lerr := j.record(cond); lerr != nil {
			return source{}, errors.Join(fmt.Errorf("%s: condition: %w", j.n.Base, err), lerr)
		}
		return source{}, fmt.Errorf("%s: condition: %w", j.n.Base, err)
	}
	cond.RawSize, cond.RawSHA256 = res.info.Size, res.info.SHA256
	j.setRawSHA(cmp.Or(res.info.SHA256, j.rawSHA))
	cond.OutSize, cond.OutSHA256 = res.size, res.sum
	if res.info.UniqName != "" {
		cond.Extra = map[string]string{"uniqname": res.info.UniqName}
	}
	if lerr := j.record(cond); lerr != nil {
		return source{}, lerr
	}
	j.action("conditioned %s", raw)

	st := j.event(ledger.StepStore, ledger.StatusOK)
	st.RawSHA256 = j.rawSHA
	st.OutSize, st.OutSHA256, st.Extra = res.size, res.sum, cond.Extra
	if err != nil {
		st.Status, st.Reason, st.Dest = ledger.StatusFailed, err.Error(), res.path
		j.d.log.Debug("store failed", "file", j.n.Base, "err", err)
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
	j.d.log.Debug("stored", "file", j.n.Base, "path", res.path, "already", res.already)
	if lerr := j.record(st); lerr != nil {
		return source{}, lerr
	}
	crash("store/after-ledger")
	j.rep.Stored = res.path
	j.rep.draw = res.info.Preview
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
	d.log.Debug("dispatched", "file", j.n.Base, "path", res.path, "already", res.already)
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
	j.d.log.Debug("dispatch "+ev.Status, "file", j.n.Base, "err", err)
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

// rawIdentity is the SHA-256 of a raw file that failed to condition, so
// that its failure belongs to this exposure and a new one under the same
// name is tried afresh. "" if it cannot be read either.
func (j *job) rawIdentity(raw string) string {
	if j.rawSHA != "" {
		return j.rawSHA
	}
	h, err := watch(context.Background(), j.d, filepath.Dir(raw), j.d.opts.Proc.Timeout, func(ctx context.Context, tick func()) (digest, error) {
		return hashPath(ctx, raw, tick)
	})
	if err != nil {
		return ""
	}
	j.setRawSHA(h.sum)
	return h.sum
}

// dispatchEarlier dispatches the stored copies of earlier exposures of
// this name that never reached repoDir (only archived, or their dispatch
// pending when azcam reused the number): every exposure of the night is a
// frame to deliver, not only the latest. Each is dispatched as its own
// generation, as a backfill. A dispatch that fails is pending, under that
// generation, and the error is returned so that it is retried.
func (j *job) dispatchEarlier(ctx context.Context) error {
	var errs []error
	for i, g := range j.v.History.Generations {
		if i == j.v.Gen && j.v.Identity != judge.NewExposure {
			continue
		}
		st, dp := g.Steps[ledger.StepStore], g.Steps[ledger.StepDispatch]
		if !st.Done() || st.OutSHA256 == "" || dp.Done() || !inDir(st.Dest, j.d.opts.StoreDir(j.n)) {
			continue
		}
		if !j.intact(ctx, st) {
			continue // verify says what happened to it
		}
		sub := &job{d: j.d, n: j.n, lg: j.lg, how: DispatchOnly, rep: &Report{File: j.n.Base},
			state: maps.Clone(g.Steps), rawSHA: g.RawSHA256, damaged: map[string]bool{}}
		err := sub.dispatch(ctx, source{path: st.Dest, sum: st.OutSHA256, size: st.OutSize, uniq: sub.uniqName(st)})
		sub.end()
		for _, a := range sub.rep.Actions {
			j.action("earlier exposure (raw sha256 %.12s…): %s", g.RawSHA256, a)
		}
		if err != nil {
			j.rep.Pending = j.rep.Pending || sub.rep.Pending
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// intact asks the judge whether the stored copy ev recorded is intact, as
// its size and mtime say, under the store's stall timeout.
func (j *job) intact(ctx context.Context, ev ledger.Event) bool {
	seen, err := watch(ctx, j.d, filepath.Dir(ev.Dest), j.d.opts.Proc.Timeout, func(context.Context, func()) (judge.Seen, error) {
		fi, err := os.Stat(ev.Dest)
		if err != nil {
			return judge.Seen{}, err
		}
		return judge.Seen{Exists: true, Regular: fi.Mode().IsRegular(), Size: fi.Size(), MTime: fi.ModTime().UnixNano()}, nil
	})
	return err == nil && judge.JudgeCopy(ev, seen, "stored").State == judge.Intact
}
