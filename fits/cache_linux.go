package fits

import (
	"os"

	"golang.org/x/sys/unix"
)

// DropCache asks Linux to drop the file's pages from the page cache: for a
// file read once, whose pages would otherwise push out what is read again.
// Only a hint: an error changes nothing.
func (f *File) DropCache() {
	if osf, ok := f.f.(*os.File); ok {
		_ = unix.Fadvise(int(osf.Fd()), 0, 0, unix.FADV_DONTNEED)
	}
}
