package sweep

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// LockName is the sweep lock's file name in the state directory.
const LockName = "sweep.lock"

// pollEvery is how often a waiting sweep tries the lock again. flock has no
// wait with a deadline, and a sweep takes seconds to minutes, so a quarter
// second costs nothing.
const pollEvery = 250 * time.Millisecond

// Lock keeps two sweeps, or a sweep and listen's reconciliation, from
// working at once. It is an flock on <stateDir>/sweep.lock, which must be on
// a local disk: flock over NFS is not reliable. The holder writes its pid
// into the file so that a process that finds it held can say who holds it.
// A Lock is for one goroutine at a time.
type Lock struct {
	fl *flock.Flock
}

// NewLock returns the sweep lock of stateDir, not yet taken.
func NewLock(stateDir string) *Lock {
	// 0644: the pid is for anyone who finds the lock held, root or not.
	return &Lock{fl: flock.New(filepath.Join(stateDir, LockName), flock.SetPermissions(0o644))}
}

// Path is the lock file.
func (l *Lock) Path() string { return l.fl.Path() }

// HeldError says the lock is held by another process (or another Lock in
// this one).
type HeldError struct {
	Path string
	PID  int // 0 if the holder has not written it (yet)
}

func (e *HeldError) Error() string {
	if e.PID == 0 {
		return fmt.Sprintf("another sweep holds the lock %s", e.Path)
	}
	return fmt.Sprintf("another sweep holds the lock %s (pid %d)", e.Path, e.PID)
}

// Acquire takes the lock. With wait 0 it tries once; otherwise it tries
// until it succeeds or wait has passed. If the lock stays held it returns a
// *HeldError; if ctx ends first, ctx's error. onWait, if not nil, is called
// once, with the holder's pid, before waiting.
func (l *Lock) Acquire(ctx context.Context, wait time.Duration, onWait func(pid int)) error {
	if err := os.MkdirAll(filepath.Dir(l.Path()), 0o755); err != nil {
		return fmt.Errorf("sweep lock: %w", err)
	}
	ok, err := l.fl.TryLock()
	if err == nil && !ok && wait > 0 {
		if onWait != nil {
			onWait(l.holder())
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		ok, err = l.fl.TryLockContext(wctx, pollEvery)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = nil
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("sweep lock %s: %w", l.Path(), err)
	}
	if !ok {
		return &HeldError{Path: l.Path(), PID: l.holder()}
	}
	// Written through a second descriptor, in place: replacing the file
	// (an atomic rename) would give it a new inode that nobody has locked.
	if err := os.WriteFile(l.Path(), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		l.fl.Unlock()
		return fmt.Errorf("sweep lock %s: %w", l.Path(), err)
	}
	return nil
}

// Release clears the pid and gives the lock up.
func (l *Lock) Release() error {
	if !l.fl.Locked() {
		return nil
	}
	terr := os.Truncate(l.Path(), 0)
	return errors.Join(terr, l.fl.Unlock())
}

// holder reads the holder's pid; 0 when there is none to read, for
// instance in the moment between its flock and its write.
func (l *Lock) holder() int {
	b, err := os.ReadFile(l.Path())
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
