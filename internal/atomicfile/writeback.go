package atomicfile

// writebackChunk is how much new data makes Write ask the kernel to start
// writing it to disk. Commit's fsync then finds most pages already on their
// way, so the wait for durability overlaps the work of producing the file
// instead of following it.
const writebackChunk = 8 << 20

// Write writes to the temporary, starting writeback of every full chunk
// written since the last one.
func (f *File) Write(p []byte) (int, error) {
	n, err := f.File.Write(p)
	f.written += int64(n)
	if !f.lazy && f.written-f.kicked >= writebackChunk {
		startWriteback(f.File, f.kicked, f.written-f.kicked)
		f.kicked = f.written
	}
	return n, err
}

// DeferWriteback turns off the writeback Write starts: the file's pages stay
// in the page cache until Commit's fsync. It is for a file whose durability
// can wait while another file's, on the same disk, is needed first.
func (f *File) DeferWriteback() { f.lazy = true }

// DropCache makes Commit evict the file's pages from the page cache once
// they are on disk: for a copy nobody will read soon (the stored copy, kept
// for the archive), so that it does not push out of memory what is read
// (raw files, the copies in /newdata), and its memory serves the next file.
func (f *File) DropCache() { f.drop = true }
