package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Where paths.stateDir goes when nobody gives it, and where that came from.
func TestStateDirWhenNotGiven(t *testing.T) {
	dir := t.TempDir()
	noState := filepath.Join(dir, "dataman_MODS1.ini")
	withState := filepath.Join(dir, "mods1.yaml")
	for path, text := range map[string]string{noState: "debug: N\n", withState: "paths:\n  stateDir: /srv/state\n"} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	derived := derivedStateDir(t, noState)
	name := filepath.Base(derived)
	cwd, _ := os.Getwd()
	tests := []struct {
		name       string
		file       string
		env        map[string]string
		want       string
		src        Source
		from       string
		wantErrHas string
	}{
		{name: "no file: the built-in default, like every path", want: filepath.Join(cwd, "dataman-data", "state"), src: SourceDefault},
		{name: "no file under systemd", env: map[string]string{"STATE_DIRECTORY": "/var/lib/dataman/mods1"},
			want: "/var/lib/dataman/mods1", src: SourceSystemd, from: "STATE_DIRECTORY"},
		{name: "systemd beats the derived place", file: noState, env: map[string]string{"STATE_DIRECTORY": "/var/lib/dataman/mods1"},
			want: "/var/lib/dataman/mods1", src: SourceSystemd, from: "STATE_DIRECTORY"},
		{name: "several state directories: the first", file: noState, env: map[string]string{"STATE_DIRECTORY": "/var/lib/dataman/mods1:/var/lib/other"},
			want: "/var/lib/dataman/mods1", src: SourceSystemd, from: "STATE_DIRECTORY"},
		{name: "the file gives it", file: withState, env: map[string]string{"STATE_DIRECTORY": "/var/lib/dataman/mods1"},
			want: "/srv/state", src: SourceFile, from: withState},
		{name: "the environment gives it", file: noState, env: map[string]string{"STATE_DIRECTORY": "/var/lib/x", "DATAMAN_PATHS_STATEDIR": "/srv/env"},
			want: "/srv/env", src: SourceEnv, from: "DATAMAN_PATHS_STATEDIR"},
		{name: "derived under XDG_STATE_HOME", file: noState, want: derived, src: SourceDerived, from: noState},
		{name: "derived under HOME", file: noState, env: map[string]string{"XDG_STATE_HOME": "", "HOME": "/home/obs"},
			want: "/home/obs/.local/state/dataman/" + name, src: SourceDerived, from: noState},
		{name: "a relative XDG_STATE_HOME is ignored", file: noState, env: map[string]string{"XDG_STATE_HOME": "state", "HOME": "/home/obs"},
			want: "/home/obs/.local/state/dataman/" + name, src: SourceDerived, from: noState},
		{name: "nowhere to derive it", file: noState, env: map[string]string{"XDG_STATE_HOME": ""}, wantErrHas: "paths.stateDir: not set, and neither $XDG_STATE_HOME nor $HOME"},
	}
	defer func(f func() int) { geteuid = f }(geteuid)
	geteuid = func() int { return 1000 }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.file, envOf(tt.env))
			if tt.wantErrHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrHas) {
					t.Fatalf("Load: %v, want an error with %q", err, tt.wantErrHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			e := entry(c, "paths.stateDir")
			if c.Paths.StateDir != tt.want || e.Source != tt.src || c.From(e) != tt.from {
				t.Errorf("stateDir %s, source %s, from %q; want %s, %s, %q", c.Paths.StateDir, e.Source, c.From(e), tt.want, tt.src, tt.from)
			}
			// A flag beats every one of them.
			if err := c.Set("paths.stateDir", "/srv/flag", SourceFlag); err != nil || c.Paths.StateDir != "/srv/flag" {
				t.Errorf("--set paths.stateDir: %v, %s", err, c.Paths.StateDir)
			}
		})
	}
}

func TestStateDirOfRoot(t *testing.T) {
	for euid, want := range map[int]string{0: SystemStateDir, 1000: "/home/obs/.local/state/dataman"} {
		got, err := stateBase(envOf(map[string]string{"XDG_STATE_HOME": "", "HOME": "/home/obs"}), euid)
		if err != nil || got != want {
			t.Errorf("euid %d: %s, %v; want %s", euid, got, err, want)
		}
	}
}

// The same file by any name gives the same place; another file of the
// same name, another.
func TestStateDirFollowsTheFile(t *testing.T) {
	root := t.TempDir()
	a := filepath.Join(root, "a", "dataman.ini")
	b := filepath.Join(root, "b", "dataman.ini")
	for _, p := range []string{a, b} {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("debug: N\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(root, "dataman_MODS1.ini")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	stateOf := func(path string) string {
		t.Helper()
		c, err := Load(path, envOf(nil))
		if err != nil {
			t.Fatal(err)
		}
		return c.Paths.StateDir
	}
	want := stateOf(a)
	if !strings.HasPrefix(filepath.Base(want), "dataman-") || filepath.Dir(want) != filepath.Join(testStateHome, "dataman") {
		t.Errorf("state of %s is %s, want %s/dataman/dataman-<hash>", a, want, testStateHome)
	}
	t.Chdir(filepath.Join(root, "a"))
	if got := stateOf("dataman.ini"); got != want {
		t.Errorf("relative name: %s, want %s", got, want)
	}
	t.Chdir(root)
	if got := stateOf("a/../a/dataman.ini"); got != want {
		t.Errorf("another relative name: %s, want %s", got, want)
	}
	if got := stateOf(link); got != want {
		t.Errorf("through a symlink: %s, want %s", got, want)
	}
	if got := stateOf(b); got == want {
		t.Errorf("another file of the same name shares %s", got)
	}
}

func entry(c *Config, key string) Entry {
	for _, e := range c.Entries() {
		if e.Key == key {
			return e
		}
	}
	return Entry{}
}
