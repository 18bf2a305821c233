package dmlog

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func record(t time.Time, l slog.Level, msg string, args ...any) slog.Record {
	r := slog.NewRecord(t, l, msg, 0)
	r.Add(args...)
	return r
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLineFormat(t *testing.T) {
	dir := t.TempDir()
	h := New(Options{Dir: dir, Host: "mods1.lbto.org", Location: arizona})
	defer h.Close()
	// Local time on the mountain; the night of the 19th is observing date
	// 20260120 (UTC). Python truncates to milliseconds.
	at := time.Date(2026, 1, 19, 20, 13, 20, 140_999_999, arizona)
	ctx := context.Background()
	for _, r := range []slog.Record{
		record(at, slog.LevelInfo, "Updated /lbt/data/new/MODS1B.new"),
		record(at, slog.LevelWarn, "queue full, dropped", "file", "mods1b.20260119.0001.fits", "from", "127.0.0.1:5000"),
		record(at, slog.LevelError, "failed", "err", "store: disk full"),
		record(at, slog.LevelDebug, "not written at INFO"),
	} {
		if h.Enabled(ctx, r.Level) {
			if err := h.Handle(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}

	want := "2026-01-19 20:13:20,140 | INFO | Updated /lbt/data/new/MODS1B.new\n" +
		"2026-01-19 20:13:20,140 | WARNING | queue full, dropped file=mods1b.20260119.0001.fits from=127.0.0.1:5000\n" +
		"2026-01-19 20:13:20,140 | ERROR | failed err=\"store: disk full\"\n"
	if got := read(t, filepath.Join(dir, "mods1dm.20260120.txt")); got != want {
		t.Errorf("log file:\n%s\nwant:\n%s", got, want)
	}

	slog.New(h).With("file", "mods1b.20260119.0002.fits").WithGroup("t").Info("delivered", "store", 1.5)
	got := read(t, h.Path(time.Now()))
	if !strings.HasSuffix(got, " | INFO | delivered file=mods1b.20260119.0002.fits t.store=1.5\n") {
		t.Errorf("attributes of With and WithGroup: %q", got)
	}
}

func TestObsDate(t *testing.T) {
	cases := []struct {
		utc  string
		want string
	}{
		{"2026-01-19T18:59:59Z", "20260119"}, // 11:59 in Arizona: still the UTC date
		{"2026-01-19T19:00:00Z", "20260120"}, // noon in Arizona: afternoon calibrations get tomorrow
		{"2026-01-19T23:59:59Z", "20260120"}, // 16:59 in Arizona
		{"2026-01-20T00:00:00Z", "20260120"}, // 17:00 in Arizona: the UTC date, now the same
		{"2026-01-20T06:59:59Z", "20260120"}, // 23:59 in Arizona
		{"2026-01-20T13:00:00Z", "20260120"}, // 06:00 in Arizona, end of the night
		{"2025-12-31T19:30:00Z", "20260101"}, // across a year
	}
	for _, c := range cases {
		at, _ := time.Parse(time.RFC3339, c.utc)
		// The zone the instant is expressed in must not matter.
		for _, loc := range []*time.Location{time.UTC, time.FixedZone("X", 9*3600)} {
			if got := ObsDate(at.In(loc)); got != c.want {
				t.Errorf("ObsDate(%s in %s) = %s, want %s", c.utc, loc, got, c.want)
			}
		}
	}
}

// A long-running server writes each observing night to its own file (dataMan
// kept writing to the file of the day it started), appending to what is
// there.
func TestRollOver(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "mods2dm.20260119.txt")
	if err := os.WriteFile(old, []byte("earlier line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := New(Options{Dir: dir, Host: "mods2", Location: time.UTC})
	defer h.Close()
	ctx := context.Background()
	for _, c := range []struct{ at, msg string }{
		{"2026-01-19T18:59:00Z", "before noon"},
		{"2026-01-19T19:00:00Z", "afternoon"},
		{"2026-01-20T06:00:00Z", "night"},
		{"2026-01-20T19:00:00Z", "next afternoon"},
	} {
		at, _ := time.Parse(time.RFC3339, c.at)
		if err := h.Handle(ctx, record(at, slog.LevelInfo, c.msg)); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string][]string{
		"mods2dm.20260119.txt": {"earlier line", "before noon"},
		"mods2dm.20260120.txt": {"afternoon", "night"},
		"mods2dm.20260121.txt": {"next afternoon"},
	}
	for name, msgs := range files {
		lines := strings.Split(strings.TrimSuffix(read(t, filepath.Join(dir, name)), "\n"), "\n")
		if len(lines) != len(msgs) {
			t.Errorf("%s: %q", name, lines)
			continue
		}
		for i, m := range msgs {
			if !strings.HasSuffix(lines[i], m) {
				t.Errorf("%s line %d: %q, want …%s", name, i+1, lines[i], m)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != len(files) {
		t.Errorf("%d files in the log directory, want %d", len(entries), len(files))
	}
}

func TestFileName(t *testing.T) {
	for host, want := range map[string]string{
		"mods1.lbto.org": "mods1dm.20260119.txt",
		"mods2":          "mods2dm.20260119.txt",
		"ws":             "wsdm.20260119.txt",
	} {
		if got := FileName(host, "20260119"); got != want {
			t.Errorf("FileName(%q) = %q, want %q", host, got, want)
		}
	}
}

func TestUnwritableDirectory(t *testing.T) {
	notDir := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notDir, nil, 0o644)
	var reported []error
	h := New(Options{Dir: notDir, Host: "mods1", OnError: func(err error) { reported = append(reported, err) }})
	for range 3 {
		if err := h.Handle(context.Background(), record(time.Now(), slog.LevelInfo, "x")); err == nil {
			t.Fatal("wrote under a file")
		}
	}
	if len(reported) != 1 {
		t.Errorf("OnError called %d times for one file, want once: %v", len(reported), reported)
	}
}

func TestTee(t *testing.T) {
	var journal bytes.Buffer
	dir := t.TempDir()
	file := New(Options{Dir: dir, Host: "mods1", Level: slog.LevelDebug, Location: time.UTC})
	stderr := slog.NewTextHandler(&journal, &slog.HandlerOptions{Level: slog.LevelWarn})
	log := slog.New(Tee(stderr, file)).With("file", "f.fits")
	log.Debug("detail")
	log.Warn("careful")
	if strings.Contains(journal.String(), "detail") || !strings.Contains(journal.String(), "msg=careful file=f.fits") {
		t.Errorf("stderr at WARN got:\n%s", journal.String())
	}
	got := read(t, file.Path(time.Now()))
	if !strings.Contains(got, "| DEBUG | detail file=f.fits") || !strings.Contains(got, "| WARNING | careful file=f.fits") {
		t.Errorf("file at DEBUG got:\n%s", got)
	}
	if Tee(stderr).Enabled(context.Background(), slog.LevelInfo) {
		t.Error("a tee of one WARN handler is enabled at INFO")
	}
}
