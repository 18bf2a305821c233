package condition

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func writeSummary(t *testing.T, path string, s Summary) {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestGather(t *testing.T) {
	dir := t.TempDir()
	ok := Result{Raw: "r/a.fits", OK: true}
	bad := Result{Raw: "r/b.fits", Error: "r/b.fits: read: truncated"}
	task := func(shard string, rs ...Result) Summary {
		s := NewSummary(rs)
		s.Shard, s.FilesFrom, s.Out = shard, "/l/all.txt", "/out"
		return s
	}
	writeSummary(t, filepath.Join(dir, "task-0-of-4.json"), task("0/4", ok, ok))
	writeSummary(t, filepath.Join(dir, "task-1-of-4.json"), task("1/4", ok, bad))
	writeSummary(t, filepath.Join(dir, "task-3-of-4.json"), task("3/4", ok))
	// An earlier, smaller array into the same folder is reported apart.
	writeSummary(t, filepath.Join(dir, "task-0-of-1.json"), task("0/1", ok))
	if err := os.WriteFile(filepath.Join(dir, "task-2-of-4.json"), []byte(`{"shard": "2/4", "res`), 0o644); err != nil {
		t.Fatal(err)
	}
	// Not *.json: a summary still being written.
	if err := os.WriteFile(filepath.Join(dir, "task-2-of-4.json.tmp.77"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	g, err := Gather([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if g.Good() || len(g.Arrays) != 2 || len(g.Unreadable) != 1 {
		t.Fatalf("gathered %+v", g)
	}
	one, four := g.Arrays[0], g.Arrays[1]
	if one.Tasks != 1 || !one.Good() || one.Files != 1 {
		t.Errorf("the 1-task array: %+v", one)
	}
	if four.Tasks != 4 || four.Files != 5 || four.FailedFiles != 1 || four.Good() {
		t.Errorf("the 4-task array: %+v", four)
	}
	if len(four.Failed) != 1 || four.Failed[0].Task != 1 || len(four.Failed[0].Files) != 1 || four.Failed[0].Files[0].Raw != "r/b.fits" {
		t.Errorf("failed: %+v", four.Failed)
	}
	if len(four.OK) != 2 || four.OK[0] != 0 || four.OK[1] != 3 {
		t.Errorf("ok: %v", four.OK)
	}
	if len(four.Missing) != 1 || four.Missing[0] != 2 {
		t.Errorf("missing: %v", four.Missing)
	}
	if got := ArraySpec(four.Rerun()); got != "1-2" {
		t.Errorf("rerun %s", got)
	}

	// A plain run (no --shard) has no task numbers and nothing missing.
	plain := NewSummary([]Result{bad})
	plain.Out = "/out"
	p := filepath.Join(t.TempDir(), "run.json")
	writeSummary(t, p, plain)
	g, err = Gather([]string{p})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Arrays) != 1 || g.Arrays[0].Tasks != 0 || len(g.Arrays[0].Missing) != 0 || g.Arrays[0].Failed[0].Task != -1 || len(g.Arrays[0].Rerun()) != 0 {
		t.Errorf("plain run: %+v", g)
	}

	if _, err := Gather([]string{filepath.Join(dir, "nothing-here")}); err == nil {
		t.Errorf("a missing path is not an error")
	}
}

// Summaries are read from files any task may have cut short or anyone may
// have edited: nothing in them may crash dataman gather.
func FuzzGather(f *testing.F) {
	f.Add([]byte(`{"shard": "1/4", "out": "/o", "files": 1, "failed": 1, "results": [{"raw": "a", "ok": false}]}`))
	f.Add([]byte(`{"shard": "9/4", "results": []}`))
	f.Add([]byte(`{"shard": "0/100000", "results": []}`))
	f.Add([]byte(`{"results": null}`))
	f.Add([]byte(`{"shard": "2/3", "out": "out3", "resu`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "task.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		g, err := Gather([]string{path})
		if err != nil {
			t.Fatal(err)
		}
		if len(g.Arrays)+len(g.Unreadable) != 1 {
			t.Fatalf("one file gave %d arrays and %d unreadable", len(g.Arrays), len(g.Unreadable))
		}
	})
}
