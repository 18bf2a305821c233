package nightlog

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"
)

// A cached header is used while the stored copy has the size and mtime
// the judge saw, and read again once either changes.
func TestCache(t *testing.T) {
	tr := newTree(t)
	base := tr.raw("mods1b", 1, "1k-2x2", nil)
	tr.deliver(base)
	o := tr.options()
	o.Cache = &Cache{}
	object := func() string {
		t.Helper()
		rows := Build(context.Background(), o, night).Rows
		if len(rows) != 1 {
			t.Fatalf("%d rows", len(rows))
		}
		return rows[0].Header.Object
	}
	if got := object(); got != "NGC 1068" {
		t.Fatalf("OBJECT %q", got)
	}
	// Same size, same mtime, other bytes: what the judge takes for the
	// same file, and so does the cache.
	path := tr.stored(base)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte("'NGC 1068'"), []byte("'NGC 4151'"), 1)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if got := object(); got != "NGC 1068" {
		t.Errorf("OBJECT %q: the cache was not used", got)
	}
	o.Cache = nil
	if got := object(); got != "NGC 4151" {
		t.Errorf("OBJECT %q without the cache", got)
	}
	o.Cache = &Cache{}
	object()
	later := fi.ModTime().Add(time.Second)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte("'NGC 4151'"), []byte("'NGC 7469'"), 1)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(path, later, later)
	// A new mtime: the judge reads the copy, finds other content than
	// recorded (damaged), and the row shows what is there now.
	if got := object(); got != "NGC 7469" {
		t.Errorf("OBJECT %q after the copy changed", got)
	}
}
