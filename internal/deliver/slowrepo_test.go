package deliver

import (
	"context"
	"errors"
	"github.com/obsdata/dataman/internal/ledger"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A /newdata that is slow but alive (40 ms a piece, a 500 ms timeout):
// once the stream drops the dispatch side, the side writes none of the
// pieces still queued to it, repoDir never counts as stuck, and the copy
// of the stored file that follows is not refused as "still blocked".
func TestDroppedSideStopsAtOnce(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Repo.Timeout = 500 * time.Millisecond // under -race the process alone can pause 0.2 s
		o.Proc.Timeout = 2 * time.Second
	})
	base := e.raw(1, 20*chunk)
	var afterStuck atomic.Int32
	stuck, stop := watchStuck(e)
	e.d.fault = func(op, path string) error {
		if op == "write" && strings.HasPrefix(path, e.RepoDir) {
			if stuck() && e.d.watcher.IsStuck(e.RepoDir) {
				afterStuck.Add(1)
			}
			time.Sleep(40 * time.Millisecond)
		}
		return nil
	}
	rep, err := e.d.Ensure(context.Background(), base, Deliver)
	stop()
	e.d.watcher.BG.Wait()
	if afterStuck.Load() > 0 {
		t.Errorf("the dropped dispatch side began %d writes while repoDir counted as stuck", afterStuck.Load())
	}
	if !hasAction(rep, "repoDir slow") {
		t.Errorf("the dispatch side was never dropped: %q", rep.Actions)
	}
	if err != nil {
		t.Errorf("a slow but alive /newdata ends %v", err)
	}
}

// A /newdata that is only slow never counts as stuck: not while the
// stream drops the side, nor while the stored copy is then copied. Another
// frame delivered meanwhile (jobs > 1) is not made pending by it.
func TestSlowRepoLeavesOtherFramesAlone(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.Repo.Timeout = 500 * time.Millisecond
		o.Proc.Timeout = 2 * time.Second
	})
	slow := e.raw(1, 20*chunk)
	other := e.raw(2, 5000)
	var slowWrites atomic.Int32
	e.d.fault = func(op, path string) error {
		if op == "write" && strings.HasPrefix(path, e.RepoDir) && strings.Contains(path, slow) {
			slowWrites.Add(1)
			time.Sleep(15 * time.Millisecond)
		}
		return nil
	}
	stuck, stop := watchStuck(e)
	done := make(chan Report, 1)
	go func() {
		rep, err := e.d.Ensure(context.Background(), slow, Deliver)
		if err != nil {
			t.Errorf("slow frame: %v", err)
		}
		done <- rep
	}()
	deadline := time.Now().Add(10 * time.Second)
	for slowWrites.Load() < 20 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	rep, err := e.d.Ensure(context.Background(), other, Deliver)
	if err != nil {
		t.Errorf("a frame delivered beside the slow one: %v; actions %q", err, rep.Actions)
	}
	srep := <-done
	stop()
	e.d.watcher.BG.Wait()
	if !hasAction(srep, "repoDir slow") {
		t.Errorf("the slow frame's dispatch side was never dropped: %q", srep.Actions)
	}
	if stuck() {
		t.Error("repoDir counted as stuck although it was only slow")
	}
	if got := mustRead(t, e.repoPath(slow)); string(got) != string(e.want(slow)) {
		t.Errorf("the slow frame's /newdata copy differs (%d bytes)", len(got))
	}
	if ev := e.latest(slow, ledger.StepDispatch); ev.Status != ledger.StatusOK {
		t.Errorf("the slow frame's dispatch: %+v", ev)
	}
	e.checkDelivered(other) // the newer frame: .new names it
}

// A /newdata that is slow and then hangs is a stall, even once the
// stream's budget for waiting on it is partly spent: the dispatch is
// pending with the stall's message, and the report does not call it slow.
func TestSlowThenHungRepoIsAStall(t *testing.T) {
	const timeout = 300 * time.Millisecond
	e := newEnv(t, func(o *Options) {
		o.Repo.Timeout = timeout
		o.Proc.Timeout = 5 * time.Second
	})
	base := e.raw(1, 20*chunk)
	release := make(chan struct{})
	var writes atomic.Int32
	e.d.fault = func(op, path string) error {
		if op == "write" && strings.HasPrefix(path, e.RepoDir) {
			if writes.Add(1) == 14 {
				<-release
			}
			time.Sleep(10 * time.Millisecond)
		}
		return nil
	}
	start := time.Now()
	rep, err := e.d.Ensure(context.Background(), base, Deliver)
	took := time.Since(start)
	close(release)
	e.d.watcher.BG.Wait()
	if hasAction(rep, "repoDir slow") || !errors.Is(err, ErrPending) || !errors.Is(err, ErrTimeout) {
		t.Errorf("a hung /newdata: err %v, actions %q (the job took %v, timeout %v)", err, rep.Actions, took, timeout)
	}
}

// The budget also counts the wait at the end of the stream, for the
// dispatch side to write what is queued to it and sync: a slow /newdata
// never holds the stored copy much longer than delivery.repo.timeout in
// all without being dropped.
func TestFinishWaitIsBudgeted(t *testing.T) {
	const timeout = 500 * time.Millisecond
	e := newEnv(t, func(o *Options) {
		o.Repo.Timeout = timeout
		o.Proc.Timeout = 5 * time.Second
	})
	base := e.raw(1, 17*(64<<10+7))
	var firstStoreWrite, storeSync atomic.Int64
	e.d.fault = func(op, path string) error {
		switch {
		case op == "write" && strings.HasPrefix(path, e.ProcDir):
			firstStoreWrite.CompareAndSwap(0, time.Now().UnixNano())
		case op == "sync" && strings.HasPrefix(path, e.ProcDir):
			storeSync.CompareAndSwap(0, time.Now().UnixNano())
		case op == "write" && strings.HasPrefix(path, e.RepoDir):
			time.Sleep(40 * time.Millisecond)
		}
		return nil
	}
	rep, err := e.d.Ensure(context.Background(), base, Deliver)
	if err != nil {
		t.Fatal(err)
	}
	held := time.Duration(storeSync.Load() - firstStoreWrite.Load())
	if held > timeout+50*time.Millisecond && !hasAction(rep, "repoDir slow") {
		t.Errorf("the stored copy waited %v for /newdata, more than delivery.repo.timeout %v in all", held, timeout)
	}
}

// watchStuck polls, every millisecond until stop, whether the watcher
// counts repoDir as stuck; stuck reports whether it ever did.
func watchStuck(e *env) (stuck func() bool, stop func()) {
	var seen atomic.Bool
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-quit:
				return
			case <-time.After(time.Millisecond):
			}
			if e.d.watcher.IsStuck(e.RepoDir) {
				seen.Store(true)
			}
		}
	}()
	return seen.Load, func() { close(quit); wg.Wait() }
}
