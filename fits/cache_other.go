//go:build !linux

package fits

// DropCache is only a hint; without fadvise the page cache decides.
func (f *File) DropCache() {}
