package atomicfile

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks Linux to begin writing a range of f to disk without
// waiting for it. It is only a hint: an error changes nothing, since Commit's
// fsync is what makes the file durable.
func startWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}

// dropCache asks Linux to drop f's pages from the page cache; the caller
// has synced f, so they are clean and go at once. Only a hint, like
// startWriteback.
func dropCache(f *os.File) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.Fadvise(int(fd), 0, 0, unix.FADV_DONTNEED)
	})
}
