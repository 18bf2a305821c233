package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// StaleAge is the age after which a temporary is removed even if a process
// with its pid is alive: pids are reused, and no write of ours takes an hour.
const StaleAge = time.Hour

// linkUnlink is the portable no-replace rename. If the unlink fails the file
// is still committed; the leftover temporary is CleanStale's to remove.
func linkUnlink(oldpath, newpath string) error {
	if err := os.Link(oldpath, newpath); err != nil {
		return err
	}
	os.Remove(oldpath)
	return nil
}

// CleanStale removes the temporaries in dir left by writers that crashed: those
// whose pid, on this host, is no longer running, and any older than StaleAge.
// It returns the paths it removed. A temporary from another host is judged by
// age only.
func CleanStale(dir string) ([]string, error) {
	return cleanStale(dir, time.Now())
}

func cleanStale(dir string, now time.Time) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		pid, host, ok := parseTemp(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // committed or removed by its writer meanwhile
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		old := now.Sub(info.ModTime()) > StaleAge
		dead := host == hostTag() && !alive(pid)
		if !old && !dead {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if err := os.Remove(path); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		removed = append(removed, path)
	}
	return removed, errors.Join(errs...)
}

// alive reports whether a process with this pid exists. EPERM means it exists
// but belongs to someone else.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
