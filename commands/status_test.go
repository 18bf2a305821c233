package commands

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/internal/status"
	"github.com/obsdata/dataman/internal/testtree"
)

// The view itself is tested in internal/status; these tests are of the
// command: it changes nothing, and its exit statuses.
func TestStatusReadOnly(t *testing.T) {
	root := t.TempDir()
	set := sampleNight(t, root)
	if _, err := runApp(t, append([]string{"sweep", "--night", "20260119", "--log-level", "error"}, set...)...); err != nil {
		t.Fatal(err)
	}
	// A .pid left by a listen that is gone.
	if err := os.WriteFile(filepath.Join(root, "stateDir", ".pid"), []byte("999999999\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	before := testtree.State(t, root)
	out, err := runApp(t, append([]string{"status", "--night", "20260119"}, set...)...)
	if err != nil || !strings.Contains(out, "mods1b: 2 frames: 2 raw, 2 stored, 2 on newdata") ||
		!strings.Contains(out, "listen: not running (its .pid names pid 999999999, which is gone)") {
		t.Errorf("status: %v\n%s", err, out)
	}
	out, err = runApp(t, append([]string{"status", "--night", "20260119", "--json"}, set...)...)
	var r status.Report
	if err != nil || json.Unmarshal([]byte(out), &r) != nil || len(r.Channels) != 2 || r.LastSweep == nil {
		t.Errorf("status --json: %v\n%s", err, out)
	}
	out, err = runApp(t, append([]string{"status", "--night", "20260119", "--check", "--min-free-warn", "0", "--min-free-crit=0"}, set...)...)
	if exitcode.Code(err) != status.Critical || !strings.HasPrefix(out, "DATAMAN CRITICAL - listen not running (pid 999999999 is gone) | listen=0") {
		t.Errorf("status --check: %v (status %d)\n%s", err, exitcode.Code(err), out)
	}
	if ch := testtree.Changes(before, testtree.State(t, root)); len(ch) > 0 {
		t.Errorf("status changed the tree:\n%s", strings.Join(ch, "\n"))
	}
}

func TestStatusCheckUnknown(t *testing.T) {
	root := t.TempDir()
	for _, args := range [][]string{
		{"--night", "2026011"},
		{"--pending-warn", "soon"},
		{"--set", "paths.dataDir=" + filepath.Join(root, "none")},
	} {
		out, err := runApp(t, append([]string{"status", "--check", "--set", "paths.stateDir=" + root}, args...)...)
		if exitcode.Code(err) != status.Unknown || !strings.HasPrefix(out, "DATAMAN UNKNOWN - ") || strings.Count(out, "\n") != 1 {
			t.Errorf("%v: %v (status %d)\n%s", args, err, exitcode.Code(err), out)
		}
		_, err = runApp(t, append([]string{"status", "--set", "paths.stateDir=" + root}, args...)...)
		if c := exitcode.Code(err); c != exitcode.Usage && c != exitcode.Failure {
			t.Errorf("%v without --check: status %d, want 1 or 2", args, c)
		}
	}
	if _, err := runApp(t, "status", "--check", "--json"); exitcode.Code(err) != status.Unknown {
		t.Errorf("--check --json: %v", err)
	}
}
