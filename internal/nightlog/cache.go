package nightlog

import (
	"sync"

	"github.com/obsdata/dataman/internal/judge"
)

// Cache keeps the headers read, by file, size and mtime as the judge saw
// them, for a server that renders the same night again and again: a file
// rewritten has a new size or mtime, and is read again. Failed reads are
// not kept. The zero value is ready; a nil *Cache keeps nothing. Safe for
// concurrent use.
type Cache struct {
	mu sync.Mutex
	m  map[cacheKey]Header
}

type cacheKey struct {
	path        string
	size, mtime int64
	stored      bool
}

// maxCached bounds the cache: some nights of frames. Past it, it starts
// afresh, which costs one page its reads.
const maxCached = 5000

// read reads f's header (the stored copy's, else the raw file's), from
// the cache when the file is as it was, and looks for its previews.
func (c *Cache) read(f judge.Frame) read {
	var rd read
	k := cacheKey{path: f.Raw.Path, size: f.Raw.Size, mtime: f.Raw.MTime}
	if hasStored(f) {
		k = cacheKey{path: f.Stored.Path, size: f.Stored.Seen.Size, mtime: f.Stored.Seen.MTime, stored: true}
		rd.thumb, rd.preview = previews(f.Stored.Path)
	}
	if h, ok := c.get(k); ok {
		rd.h = h
		return rd
	}
	if k.stored {
		rd.h, rd.err = ReadStored(k.path)
	} else {
		rd.h, rd.err = ReadRaw(k.path)
	}
	// A raw file may still grow, and its size and mtime as seen may
	// already be stale: only sound stored copies are kept.
	if rd.err == nil && k.stored && f.Stored.State.Sound() && k.mtime != 0 {
		c.put(k, rd.h)
	}
	return rd
}

func (c *Cache) get(k cacheKey) (Header, bool) {
	if c == nil {
		return Header{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.m[k]
	return h, ok
}

func (c *Cache) put(k cacheKey, h Header) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCached {
		c.m = map[cacheKey]Header{}
	}
	c.m[k] = h
}
