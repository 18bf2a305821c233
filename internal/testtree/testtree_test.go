package testtree

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestChanges(t *testing.T) {
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	os.WriteFile(a, []byte("one"), 0o644)
	os.WriteFile(b, []byte("two"), 0o644)
	before := State(t, root)
	if c := Changes(before, State(t, root)); len(c) != 0 {
		t.Fatalf("no change reported as %v", c)
	}
	// Same size and time, other bytes: only the content hash can tell.
	fi, _ := os.Stat(a)
	os.WriteFile(a, []byte("ONE"), 0o644)
	os.Chtimes(a, fi.ModTime(), fi.ModTime())
	os.Remove(b)
	os.WriteFile(filepath.Join(root, "c"), nil, 0o644)
	os.Chtimes(root, time.Unix(0, 0), time.Unix(0, 0))
	got := Changes(before, State(t, root))
	if len(got) != 4 {
		t.Fatalf("changes %q, want a, b gone, c new and the folder's time", got)
	}
}
