package ledger

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/obsdata/dataman/internal/atomicfile"
	"golang.org/x/sys/unix"
)

// Ledger is the open ledger of one channel. Its methods are safe for
// concurrent use by goroutines. Other processes may append to the same file:
// each line is one O_APPEND write under an flock, and their lines are seen by
// the next Open. The state directory must be on a local disk.
type Ledger struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	index    map[string]map[string]Event
	problems []error
}

// Path is where the ledger of channel lives under stateDir.
func Path(stateDir, channel string) string {
	return filepath.Join(stateDir, "ledger", strings.ToUpper(channel)+".ledger")
}

// Open opens (creating if needed) the ledger of channel under stateDir and
// indexes what it holds.
func Open(stateDir, channel string) (*Ledger, error) {
	if channel == "" || !validKey(channel) || strings.ContainsAny(channel, "._-") {
		return nil, fmt.Errorf("ledger: %q is not a channel name", channel)
	}
	path := Path(stateDir, channel)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		// The new directory entry must survive a power cut along with the
		// first events.
		if err := syncDir(dir); err != nil {
			f.Close()
			return nil, fmt.Errorf("ledger: %w", err)
		}
	}
	l := &Ledger{path: path, f: f}
	if err := l.load(); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

// load cuts off a torn last line and builds the index from the file. The
// caller holds mu or owns l.
func (l *Ledger) load() error {
	torn, err := l.cutTorn()
	if err != nil {
		return fmt.Errorf("ledger: %s: %w", l.path, err)
	}
	events, problems, err := Read(l.path)
	if err != nil {
		return err
	}
	l.index = map[string]map[string]Event{}
	for _, ev := range events {
		l.add(ev)
	}
	if torn != "" {
		problems = append(problems, fmt.Errorf("%s: removed a line cut short by a crash: %q", l.path, torn))
	}
	l.problems = problems
	return nil
}

// cutTorn truncates the file after its last newline. A torn line is only
// ignored by Read while it is last; once another line followed it, the
// fragment would read as a complete line, and a fragment such as
// "status=o" or a cut checksum can parse as a valid event. The flock keeps
// it from cutting a line another process is appending.
func (l *Ledger) cutTorn() (string, error) {
	if err := unix.Flock(int(l.f.Fd()), unix.LOCK_EX); err != nil {
		return "", err
	}
	defer unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	fi, err := l.f.Stat()
	if err != nil {
		return "", err
	}
	size := fi.Size()
	end := size
	buf := make([]byte, 4096)
	for end > 0 {
		n := min(int64(len(buf)), end)
		if _, err := l.f.ReadAt(buf[:n], end-n); err != nil {
			return "", err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			end = end - n + int64(i) + 1
			break
		}
		end -= n
	}
	if end == size {
		return "", nil
	}
	torn := make([]byte, min(size-end, 200))
	l.f.ReadAt(torn, end)
	return string(torn), l.f.Truncate(end)
}

func (l *Ledger) add(ev Event) {
	steps := l.index[ev.File]
	if steps == nil {
		steps = map[string]Event{}
		l.index[ev.File] = steps
	}
	steps[ev.Step] = ev
}

// Path is the ledger's file.
func (l *Ledger) Path() string { return l.path }

// Problems lists the lines Open could not parse, with their line numbers.
func (l *Ledger) Problems() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.problems)
}

// Append writes ev as one line with a single write and fsyncs it. A zero Time
// is set to now.
func (l *Ledger) Append(ev Event) error {
	if err := check(ev); err != nil {
		return fmt.Errorf("ledger %s: %w", l.path, err)
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.Time = ev.Time.UTC()
	line := Format(ev) + "\n"

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return fmt.Errorf("ledger %s: %w", l.path, os.ErrClosed)
	}
	if err := l.write(line); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	l.add(ev)
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// write appends line with one write(2). A short write (ENOSPC) is cut back
// off, so that the file never holds half a line when the next one comes.
func (l *Ledger) write(line string) error {
	fd := int(l.f.Fd())
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		return err
	}
	defer unix.Flock(fd, unix.LOCK_UN)
	n, err := l.f.WriteString(line)
	if err != nil && n > 0 {
		if fi, serr := l.f.Stat(); serr == nil {
			l.f.Truncate(fi.Size() - int64(n))
		}
	}
	return err
}

func check(ev Event) error {
	switch {
	case ev.File == "":
		return errors.New("event without a file name")
	case ev.Step == "" || ev.Status == "":
		return fmt.Errorf("%s: event without step or status", ev.File)
	}
	for k := range ev.Extra {
		if !validKey(k) || slices.Contains(known, k) {
			return fmt.Errorf("%s: bad extra field %q", ev.File, k)
		}
	}
	return nil
}

// State returns the latest event of each step for file, keyed by step; nil if
// the ledger knows nothing of it.
func (l *Ledger) State(file string) map[string]Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	steps := l.index[file]
	if steps == nil {
		return nil
	}
	out := make(map[string]Event, len(steps))
	for k, ev := range steps {
		out[k] = ev
	}
	return out
}

// Files lists the files the ledger knows, sorted.
func (l *Ledger) Files() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	files := make([]string, 0, len(l.index))
	for f := range l.index {
		files = append(files, f)
	}
	slices.Sort(files)
	return files
}

// Compact rewrites the ledger atomically, keeping only the latest event of each
// file and step, in their original order; lines that cannot be parsed are
// dropped. It re-reads the file first, so lines appended by other processes
// since Open are kept, but a process that appends while Compact runs writes
// to the replaced file and loses its line: compact only under the sweep lock.
func (l *Ledger) Compact() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return fmt.Errorf("ledger %s: %w", l.path, os.ErrClosed)
	}
	events, _, err := Read(l.path)
	if err != nil {
		return err
	}
	type key struct{ file, step string }
	last := map[key]int{}
	for i, ev := range events {
		last[key{ev.File, ev.Step}] = i
	}
	var b strings.Builder
	for i, ev := range events {
		if last[key{ev.File, ev.Step}] == i {
			b.WriteString(Format(ev) + "\n")
		}
	}
	if err := atomicfile.WriteFile(l.path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("ledger: compact: %w", err)
	}
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	l.f.Close()
	l.f = f
	return l.load()
}

// Close closes the file. The ledger cannot be appended to afterwards.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Read parses the ledger at path. A torn last line is ignored; a complete line
// that does not parse is skipped and reported in the []error with its line
// number. The error is for failures to read the file at all.
func Read(path string) ([]Event, []error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var events []Event
	var problems []error
	for n := 1; ; n++ {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			return events, problems, nil // line, if any, is torn
		}
		if err != nil {
			return events, problems, fmt.Errorf("ledger: %s: %w", path, err)
		}
		line = strings.TrimSuffix(line, "\n")
		if strings.TrimSpace(line) == "" {
			continue
		}
		ev, err := Parse(line)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s:%d: %w", path, n, err))
			continue
		}
		events = append(events, ev)
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
