package commands

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/internal/testtree"
)

// sampleNight delivers the sample night into root and returns the --set
// flags of its folders.
func sampleNight(t *testing.T, root string) []string {
	t.Helper()
	sample, err := filepath.Abs("../testdata/sample")
	if err != nil {
		t.Fatal(err)
	}
	set := []string{"--set", "paths.dataDir=" + sample}
	for _, p := range []string{"procDir", "repoDir", "stateDir"} {
		set = append(set, "--set", "paths."+p+"="+filepath.Join(root, p))
		if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := runApp(t, append([]string{"archive", "--dispatch", "--night", "20260119", "--log-level", "error"}, set...)...); err != nil {
		t.Fatal(err)
	}
	return set
}

// The written page's links lead to the previews from wherever it is
// written; --embed needs none; only the page is written.
func TestNightlogCommand(t *testing.T) {
	root := t.TempDir()
	set := sampleNight(t, root)
	imgs := regexp.MustCompile(`<img src="([^"]+)"`)
	elsewhere := filepath.Join(root, "www", "logs")
	if err := os.MkdirAll(elsewhere, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ out, page string }{
		{filepath.Join(root, "procDir"), filepath.Join(root, "procDir", "20260119.html")},
		{filepath.Join(elsewhere, "tonight.html"), filepath.Join(elsewhere, "tonight.html")},
	} {
		before := testtree.State(t, root)
		out, err := runApp(t, append([]string{"nightlog", "--night", "20260119", "-o", tc.out}, set...)...)
		if err != nil || out != tc.page+"\n" {
			t.Fatalf("nightlog -o %s: %v, %q", tc.out, err, out)
		}
		for _, ch := range testtree.Changes(before, testtree.State(t, root)) {
			if ch != tc.page+": new" && !strings.HasPrefix(ch, filepath.Dir(tc.page)+": d") { // the page, and its folder's mtime
				t.Errorf("nightlog changed more than its page: %s", ch)
			}
		}
		b, err := os.ReadFile(tc.page)
		if err != nil {
			t.Fatal(err)
		}
		srcs := imgs.FindAllStringSubmatch(string(b), -1)
		if len(srcs) != 4 || strings.Count(string(b), `data-state="delivered"`) != 4 {
			t.Errorf("%s: %d thumbnails, want 4 delivered frames with theirs", tc.page, len(srcs))
		}
		for _, m := range srcs {
			if _, err := os.Stat(filepath.Join(filepath.Dir(tc.page), filepath.FromSlash(m[1]))); err != nil {
				t.Errorf("%s: thumbnail link %s leads nowhere: %v", tc.page, m[1], err)
			}
		}
		os.Remove(tc.page)
	}

	out, err := runApp(t, append([]string{"nightlog", "--night", "20260119", "--embed"}, set...)...)
	if err != nil || strings.Count(out, `<img src="data:image/png;base64,`) != 4 || strings.Contains(out, "<a href") {
		t.Errorf("nightlog --embed: %v, %d embedded thumbnails", err, strings.Count(out, "data:image/png"))
	}
	for _, args := range [][]string{{"--night", "2026011"}, {"extra"}} {
		if _, err := runApp(t, append(append([]string{"nightlog"}, args...), set...)...); exitcode.Code(err) != exitcode.Usage {
			t.Errorf("nightlog %v: %v, want a usage error", args, err)
		}
	}
}
