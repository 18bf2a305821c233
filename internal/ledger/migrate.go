package ledger

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// migrate moves a single-file ledger of an earlier version into night
// files, under the flock, so that two processes starting at once migrate it
// once. The old file is kept, renamed to <CHAN>.ledger.migrated, as the
// full history; a night file that already exists (a migration cut short)
// keeps its own lines after the migrated ones. Each night is compacted on
// the way.
func (l *Ledger) migrate() error {
	legacy := Path(l.stateDir, l.channel)
	if _, err := os.Stat(legacy); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	err := l.withLock(func() error {
		if _, err := os.Stat(legacy); errors.Is(err, fs.ErrNotExist) {
			return nil // another process did it meanwhile
		}
		w := &spill{dir: l.dir, open: map[string]*spillFile{}}
		defer w.remove()
		problems, err := scan(legacy, func(line string, ev Event) {
			if w.err == nil {
				w.add(NightOf(ev.File), line)
			}
		})
		if err == nil {
			err = w.close()
		}
		if err != nil {
			return err
		}
		l.problems = append(l.problems, problems...)
		for _, night := range slices.Sorted(func(yield func(string) bool) {
			for n := range w.nights {
				if !yield(n) {
					return
				}
			}
		}) {
			if err := l.mergeNight(night, w.path(night)); err != nil {
				return err
			}
		}
		// The night files were written without an fsync each: one syncfs
		// makes them all durable before the old file is renamed away.
		if err := syncFS(l.dir); err != nil {
			return err
		}
		if err := os.Rename(legacy, legacy+".migrated"); err != nil {
			return err
		}
		return syncDir(filepath.Dir(legacy))
	})
	if err != nil {
		return fmt.Errorf("ledger: migrating %s: %w", legacy, err)
	}
	return nil
}

// mergeNight writes night's file: the migrated events in spilled, then
// those already in the night file, compacted.
func (l *Ledger) mergeNight(night, spilled string) error {
	events, _, err := Read(spilled)
	if err != nil {
		return err
	}
	path := NightPath(l.stateDir, l.channel, night)
	more, _, err := Read(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var b strings.Builder
	var last time.Time
	for _, ev := range Compacted(append(events, more...)) {
		b.WriteString(Format(ev) + "\n")
		if ev.Time.After(last) {
			last = ev.Time
		}
	}
	// Written whole under a temporary name and renamed: a reader sees the
	// old night or the new one. migrate syncs them all at once.
	tmp := filepath.Join(filepath.Dir(path), "."+night+".merged")
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	// The file's time is its last event's, as if it had been written all
	// along: NightsSince, which finds the nights still at work, must not
	// take a migrated night of years ago for one of today.
	if !last.IsZero() {
		return os.Chtimes(path, last, last)
	}
	return nil
}

// spill sorts a stream of lines into one temporary file per night, keeping
// at most maxOpen files open: a ledger of years has a thousand nights.
type spill struct {
	dir    string
	open   map[string]*spillFile
	nights map[string]bool
	tick   int
	err    error
}

type spillFile struct {
	f    *os.File
	w    *bufio.Writer
	used int
}

const maxOpen = 64

func (s *spill) path(night string) string {
	return filepath.Join(s.dir, "."+night+".migrating")
}

func (s *spill) add(night, line string) {
	if s.nights == nil {
		s.nights = map[string]bool{}
	}
	sf := s.open[night]
	if sf == nil {
		if len(s.open) >= maxOpen {
			s.evict()
		}
		flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
		if !s.nights[night] {
			flags |= os.O_TRUNC
		}
		f, err := os.OpenFile(s.path(night), flags, 0o644)
		if err != nil {
			s.err = err
			return
		}
		sf = &spillFile{f: f, w: bufio.NewWriterSize(f, 1<<14)}
		s.open[night] = sf
		s.nights[night] = true
	}
	s.tick++
	sf.used = s.tick
	if _, err := sf.w.WriteString(line + "\n"); err != nil {
		s.err = err
	}
}

// evict closes the least recently used file.
func (s *spill) evict() {
	oldest := ""
	for n, sf := range s.open {
		if oldest == "" || sf.used < s.open[oldest].used {
			oldest = n
		}
	}
	if err := s.closeOne(oldest); err != nil && s.err == nil {
		s.err = err
	}
}

func (s *spill) closeOne(night string) error {
	sf := s.open[night]
	delete(s.open, night)
	return errors.Join(sf.w.Flush(), sf.f.Close())
}

func (s *spill) close() error {
	for n := range s.open {
		if err := s.closeOne(n); err != nil && s.err == nil {
			s.err = err
		}
	}
	return s.err
}

// remove closes and deletes the temporary files.
func (s *spill) remove() {
	s.close()
	for n := range s.nights {
		os.Remove(s.path(n))
	}
}

// syncFS flushes the file system holding dir: every file written there.
func syncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return err
	}
	return d.Sync()
}

// MigrateAll migrates every single-file ledger under stateDir, so that a
// writer that reads many nights (a sweep, listen) never loads one whole.
func MigrateAll(stateDir string) error {
	paths, err := filepath.Glob(filepath.Join(stateDir, "ledger", "*.ledger"))
	if err != nil {
		return err
	}
	for _, p := range paths {
		ch := strings.TrimSuffix(filepath.Base(p), ".ledger")
		if checkChannel(ch) != nil {
			continue
		}
		l, err := Open(stateDir, ch)
		if err != nil {
			return err
		}
		l.Close()
	}
	return nil
}
