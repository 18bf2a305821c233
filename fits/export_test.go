package fits

import "io"

// OpenReaderAt is Open over something other than a file on disk, for the
// tests that change a raw file's bytes under the reader.
func OpenReaderAt(path string, r interface {
	io.ReaderAt
	io.Closer
}, size int64) (*File, error) {
	hdus, err := Scan(r, size)
	if err != nil {
		return nil, err
	}
	return &File{Path: path, Size: size, HDUs: hdus, f: r}, nil
}
