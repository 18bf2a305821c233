package metrics

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsAfterEvents(t *testing.T) {
	state := t.TempDir()
	if err := os.WriteFile(filepath.Join(state, "last-sweep"), []byte(`{"time":"2026-01-20T10:00:00Z"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	m := New(Options{
		Version:  "v9.9.9",
		StateDir: state,
		Folders:  []Folder{{Key: "paths.procDir", Dir: "/proc-dir"}, {Key: "paths.repoDir", Dir: "/newdata"}},
		Pending:  func() (int, error) { return 2, nil },
		Statfs: func(dir string) (int64, error) {
			if dir == "/newdata" {
				return 0, errors.New("no such mount")
			}
			return 1 << 30, nil
		},
	})
	m.SetQueueDepth(func() int { return 3 })
	m.Datagram(KindProc)
	m.Datagram(KindProc)
	m.Datagram(KindInvalid)
	m.Datagram(KindQuitRefused)
	m.Delivered("MODS1R", 800*time.Millisecond)
	m.Delivered("MODS1R", 0) // left over from the last run: no latency
	m.Failed("MODS1B", "dispatch")
	m.Step("condition", 90*time.Millisecond)
	m.Step("store", 0) // did not run

	want := `
# HELP dataman_datagrams_total UDP datagrams received, by kind (proc, quit, quit_refused, invalid).
# TYPE dataman_datagrams_total counter
dataman_datagrams_total{kind="invalid"} 1
dataman_datagrams_total{kind="proc"} 2
dataman_datagrams_total{kind="quit_refused"} 1
# HELP dataman_frames_delivered_total Frames listen delivered (stored and dispatched, .new updated), by channel.
# TYPE dataman_frames_delivered_total counter
dataman_frames_delivered_total{channel="MODS1R"} 2
# HELP dataman_frames_failed_total Frames listen did not deliver, by channel and the step that failed (condition, dispatch: pending).
# TYPE dataman_frames_failed_total counter
dataman_frames_failed_total{channel="MODS1B",step="dispatch"} 1
# HELP dataman_queue_depth Requests waiting: for a check of their raw file or for a worker.
# TYPE dataman_queue_depth gauge
dataman_queue_depth 3
# HELP dataman_pending_dispatches Frames whose dispatch is pending (-1: the ledger could not be read).
# TYPE dataman_pending_dispatches gauge
dataman_pending_dispatches 2
# HELP dataman_last_sweep_timestamp_seconds When the last sweep finished, in Unix seconds (0: none known).
# TYPE dataman_last_sweep_timestamp_seconds gauge
dataman_last_sweep_timestamp_seconds 1.7689032e+09
# HELP dataman_free_bytes Bytes free for dataman in a folder, by its config key and path; absent when statfs failed or timed out.
# TYPE dataman_free_bytes gauge
dataman_free_bytes{folder="/proc-dir",key="paths.procDir"} 1.073741824e+09
`
	names := []string{"dataman_datagrams_total", "dataman_frames_delivered_total", "dataman_frames_failed_total",
		"dataman_queue_depth", "dataman_pending_dispatches", "dataman_last_sweep_timestamp_seconds", "dataman_free_bytes"}
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.latency); n != 1 {
		t.Errorf("latency histogram: %d series, want 1", n)
	}
	if got := testutil.CollectAndCount(m.steps, "dataman_step_duration_seconds"); got != 1 {
		t.Errorf("step durations: %d series, want 1 (condition)", got)
	}
	if problems, err := testutil.GatherAndLint(m.Registry()); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}

}

func TestNilMetricsDoNothing(t *testing.T) {
	var m *Metrics
	m.Datagram(KindProc)
	m.Delivered("MODS1R", time.Second)
	m.Failed("MODS1R", "condition")
	m.Step("condition", time.Second)
	m.SetQueueDepth(func() int { return 1 })
}

func TestServer(t *testing.T) {
	m := New(Options{Version: "test"})
	s, err := Listen("127.0.0.1:0", m.Handler(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for path, want := range map[string]string{"/healthz": "ok\n", "/metrics": `dataman_build_info{goversion=`} {
		resp, err := http.Get("http://" + s.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %s %q, want 200 with %q", path, resp.Status, b, want)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}
