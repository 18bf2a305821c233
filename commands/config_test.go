package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/obsdata/dataman/internal/config"
	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/internal/logx"
)

// loadTestConfig writes a config file setting paths.repoDir and jobs and
// loads it with DATAMAN_SWEEP_EVERY in the environment: one key from each
// source, and paths.stateDir derived from the file under XDG_STATE_HOME.
func loadTestConfig(t *testing.T) (*config.Config, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "mods1.yaml")
	if err := os.WriteFile(file, []byte("paths:\n  repoDir: /srv/newdata\njobs: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{config.EnvVar("sweep.every"): "5m", "XDG_STATE_HOME": "/xdg"}
	cfg, err := config.Load(file, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	return cfg, file
}

func TestConfigShowsSources(t *testing.T) {
	cfg, file := loadTestConfig(t)
	var out bytes.Buffer
	if err := runConfig(context.Background(), configOptions{Config: cfg}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if lines[0] != "# config file: "+file {
		t.Errorf("first line %q, want the file", lines[0])
	}
	if got, want := len(lines), 2+len(cfg.Entries()); got != want {
		t.Fatalf("%d lines, want %d (header, column names, one per key):\n%s", got, want, out.String())
	}
	rows := map[string][]string{}
	for _, l := range lines[2:] {
		f := strings.Fields(l)
		rows[f[0]] = f[1:]
	}
	for key, want := range map[string][]string{
		"paths.repoDir":  {"/srv/newdata", "file", file},
		"jobs":           {"3", "file", file},
		"sweep.every":    {"5m", "env", "DATAMAN_SWEEP_EVERY"},
		"server.ipPort":  {"10301", "default"},
		"sweep.schedule": {`""`, "default"},
	} {
		if strings.Join(rows[key], " ") != strings.Join(want, " ") {
			t.Errorf("%s: %q, want %q", key, rows[key], want)
		}
	}
	if st := rows["paths.stateDir"]; len(st) != 4 || !strings.HasPrefix(st[0], "/xdg/dataman/mods1-") || strings.Join(st[1:], " ") != "derived from "+file {
		t.Errorf("paths.stateDir: %q, want /xdg/dataman/mods1-<hash> derived from %s", st, file)
	}
	if cfg.Sweep.Every.String() != "5m0s" {
		t.Errorf("the environment did not set sweep.every: %v", cfg.Sweep.Every)
	}
}

func TestConfigJSON(t *testing.T) {
	cfg, file := loadTestConfig(t)
	var out bytes.Buffer
	if err := runConfig(context.Background(), configOptions{Config: cfg, JSON: true}, &out); err != nil {
		t.Fatal(err)
	}
	var got []configEntry
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	entries := cfg.Entries()
	if len(got) != len(entries) {
		t.Fatalf("%d entries, want %d", len(got), len(entries))
	}
	for i, e := range entries {
		if got[i].Key != e.Key || got[i].Value != e.Value || got[i].Source != string(e.Source) {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], e)
		}
		if (e.Key == "paths.repoDir" || e.Key == "paths.stateDir") && got[i].From != file {
			t.Errorf("%s from %q, want %q", e.Key, got[i].From, file)
		}
	}
}

func TestConfigWarnsAboutUnknownVariables(t *testing.T) {
	cfg, _ := loadTestConfig(t)
	var log bytes.Buffer
	ctx := logx.With(context.Background(), logx.New(&log, slog.LevelInfo, false))
	environ := []string{"DATAMAN_SWEEP_EVERY=5m", "DATAMAN_REPODIR=/typo", "HOME=/root"}
	if err := runConfig(ctx, configOptions{Config: cfg, Environ: environ}, new(bytes.Buffer)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "DATAMAN_REPODIR") || strings.Contains(log.String(), "DATAMAN_SWEEP_EVERY") {
		t.Errorf("want a warning about DATAMAN_REPODIR only; the log says:\n%s", log.String())
	}
}

// runApp runs the dataman command line and returns its stdout and error.
func runApp(t *testing.T, args ...string) (string, error) {
	t.Helper()
	app := New("test")
	var out, errs bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errs
	err := app.Run(append([]string{"dataman"}, args...))
	return out.String(), err
}

func TestConfigCommand(t *testing.T) {
	_, file := loadTestConfig(t)
	t.Setenv(config.EnvConfig, file)
	t.Setenv("XDG_STATE_HOME", t.TempDir())

	out, err := runApp(t, "config")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "# config file: "+file+"\n") {
		t.Errorf("dataman config with $%s set does not name the file:\n%s", config.EnvConfig, out)
	}

	out, err = runApp(t, "config", "--default")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(config.DefaultYAML()) {
		t.Errorf("dataman config --default is not the built-in default YAML")
	}

	for _, args := range [][]string{
		{"config", "--default", "--json"},
		{"config", "extra"},
		{"config", "--config", filepath.Join(t.TempDir(), "missing.yaml")},
	} {
		if _, err := runApp(t, args...); exitcode.Code(err) != exitcode.Usage {
			t.Errorf("dataman %s: %v (status %d), want status %d", strings.Join(args, " "), err, exitcode.Code(err), exitcode.Usage)
		}
	}
}

func TestShowValue(t *testing.T) {
	for in, want := range map[string]string{
		"":           `""`,
		"/home/data": "/home/data",
		"a b":        `"a b"`,
		"tab\there":  `"tab\there"`,
		"bell\a":     `"bell\a"`,
		`say "hi"`:   `"say \"hi\""`,
		"127.0.0.1":  "127.0.0.1",
	} {
		if got := showValue(in); got != want {
			t.Errorf("showValue(%q) = %s, want %s", in, got, want)
		}
	}
}
