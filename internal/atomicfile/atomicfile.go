package atomicfile

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

const tempSuffix = ".dmtmp"

// File is a temporary file that becomes dir/name on Commit. The embedded
// *os.File is the temporary: Write, WriteAt, Seek and ReadAt work on it, and
// its Name is the temporary's path.
type File struct {
	*os.File
	dir    string
	name   string
	closed bool // synced and closed, waiting for a rename
	done   bool // committed or removed

	written, kicked int64 // bytes written by Write; bytes whose writeback was started
	lazy            bool  // no writeback until Commit: see DeferWriteback
	drop            bool  // out of the page cache once synced: see DropCache
}

// Create opens a new temporary file in dir for a file that will be named name;
// nothing is visible under name until Commit.
//
// The temporary is named .<name>.<pid>.<tag>.dmtmp. The leading dot hides it
// from watchers that glob *.fits; the pid lets CleanStale tell a live writer
// from a crashed one; tag is 8 hex digits of a hash of the host name and 8
// random ones, because a directory such as /newdata is shared between hosts
// and a pid only means something on the host that wrote it.
//
// perm is applied exactly, whatever the umask, because the files are written
// for other users (the archive, observers) to read.
func Create(dir, name string, perm os.FileMode) (*File, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	for range 100 {
		f, err := os.OpenFile(filepath.Join(dir, tempName(name)), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := f.Chmod(perm); err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, err
		}
		return &File{File: f, dir: dir, name: name}, nil
	}
	return nil, fmt.Errorf("create temporary file for %s: %w", filepath.Join(dir, name), fs.ErrExist)
}

// Target is the path the file gets on Commit.
func (f *File) Target() string { return filepath.Join(f.dir, f.name) }

// Retarget changes the name the file gets on Commit, in the same directory: a
// collision policy can only choose the name once the content is known.
func (f *File) Retarget(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	f.name = name
	return nil
}

// Commit makes the file visible under its name, replacing any file there: it
// fsyncs and closes the temporary, renames it, and fsyncs the directory so the
// rename survives a power cut. On any error before the rename the temporary is
// removed.
func (f *File) Commit() error {
	return f.commit(os.Rename, false)
}

// CommitNoReplace is Commit, except that it fails with an error wrapping
// fs.ErrExist if the name is taken. In that case, and only that one, the
// temporary is kept, so the caller can Retarget and commit again, or Abort.
func (f *File) CommitNoReplace() error {
	return f.commit(renameNoReplace, true)
}

func (f *File) commit(rename func(oldpath, newpath string) error, keepOnExist bool) error {
	if f.done {
		return fmt.Errorf("commit %s: %w", f.Target(), os.ErrClosed)
	}
	if !f.closed {
		if err := f.File.Sync(); err != nil {
			f.Abort()
			return err
		}
		if f.drop {
			dropCache(f.File)
		}
		if err := f.File.Close(); err != nil {
			f.Abort()
			return err
		}
		f.closed = true
	}
	if err := rename(f.File.Name(), f.Target()); err != nil {
		if !keepOnExist || !errors.Is(err, fs.ErrExist) {
			f.Abort()
		}
		return err
	}
	f.done = true
	return syncDir(f.dir)
}

// Abort closes and removes the temporary. It does nothing after Commit or a
// previous Abort, so it can be deferred right after Create.
func (f *File) Abort() error {
	if f.done {
		return nil
	}
	f.done = true
	if !f.closed {
		f.File.Close()
		f.closed = true
	}
	if err := os.Remove(f.File.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// WriteFile atomically replaces path with data.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	f, err := Create(filepath.Dir(path), filepath.Base(path), perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return err
	}
	return f.Commit()
}

// syncDir makes a rename in dir durable. Filesystems that cannot fsync a
// directory say so with EINVAL or ENOTSUP; for them the rename is as durable
// as it will get, as in restic's local backend.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		err = nil
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') || strings.ContainsRune(name, 0) {
		return fmt.Errorf("atomicfile: %q is not a file name", name)
	}
	return nil
}

// hostTag is computed once: the host name does not change under a running
// process, and a failure to read it only weakens CleanStale to the age rule.
var hostTag = sync.OnceValue(func() string {
	host, err := os.Hostname()
	if err != nil {
		return "00000000"
	}
	h := fnv.New32a()
	h.Write([]byte(host))
	return fmt.Sprintf("%08x", h.Sum32())
})

// maxTempBase keeps the temporary name under the 255-byte NAME_MAX of common
// filesystems; the name part is only for people reading a directory listing.
const maxTempBase = 200

func tempName(name string) string {
	if len(name) > maxTempBase {
		name = name[:maxTempBase]
	}
	return fmt.Sprintf(".%s.%d.%s%08x%s", name, os.Getpid(), hostTag(), rand.Uint32(), tempSuffix)
}

// IsTemp reports whether name (a base name or a path) is a temporary file
// made by Create.
func IsTemp(name string) bool {
	_, _, ok := parseTemp(filepath.Base(name))
	return ok
}

// parseTemp returns the pid and host tag recorded in a temporary name.
func parseTemp(base string) (pid int, host string, ok bool) {
	if !strings.HasPrefix(base, ".") || !strings.HasSuffix(base, tempSuffix) {
		return 0, "", false
	}
	rest := strings.TrimSuffix(base[1:], tempSuffix)
	i := strings.LastIndexByte(rest, '.')
	if i < 0 {
		return 0, "", false
	}
	tag := rest[i+1:]
	rest = rest[:i]
	j := strings.LastIndexByte(rest, '.')
	if j <= 0 || len(tag) != 16 || strings.Trim(tag, "0123456789abcdef") != "" {
		return 0, "", false
	}
	pid, err := strconv.Atoi(rest[j+1:])
	if err != nil || pid <= 0 || rest[j+1] == '+' {
		return 0, "", false
	}
	return pid, tag[:8], true
}
