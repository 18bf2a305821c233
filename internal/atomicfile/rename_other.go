//go:build !linux

package atomicfile

func renameNoReplace(oldpath, newpath string) error {
	return linkUnlink(oldpath, newpath)
}
