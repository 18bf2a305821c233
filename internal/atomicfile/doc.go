// Package atomicfile writes files that readers see either whole or not at all:
// a temporary file in the destination directory, fsync, rename, fsync of the
// directory, and removal of the temporary on any error or after a crash.
package atomicfile
