package ledger

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/obsdata/dataman/internal/atomicfile"
	"github.com/obsdata/dataman/internal/frame"
)

// Ledger is the ledger of one channel: a folder of night files,
// <stateDir>/ledger/<CHAN>/<CCYYMMDD>.ledger, each holding the events of the
// frames of one observing night. A night is read the first time it is asked
// about, so memory and start-up time follow the nights in use, not the
// years of history. What other processes append is seen at the next
// question about that night.
//
// Every write (append, compaction, migration) holds an flock on the
// channel folder's .lock, so a line is never written after a torn one nor
// into a night file another process has just replaced. The state directory
// must be on a local disk.
//
// Its methods are safe for concurrent use by goroutines.
type Ledger struct {
	mu       sync.Mutex
	stateDir string
	channel  string // upper case
	dir      string
	readOnly bool
	lock     *os.File // nil when read-only
	nights   map[string]*nightLog
	legacy   string // read-only view of a ledger not migrated yet: its file, read a night at a time
	problems []error
	closed   bool
}

// Generation is one exposure under a file name: the events of the file
// whose raw content had one SHA-256. A raw file replaced by another of the
// same name (a reused sequence number) starts a new generation, and the
// ledger keeps both.
type Generation struct {
	RawSHA256 string
	RawSize   int64
	RawMTime  int64            // Unix nanoseconds; 0 when no event recorded it
	Steps     map[string]Event // latest event per step
	// Copies is every path a done event of the generation recorded a copy
	// at, with the time of the latest: a copy stays this exposure's after a
	// later event of its step (a pending dispatch) stopped naming it.
	Copies map[string]time.Time
}

// Clone is a deep copy.
func (g Generation) Clone() Generation {
	g.Steps = maps.Clone(g.Steps)
	g.Copies = maps.Clone(g.Copies)
	return g
}

// history is the generations of one file, and which one is current: the
// one the latest event that named a raw checksum belongs to.
type history struct {
	gens []*Generation
	cur  int
}

// nightLog is one loaded night file.
type nightLog struct {
	path  string
	f     *os.File // for appends; nil until the first
	ino   uint64   // of the file indexed
	off   int64    // bytes indexed
	line  int      // lines read, for problem reports
	files map[string]*history
	lines int // event lines in the file
	keys  int // distinct (file, generation, step): what compaction keeps
}

// Path is the single-file ledger of dataman before 0.2,
// <stateDir>/ledger/<CHAN>.ledger. Open migrates it into night files and
// renames it to <CHAN>.ledger.migrated; until then read-only views read it.
func Path(stateDir, channel string) string {
	return filepath.Join(stateDir, "ledger", strings.ToUpper(channel)+".ledger")
}

// Dir is the folder of a channel's night files.
func Dir(stateDir, channel string) string {
	return filepath.Join(stateDir, "ledger", strings.ToUpper(channel))
}

// NightPath is the file of one night of a channel.
func NightPath(stateDir, channel, night string) string {
	return filepath.Join(Dir(stateDir, channel), night+".ledger")
}

// OtherNight holds the events of names that carry no observing date.
const OtherNight = "other"

// NightOf is the night file an event of file goes to: the observing date in
// its name.
func NightOf(file string) string {
	if n, err := frame.ParseName(file); err == nil {
		return n.ObsDate
	}
	return OtherNight
}

func checkChannel(channel string) error {
	if channel == "" || !validKey(channel) || strings.ContainsAny(channel, "._-") {
		return fmt.Errorf("ledger: %q is not a channel name", channel)
	}
	return nil
}

// Open opens the ledger of channel under stateDir for writing, creating its
// folder, and migrates a single-file ledger of an earlier version. It reads
// no night yet.
func Open(stateDir, channel string) (*Ledger, error) {
	if err := checkChannel(channel); err != nil {
		return nil, err
	}
	l := newLedger(stateDir, channel)
	if err := os.MkdirAll(l.dir, 0o755); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(l.dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	l.lock = lock
	if err := l.migrate(); err != nil {
		lock.Close()
		return nil, err
	}
	return l, nil
}

// OpenReadOnly opens the ledger of channel for reading: it creates, cuts,
// migrates and compacts nothing. A channel without a ledger is empty.
func OpenReadOnly(stateDir, channel string) (*Ledger, error) {
	if err := checkChannel(channel); err != nil {
		return nil, err
	}
	l := newLedger(stateDir, channel)
	l.readOnly = true
	if _, err := os.Stat(Path(stateDir, channel)); err == nil {
		l.legacy = Path(stateDir, channel)
	}
	return l, nil
}

func newLedger(stateDir, channel string) *Ledger {
	return &Ledger{stateDir: stateDir, channel: strings.ToUpper(channel), dir: Dir(stateDir, channel),
		nights: map[string]*nightLog{}}
}

// Path is the ledger's folder.
func (l *Ledger) Path() string { return l.dir }

// Problems lists the lines that could not be parsed, with their file and
// line numbers, and torn lines cut off, in the nights read so far.
func (l *Ledger) Problems() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.problems)
}

// withLock runs fn holding the channel's flock.
func (l *Ledger) withLock(fn func() error) error {
	fd := int(l.lock.Fd())
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		return err
	}
	defer unix.Flock(fd, unix.LOCK_UN)
	return fn()
}

// night returns the loaded night, reading what was appended to its file
// since the last look. The caller holds mu.
func (l *Ledger) night(night string) *nightLog {
	n := l.nights[night]
	if n == nil {
		n = &nightLog{path: filepath.Join(l.dir, night+".ledger")}
		l.nights[night] = n
		l.seedLegacy(n, night)
	}
	l.refresh(n)
	return n
}

// seedLegacy puts the not yet migrated events of night into n first,
// streaming the old file so that only this night is held.
func (l *Ledger) seedLegacy(n *nightLog, night string) {
	n.files = map[string]*history{}
	if l.legacy == "" {
		return
	}
	problems, err := scan(l.legacy, func(_ string, ev Event) {
		if NightOf(ev.File) == night {
			n.apply(ev)
		}
	})
	if err != nil {
		problems = append(problems, err)
	}
	l.problems = append(l.problems, problems...)
}

// refresh brings n up to date with its file: new complete lines are added;
// a file replaced by a compaction is read again whole.
func (l *Ledger) refresh(n *nightLog) {
	fi, err := os.Stat(n.path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			l.problems = append(l.problems, fmt.Errorf("%s: %w", n.path, err))
		}
		return
	}
	ino := inode(fi)
	if ino != n.ino || fi.Size() < n.off {
		if n.ino != 0 || n.off != 0 {
			l.seedLegacy(n, strings.TrimSuffix(filepath.Base(n.path), ".ledger"))
		}
		n.ino, n.off, n.line, n.lines, n.keys = ino, 0, 0, 0, 0
		if n.files == nil {
			n.files = map[string]*history{}
		}
	}
	if fi.Size() == n.off {
		return
	}
	f, err := os.Open(n.path)
	if err != nil {
		l.problems = append(l.problems, fmt.Errorf("%s: %w", n.path, err))
		return
	}
	defer f.Close()
	r := bufio.NewReader(io.NewSectionReader(f, n.off, fi.Size()-n.off))
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return // EOF: what is left is a line still being written, or torn
		}
		n.off += int64(len(line))
		n.line++
		text := strings.TrimSuffix(line, "\n")
		if strings.TrimSpace(text) == "" {
			continue
		}
		ev, perr := Parse(text)
		if perr != nil {
			l.problems = append(l.problems, fmt.Errorf("%s:%d: %w", n.path, n.line, perr))
			continue
		}
		n.lines++
		n.apply(ev)
	}
}

func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// apply adds ev to the index, in its generation.
func (n *nightLog) apply(ev Event) {
	h := n.files[ev.File]
	if h == nil {
		h = &history{}
		n.files[ev.File] = h
	}
	g := h.generation(ev.RawSHA256)
	if ev.RawSize != 0 {
		g.RawSize = ev.RawSize
	}
	if ev.RawMTime != 0 {
		g.RawMTime = ev.RawMTime
	}
	if _, ok := g.Steps[ev.Step]; !ok {
		n.keys++
	}
	g.Steps[ev.Step] = ev
	if ev.Done() && ev.Dest != "" {
		if g.Copies == nil {
			g.Copies = map[string]time.Time{}
		}
		if t, ok := g.Copies[ev.Dest]; !ok || ev.Time.After(t) {
			g.Copies[ev.Dest] = ev.Time
		}
	}
}

// generation finds the generation of an event naming raw checksum sum ("":
// the current one) and makes it current.
func (h *history) generation(sum string) *Generation {
	if sum != "" {
		for i, g := range h.gens {
			if g.RawSHA256 == sum {
				h.cur = i
				return g
			}
		}
		// A generation that never learnt its checksum (older events)
		// takes the first one it is given.
		if len(h.gens) > 0 && h.gens[h.cur].RawSHA256 == "" {
			h.gens[h.cur].RawSHA256 = sum
			return h.gens[h.cur]
		}
	} else if len(h.gens) > 0 {
		return h.gens[h.cur]
	}
	h.gens = append(h.gens, &Generation{RawSHA256: sum, Steps: map[string]Event{}})
	h.cur = len(h.gens) - 1
	return h.gens[h.cur]
}

// Append writes ev to its night's file as one line, fsynced. A zero Time is
// set to now. A line torn by a crashed writer is cut off first, so the new
// event is never glued to it.
func (l *Ledger) Append(ev Event) error {
	if err := check(ev); err != nil {
		return fmt.Errorf("ledger %s: %w", l.dir, err)
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.Time = ev.Time.UTC()
	line := Format(ev) + "\n"

	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.readOnly {
		return fmt.Errorf("ledger %s: %w", l.dir, os.ErrClosed)
	}
	n := l.night(NightOf(ev.File))
	err := l.withLock(func() error {
		if err := l.openForAppend(n); err != nil {
			return err
		}
		if err := l.cutTorn(n); err != nil {
			return err
		}
		if err := write(n.f, line); err != nil {
			return err
		}
		if err := n.f.Sync(); err != nil {
			return err
		}
		l.refresh(n)
		if n.lines > 2*n.keys+compactSlack {
			if err := l.compact(n); err != nil {
				l.problems = append(l.problems, fmt.Errorf("%s: compaction: %w", n.path, err))
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ledger: %s: %w", n.path, err)
	}
	return nil
}

// compactSlack is how many superseded lines a night file may carry before
// it is compacted: a busy night writes about 800 lines per channel.
const compactSlack = 256

// openForAppend (re)opens n's file when it is not open or was replaced by
// another process's compaction. The caller holds the flock.
func (l *Ledger) openForAppend(n *nightLog) error {
	fi, err := os.Stat(n.path)
	if n.f != nil && err == nil {
		if cur, ferr := n.f.Stat(); ferr == nil && inode(cur) == inode(fi) {
			return nil
		}
	}
	if n.f != nil {
		n.f.Close()
		n.f = nil
	}
	created := errors.Is(err, fs.ErrNotExist)
	f, err := os.OpenFile(n.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if created {
		// The new directory entry must survive a power cut along with
		// the first events.
		if err := syncDir(l.dir); err != nil {
			f.Close()
			return err
		}
	}
	n.f = f
	return nil
}

// cutTorn truncates n's file after its last newline. Every writer holds
// the flock while it writes, so a line without its newline was left by one
// that died.
func (l *Ledger) cutTorn(n *nightLog) error {
	fi, err := n.f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if size == 0 {
		return nil
	}
	last := make([]byte, 1)
	if _, err := n.f.ReadAt(last, size-1); err != nil {
		return err
	}
	if last[0] == '\n' {
		return nil
	}
	end := size
	buf := make([]byte, 4096)
	for end > 0 {
		k := min(int64(len(buf)), end)
		if _, err := n.f.ReadAt(buf[:k], end-k); err != nil {
			return err
		}
		if i := lastNewline(buf[:k]); i >= 0 {
			end = end - k + int64(i) + 1
			break
		}
		end -= k
	}
	torn := make([]byte, min(size-end, 200))
	n.f.ReadAt(torn, end)
	l.problems = append(l.problems, fmt.Errorf("%s: removed a line cut short by a crash: %q", n.path, torn))
	return n.f.Truncate(end)
}

func lastNewline(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			return i
		}
	}
	return -1
}

// write appends line with one write(2). A short write (ENOSPC) is cut back
// off, so that the file never holds half a line when the next one comes.
func write(f *os.File, line string) error {
	k, err := f.WriteString(line)
	if err != nil && k > 0 {
		if fi, serr := f.Stat(); serr == nil {
			f.Truncate(fi.Size() - int64(k))
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

// State returns the latest event of each step of file's current generation,
// keyed by step; nil if the ledger knows nothing of it.
func (l *Ledger) State(file string) map[string]Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.night(NightOf(file)).files[file]
	if h == nil || len(h.gens) == 0 {
		return nil
	}
	return maps.Clone(h.gens[h.cur].Steps)
}

// Generations returns file's generations, oldest first, and the index of
// the current one (-1 if there is none).
func (l *Ledger) Generations(file string) ([]Generation, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.night(NightOf(file)).files[file]
	if h == nil {
		return nil, -1
	}
	return h.clone(), h.cur
}

func (h *history) clone() []Generation {
	out := make([]Generation, len(h.gens))
	for i, g := range h.gens {
		out[i] = g.Clone()
	}
	return out
}

// FileHistory is what the ledger holds of one file.
type FileHistory struct {
	Generations []Generation
	Current     int
}

// Night returns every file of night with its generations.
func (l *Ledger) Night(night string) map[string]FileHistory {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.night(night)
	out := make(map[string]FileHistory, len(n.files))
	for f, h := range n.files {
		out[f] = FileHistory{Generations: h.clone(), Current: h.cur}
	}
	return out
}

// Files lists the files of night the ledger knows, sorted.
func (l *Ledger) Files(night string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.night(night)
	files := make([]string, 0, len(n.files))
	for f := range n.files {
		files = append(files, f)
	}
	slices.Sort(files)
	return files
}

// Nights lists the nights the ledger has events of, sorted.
func (l *Ledger) Nights() ([]string, error) {
	return l.NightsSince(time.Time{})
}

// NightsSince lists the nights whose file changed at or after t, sorted.
func (l *Ledger) NightsSince(t time.Time) ([]string, error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	set := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, ".ledger") || strings.HasPrefix(name, ".") {
			continue
		}
		if !t.IsZero() {
			fi, err := e.Info()
			if err != nil || fi.ModTime().Before(t) {
				continue
			}
		}
		set[strings.TrimSuffix(name, ".ledger")] = true
	}
	if l.legacy != "" {
		scan(l.legacy, func(_ string, ev Event) {
			if t.IsZero() || !ev.Time.Before(t) {
				set[NightOf(ev.File)] = true
			}
		})
	}
	nights := make([]string, 0, len(set))
	for n := range set {
		nights = append(nights, n)
	}
	slices.Sort(nights)
	return nights, nil
}

// Compact rewrites night's file atomically, keeping the latest event of
// each step of each generation of each file, in their original order;
// lines that cannot be parsed are dropped. Append does this by itself once
// a night carries more superseded lines than kept ones. Other processes
// notice the new file at their next append or look.
func (l *Ledger) Compact(night string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.readOnly {
		return fmt.Errorf("ledger %s: %w", l.dir, os.ErrClosed)
	}
	n := l.night(night)
	return l.withLock(func() error { return l.compact(n) })
}

// compact rewrites n's file; the caller holds mu and the flock.
func (l *Ledger) compact(n *nightLog) error {
	events, _, err := Read(n.path)
	if err != nil {
		return err
	}
	kept := Compacted(events)
	var b strings.Builder
	for _, ev := range kept {
		b.WriteString(Format(ev) + "\n")
	}
	if err := atomicfile.WriteFile(n.path, []byte(b.String()), 0o644); err != nil {
		return err
	}
	if n.f != nil {
		n.f.Close()
		n.f = nil
	}
	n.ino, n.off = 0, 0
	n.files = nil
	l.seedLegacy(n, strings.TrimSuffix(filepath.Base(n.path), ".ledger"))
	l.refresh(n)
	return nil
}

// Compacted keeps, of events in order, the latest of each step of each
// generation of each file, and the done event with the latest time naming
// each copy (which keeps Generation.Copies), in their order, each carrying its
// generation's raw checksum so that it still belongs to it once the events
// between are gone.
func Compacted(events []Event) []Event {
	type key struct {
		file string
		gen  *Generation
		step string
		dest string
	}
	hist := map[string]*history{}
	keys := make([]key, len(events))
	gens := make([]*Generation, len(events))
	for i, ev := range events {
		h := hist[ev.File]
		if h == nil {
			h = &history{}
			hist[ev.File] = h
		}
		g := h.generation(ev.RawSHA256)
		gens[i] = g
		keys[i] = key{ev.File, g, ev.Step, ""}
	}
	last := map[key]int{}
	for i, ev := range events {
		last[keys[i]] = i
		if ev.Done() && ev.Dest != "" {
			// The copy's latest by time, as apply keeps it: two processes
			// may append their lines out of time order.
			k := key{ev.File, gens[i], "", ev.Dest}
			if j, ok := last[k]; !ok || !ev.Time.Before(events[j].Time) {
				last[k] = i
			}
		}
	}
	var out []Event
	for i, ev := range events {
		if last[keys[i]] != i && !(ev.Done() && ev.Dest != "" && last[key{ev.File, gens[i], "", ev.Dest}] == i) {
			continue
		}
		if ev.RawSHA256 == "" {
			ev.RawSHA256 = gens[i].RawSHA256
		}
		out = append(out, ev)
	}
	return out
}

// Close closes the files. The ledger cannot be appended to afterwards.
func (l *Ledger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var errs []error
	for _, n := range l.nights {
		if n.f != nil {
			errs = append(errs, n.f.Close())
		}
	}
	if l.lock != nil {
		errs = append(errs, l.lock.Close())
	}
	return errors.Join(errs...)
}

// Read parses the ledger file at path. A torn last line is ignored; a
// complete line that does not parse is skipped and reported in the []error
// with its line number. The error is for failures to read the file at all.
func Read(path string) ([]Event, []error, error) {
	var events []Event
	problems, err := scan(path, func(_ string, ev Event) { events = append(events, ev) })
	return events, problems, err
}

// scan calls fn with each event of the file at path, in order, and its
// line as written (without the newline).
func scan(path string, fn func(line string, ev Event)) ([]error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	var problems []error
	for n := 1; ; n++ {
		line, err := r.ReadString('\n')
		if err == io.EOF {
			return problems, nil // line, if any, is torn
		}
		if err != nil {
			return problems, fmt.Errorf("ledger: %s: %w", path, err)
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
		fn(line, ev)
	}
}

// ReadChannel reads every event of a channel, night files in night order
// after any not yet migrated single-file ledger. It is for tools and tests
// that want the whole history; the delivery path never needs it.
func ReadChannel(stateDir, channel string) ([]Event, []error, error) {
	events, problems, err := Read(Path(stateDir, channel))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	l := newLedger(stateDir, channel)
	nights, err := l.Nights()
	if err != nil {
		return nil, nil, err
	}
	for _, night := range nights {
		ev, p, err := Read(NightPath(stateDir, channel, night))
		if err != nil {
			return nil, nil, err
		}
		events, problems = append(events, ev...), append(problems, p...)
	}
	return events, problems, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Index groups events, in order, into each file's generations, as a
// ledger does when it reads them.
func Index(events []Event) map[string]FileHistory {
	n := &nightLog{files: map[string]*history{}}
	for _, ev := range events {
		n.apply(ev)
	}
	out := make(map[string]FileHistory, len(n.files))
	for f, h := range n.files {
		out[f] = FileHistory{Generations: h.clone(), Current: h.cur}
	}
	return out
}
