//go:build !linux

package atomicfile

import "os"

// startWriteback has no portable equivalent; Commit's fsync does all the work.
func startWriteback(*os.File, int64, int64) {}

// dropCache is only a hint; without fadvise the page cache decides.
func dropCache(*os.File) {}
