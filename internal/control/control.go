package control

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
)

// The control files, in the state directory.
const (
	PidFile    = ".pid"
	StatusFile = ".status"
	LockFile   = "listen.lock"
)

// States a daemon reports in .status, after the CFHT daemons: IDLE while it
// waits and can be interrupted safely, RUNNING while it processes files.
const (
	Starting = "STARTING"
	Idle     = "IDLE"
	Running  = "RUNNING"
	Stopping = "STOPPING"
)

// RunningError says another instance holds the state directory.
type RunningError struct {
	Dir string
	Pid int // 0 if its .pid could not be read
}

func (e *RunningError) Error() string {
	if e.Pid == 0 {
		return fmt.Sprintf("another dataman listen is running on state directory %s (its %s is unreadable)", e.Dir, PidFile)
	}
	return fmt.Sprintf("another dataman listen (pid %d) is running on state directory %s", e.Pid, e.Dir)
}

// Files are the control files of the running process.
type Files struct {
	dir  string
	lock *flock.Flock
	mu   sync.Mutex
	now  func() time.Time
}

// Acquire takes the state directory dir for this process, creating it if
// needed, and writes .pid. It returns a *RunningError if another process
// holds it.
func Acquire(dir string) (*Files, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// 0644 so that a second instance run by another user can open the lock
	// and be told who holds it, rather than "permission denied".
	lock := flock.New(filepath.Join(dir, LockFile), flock.SetPermissions(0o644))
	ok, err := lock.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", lock.Path(), err)
	}
	if !ok {
		pid, _ := ReadPid(dir)
		return nil, &RunningError{Dir: dir, Pid: pid}
	}
	f := &Files{dir: dir, lock: lock, now: time.Now}
	if err := writeFile(filepath.Join(dir, PidFile), strconv.Itoa(os.Getpid())+"\n"); err != nil {
		lock.Unlock()
		return nil, err
	}
	return f, nil
}

// ReadPid returns the pid recorded in dir's .pid. Only meaningful while the
// lock is held: CFHT leaves its content undefined otherwise.
func ReadPid(dir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dir, PidFile))
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("%s: %q is not a pid", filepath.Join(dir, PidFile), b)
	}
	return pid, nil
}

// Status is what .status says.
type Status struct {
	State string // Starting, Idle, Running or Stopping
	Last  string // the last file finished, "" before the first
	Addr  string // where the daemon listens
	HTTP  string // where it serves /metrics and /healthz; "": nowhere
	Queue int    // requests waiting
	Busy  int    // files being processed
	// Latency is the last frame's time from its datagram to its <CHAN>.new
	// (0: none delivered since the start), for dataman status; written to
	// the microsecond.
	Latency time.Duration
}

// Format is the content of .status: the state word alone on the first line,
// so that `head -1 .status` answers the usual question, then key=value lines.
func (s Status) Format(pid int, now time.Time) string {
	var b strings.Builder
	b.WriteString(s.State + "\n")
	latency := ""
	if s.Latency > 0 {
		latency = s.Latency.Round(time.Microsecond).String()
	}
	fmt.Fprintf(&b, "last=%s\naddr=%s\nqueue=%d\nbusy=%d\nlatency=%s\npid=%d\nupdated=%s\n",
		s.Last, s.Addr, s.Queue, s.Busy, latency, pid, now.UTC().Format(time.RFC3339))
	if s.HTTP != "" {
		fmt.Fprintf(&b, "http=%s\n", s.HTTP)
	}
	return b.String()
}

// ParseStatus reads what Format wrote; unknown keys are kept for newer
// writers.
func ParseStatus(text string) (state string, fields map[string]string, err error) {
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) == 0 || lines[0] == "" || strings.Contains(lines[0], "=") {
		return "", nil, fmt.Errorf("%s: no state on the first line", StatusFile)
	}
	fields = map[string]string{}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return "", nil, fmt.Errorf("%s: %q is not key=value", StatusFile, l)
		}
		fields[k] = v
	}
	return lines[0], fields, nil
}

// SetStatus replaces .status. Readers see the old or the new content, never
// a mix.
func (f *Files) SetStatus(s Status) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lock == nil {
		return errors.New("control files already released")
	}
	return writeFile(filepath.Join(f.dir, StatusFile), s.Format(os.Getpid(), f.now()))
}

// Release removes .status and .pid, as a CFHT daemon does on a graceful
// exit, and lets another instance start. A process that dies without it
// leaves the files, and the next one overwrites them.
func (f *Files) Release() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lock == nil {
		return nil
	}
	var errs []error
	for _, name := range []string{StatusFile, PidFile} {
		if err := os.Remove(filepath.Join(f.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	// The lock file stays: removing it would let a third process lock a
	// new inode while a second still waits on the old one.
	errs = append(errs, f.lock.Unlock())
	f.lock = nil
	return errors.Join(errs...)
}

// writeFile replaces path by rename. No fsync: the files describe a running
// process and mean nothing after a power cut.
func writeFile(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
