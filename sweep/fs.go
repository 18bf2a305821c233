package sweep

import "github.com/obsdata/dataman/internal/judge"

// FS is what a sweep observes: the judge's view of the file system.
type FS = judge.FS

// OSFS is the operating system's file system.
type OSFS = judge.OSFS
