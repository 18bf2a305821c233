package deliver

import (
	"io"
	"io/fs"

	"github.com/obsdata/dataman/internal/judge"
)

// faultFS is the judge's view of the file system: the tests' fault
// injection applies to the judge's looks as to the delivery's writes.
type faultFS struct {
	judge.FS
	d *Deliverer
}

func (f faultFS) Stat(path string) (fs.FileInfo, error) {
	if err := f.d.inject("stat", path); err != nil {
		return nil, err
	}
	return f.FS.Stat(path)
}

func (f faultFS) Lstat(path string) (fs.FileInfo, error) {
	if err := f.d.inject("stat", path); err != nil {
		return nil, err
	}
	return f.FS.Lstat(path)
}

func (f faultFS) Open(path string) (io.ReadCloser, error) {
	if err := f.d.inject("open", path); err != nil {
		return nil, err
	}
	return f.FS.Open(path)
}
