package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// testStateHome is the XDG_STATE_HOME of envOf, so that a config file
// without paths.stateDir gives the same place whoever runs the tests.
const testStateHome = "/xdg/state"

// envOf is an environment of m, with XDG_STATE_HOME=testStateHome unless m
// says otherwise.
func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		if !ok && k == "XDG_STATE_HOME" {
			return testStateHome, true
		}
		return v, ok
	}
}

// derivedStateDir is where a config file without paths.stateDir keeps its
// state under envOf, worked out again here.
func derivedStateDir(t *testing.T, file string) string {
	t.Helper()
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(testStateHome, "dataman", strings.TrimSuffix(filepath.Base(abs), filepath.Ext(abs))+"-"+hex.EncodeToString(sum[:4]))
}

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "dataman.ini")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// exported drops what reflect.DeepEqual should not compare: where values
// came from is checked through Entries instead.
func exported(c *Config) Config {
	d := *c
	d.sources, d.file, d.derived = nil, "", nil
	return d
}

func sourceOf(c *Config, key string) Source {
	for _, e := range c.Entries() {
		if e.Key == key {
			return e.Source
		}
	}
	return "missing"
}

// The values the brief gives for the built-in default, written out here so
// a change to default.yaml has to be made twice.
func builtinWant(root string) Config {
	var c Config
	c.Server = Server{IPAddr: "127.0.0.1", IPPort: 10301, QuitPeers: []string{"127.0.0.1", "::1"}}
	c.Paths = Paths{
		DataDir:  filepath.Join(root, "raw"),
		ProcDir:  filepath.Join(root, "proc"),
		RepoDir:  filepath.Join(root, "newdata"),
		LogDir:   filepath.Join(root, "logs"),
		StateDir: filepath.Join(root, "state"),
	}
	c.Processing = Processing{FixDETSEC: true, FixDateTime: true, FixTemps: true, FixMisc: true, MakeOTM: true}
	c.Jobs, c.Queue = 2, 256
	c.Site = Site{Latitude: 32.70131, Longitude: 109.88906, Elevation: 3221}
	c.Proc = Destination{Collision: PolicyRename, MinFree: 1 << 30, Timeout: 30 * time.Second}
	c.Repo = c.Proc
	c.Repo.Consumed = true
	c.Retry = Retry{Initial: 5 * time.Second, Max: 5 * time.Minute}
	c.Sweep = Sweep{Every: 10 * time.Minute, MinAge: 30 * time.Second}
	c.Status = Status{PendingWarn: 10 * time.Minute, PendingCrit: time.Hour, MinFreeWarn: 20 << 30, MinFreeCrit: 5 << 30}
	c.Preview = Preview{Enabled: true}
	return c
}

func TestDefault(t *testing.T) {
	c := Default()
	if got, want := exported(c), builtinWant("dataman-data"); !reflect.DeepEqual(got, want) {
		t.Errorf("Default() =\n%+v\nwant\n%+v", got, want)
	}
	for _, e := range c.Entries() {
		if e.Source != SourceDefault {
			t.Errorf("Default(): %s has source %q, want default", e.Key, e.Source)
		}
	}
	c.Server.QuitPeers[0] = "10.0.0.1"
	c.Set("jobs", "9", SourceFlag)
	if d := Default(); d.Server.QuitPeers[0] != "127.0.0.1" || d.Jobs != 2 || sourceOf(d, "jobs") != SourceDefault {
		t.Errorf("changing one Default() changed the next: %+v", d)
	}
}

// The printed default, saved and loaded as a file, must give the built-in
// default: relative paths resolve the same way from either.
func TestDefaultYAMLLoadsAsDefault(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	path := filepath.Join(t.TempDir(), "saved.ini")
	if err := os.WriteFile(path, DefaultYAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	noFile, err := Load("", envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	saved, err := Load(path, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := builtinWant(filepath.Join(dir, "dataman-data"))
	if got := exported(noFile); !reflect.DeepEqual(got, want) {
		t.Errorf("Load(\"\") =\n%+v\nwant\n%+v", got, want)
	}
	want.Site.Set = true // the file names the site, even if it is LBT's
	if got := exported(saved); !reflect.DeepEqual(got, want) {
		t.Errorf("Load(saved default) =\n%+v\nwant\n%+v", got, want)
	}
	if noFile.File() != "" || saved.File() != path {
		t.Errorf("File() = %q and %q, want \"\" and %q", noFile.File(), saved.File(), path)
	}
}

func TestLoadMODS(t *testing.T) {
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	fromFile := []string{
		"server.ipAddr", "server.ipPort",
		"paths.dataDir", "paths.procDir", "paths.repoDir", "paths.logDir",
		"processing.fixDETSEC", "processing.fixDateTime", "processing.fixTemps", "processing.fixMisc", "processing.makeOTM",
		"debug",
	}
	for _, tc := range []struct{ file, ip string }{
		{"dataman_MODS1.ini", "192.168.139.130"},
		{"dataman_MODS2.ini", "192.168.139.230"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("..", "..", "testdata", "config", tc.file)
			c, err := Load(path, envOf(nil))
			if err != nil {
				t.Fatal(err)
			}
			want := builtinWant(filepath.Join(cwd, "dataman-data"))
			want.Server.IPAddr = tc.ip
			want.Paths.DataDir = "/data"
			want.Paths.ProcDir = "/home/data"
			want.Paths.RepoDir = "/lbt/data/new"
			want.Paths.LogDir = "/home/Logs/dataMan"
			want.Paths.StateDir = derivedStateDir(t, path)
			if got := exported(c); !reflect.DeepEqual(got, want) {
				t.Errorf("Load =\n%+v\nwant\n%+v", got, want)
			}
			for _, e := range c.Entries() {
				want := map[bool]Source{true: SourceFile, false: SourceDefault}[slices.Contains(fromFile, e.Key)]
				if e.Key == "paths.stateDir" {
					want = SourceDerived
				}
				if e.Source != want {
					t.Errorf("%s: source %q, want %q", e.Key, e.Source, want)
				}
			}
		})
	}
}

// The MODS2 file before fixMisc was added (2025 Dec 30) must still load;
// the step dataMan would have crashed on is then on by default.
func TestLoadMODSWithoutFixMisc(t *testing.T) {
	c, err := Load(writeConfig(t, "processing:\n   fixDETSEC: Y\n   fixDateTime: Y\n   fixTemps: Y\n   makeOTM: Y\n"), envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Processing.FixMisc || sourceOf(c, "processing.fixMisc") != SourceDefault {
		t.Errorf("fixMisc = %v from %q, want on from default", c.Processing.FixMisc, sourceOf(c, "processing.fixMisc"))
	}
}

// Sections left empty (their keys commented out) and null lists are valid.
func TestNulls(t *testing.T) {
	c, err := Load(writeConfig(t, "server:\n  quitPeers: ~\npaths:\n  # dataDir: /data\ndelivery:\n  proc: null\n"), envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Server.QuitPeers) != 0 || sourceOf(c, "server.quitPeers") != SourceFile {
		t.Errorf("quitPeers: ~ gives %q from %q, want none from file", c.Server.QuitPeers, sourceOf(c, "server.quitPeers"))
	}
	if !strings.HasSuffix(c.Paths.DataDir, "/dataman-data/raw") || c.Proc != Default().Proc {
		t.Errorf("empty sections changed values: %+v", exported(c))
	}
}

// dataMan read N as true (any non-empty string); here it switches the step off.
func TestNMeansOff(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "config", "dataman_MODS1.ini"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), ": Y ", ": N ")
	if strings.Count(text, ": N ") != 5 {
		t.Fatalf("expected to switch 5 flags to N in:\n%s", text)
	}
	c, err := Load(writeConfig(t, text), envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Processing; got != (Processing{}) {
		t.Errorf("processing with N everywhere = %+v, want all off", got)
	}
}

func TestFlagSpellings(t *testing.T) {
	for _, tc := range []struct {
		yaml, env string // as written in the file, and as an environment value
		want      bool
	}{
		{"Y", "Y", true}, {"y", "y", true}, {"yes", "yes", true}, {"Yes", "Yes", true}, {"YES", "YES", true},
		{"true", "true", true}, {"True", "True", true}, {"TRUE", "TRUE", true},
		{"on", "on", true}, {"On", "On", true}, {"1", "1", true}, {`"Y"`, "Y", true}, {"'yes'", "yes", true},
		{"N", "N", false}, {"n", "n", false}, {"no", "no", false}, {"No", "No", false}, {"NO", "NO", false},
		{"false", "false", false}, {"False", "False", false}, {"FALSE", "FALSE", false},
		{"off", "off", false}, {"OFF", "OFF", false}, {"0", "0", false}, {`"N"`, "N", false},
	} {
		// Each spelling flips a flag away from its default: debug is off by
		// default, fixDETSEC on.
		key, envVar, get := "debug", "DATAMAN_DEBUG", func(c *Config) bool { return c.Debug }
		yamlText := "debug: " + tc.yaml + "\n"
		if !tc.want {
			key, envVar, get = "processing.fixDETSEC", "DATAMAN_PROCESSING_FIXDETSEC", func(c *Config) bool { return c.Processing.FixDETSEC }
			yamlText = "processing:\n  fixDETSEC: " + tc.yaml + "\n"
		}
		t.Run(tc.yaml, func(t *testing.T) {
			c, err := Load(writeConfig(t, yamlText), envOf(nil))
			if err != nil {
				t.Fatal(err)
			}
			if get(c) != tc.want {
				t.Errorf("file %q: %s = %v, want %v", yamlText, key, get(c), tc.want)
			}
			c, err = Load("", envOf(map[string]string{envVar: tc.env}))
			if err != nil {
				t.Fatal(err)
			}
			if get(c) != tc.want {
				t.Errorf("%s=%s: %s = %v, want %v", envVar, tc.env, key, get(c), tc.want)
			}
			c = Default()
			if err := c.Set(key, tc.env, SourceFlag); err != nil {
				t.Fatal(err)
			}
			if get(c) != tc.want {
				t.Errorf("Set(%s, %s) = %v, want %v", key, tc.env, get(c), tc.want)
			}
		})
	}
}

func TestFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string // want is the message after "config: <path>"
	}{
		{"empty", "", ": is empty"},
		{"only comments", "# nothing\n\n# here\n", ": is empty"},
		{"empty document", "---\n", ": is empty"},
		{"null document", "~\n", ": is empty"},
		{"bad flag", "debug: N\nprocessing:\n  fixTemps: Y\n  fixDETSEC: maybe\n", `:4: processing.fixDETSEC: "maybe" is not a flag (use Y or N)`},
		{"empty flag", "log:\n  file:\n", `:2: log.file: "" is not a flag (use Y or N)`},
		{"flag T", "debug: T\n", `:1: debug: "T" is not a flag (use Y or N)`},
		{"flag 2", "debug: 2\n", `:1: debug: "2" is not a flag (use Y or N)`},
		{"flag with space", "debug: 'Y '\n", `:1: debug: "Y " is not a flag (use Y or N)`},
		{"port zero", "server:\n  ipPort: 0\n", `:2: server.ipPort: "0" is out of range (1 to 65535)`},
		{"port high", "server:\n  ipPort: 65536\n", `:2: server.ipPort: "65536" is out of range (1 to 65535)`},
		{"port text", "server:\n  ipPort: ten\n", `:2: server.ipPort: "ten" is not a whole number`},
		{"port float", "server:\n  ipPort: 10301.5\n", `:2: server.ipPort: "10301.5" is not a whole number`},
		{"jobs zero", "jobs: 0\n", `:1: jobs: "0" is out of range (1 to 1024)`},
		{"queue negative", "queue: -1\n", `:1: queue: "-1" is out of range (1 to 1000000)`},
		{"bad ip", "server:\n  ipAddr: 192.168.139.1300\n", `:2: server.ipAddr: "192.168.139.1300" is not an IP address or host name`},
		{"empty ip", "server:\n  ipAddr: \"\"\n", `:2: server.ipAddr: "" is empty (use 0.0.0.0 to listen on every interface)`},
		{"bad peer", "server:\n  quitPeers:\n    - 127.0.0.1\n    - mods1\n", `:4: server.quitPeers: "mods1" is not an IP address`},
		{"bad peer inline", "server:\n  quitPeers: [\"::1\", 10.0.0.256]\n", `:2: server.quitPeers: "10.0.0.256" is not an IP address`},
		{"peer is a list", "server:\n  quitPeers:\n    - [127.0.0.1]\n", `:3: server.quitPeers: want an address, got a list`},
		{"bad peer scalar", "server:\n  quitPeers: 127.0.0.1, nowhere\n", `:2: server.quitPeers: "nowhere" is not an IP address`},
		{"empty path", "paths:\n  dataDir: \"\"\n", `:2: paths.dataDir: "" is empty (give a directory)`},
		{"null path", "paths:\n  repoDir:\n", `:2: paths.repoDir: "" is empty (give a directory)`},
		{"tilde path", "paths:\n  repoDir: ~\n", `:2: paths.repoDir: "" is empty (give a directory)`},
		{"null flag", "debug: null\n", `:1: debug: "" is not a flag (use Y or N)`},
		{"latitude", "site:\n  latitude: 91\n", `:2: site.latitude: "91" is out of range (-90 to 90)`},
		{"longitude", "site:\n  longitude: 109d53m\n", `:2: site.longitude: "109d53m" is not a number`},
		{"elevation nan", "site:\n  elevation: .nan\n", `:2: site.elevation: ".nan" is not a number`},
		{"elevation inf", "site:\n  elevation: inf\n", `:2: site.elevation: "inf" is not a number`},
		{"policy", "delivery:\n  repo:\n    collision: skip\n", `:3: delivery.repo.collision: "skip" is not a collision policy (use rename, error or overwrite)`},
		{"size", "delivery:\n  proc:\n    minFree: 2 gigs\n", `:3: delivery.proc.minFree: "2 gigs" is not a size (like 500MB, 2GiB or 0)`},
		{"size G", "delivery:\n  proc:\n    minFree: 2G\n", `:3: delivery.proc.minFree: "2G" is not a size (like 500MB, 2GiB or 0)`},
		{"size negative", "delivery:\n  proc:\n    minFree: -1GiB\n", `:3: delivery.proc.minFree: "-1GiB" is not a size (like 500MB, 2GiB or 0)`},
		{"size fraction", "delivery:\n  repo:\n    minFree: 1.5B\n", `:3: delivery.repo.minFree: "1.5B" is not a whole number of bytes`},
		{"size huge", "delivery:\n  repo:\n    minFree: 8EB\n", `:3: delivery.repo.minFree: "8EB" is not a size (like 500MB, 2GiB or 0)`},
		{"size overflow", "delivery:\n  repo:\n    minFree: 10000000TB\n", `:3: delivery.repo.minFree: "10000000TB" is too large`},
		{"duration", "delivery:\n  retry:\n    initial: 5 sec\n", `:3: delivery.retry.initial: "5 sec" is not a duration (like 30s, 5m or 1h30m)`},
		{"duration no unit", "delivery:\n  proc:\n    timeout: 30\n", `:3: delivery.proc.timeout: "30" is not a duration (like 30s, 5m or 1h30m)`},
		{"duration zero", "delivery:\n  retry:\n    max: 0s\n", `:3: delivery.retry.max: "0s" is not positive`},
		{"duration negative", "sweep:\n  minAge: -1s\n", `:2: sweep.minAge: "-1s" is negative`},
		{"schedule", "sweep:\n  schedule: every day\n", `:2: sweep.schedule: "every day" is not a cron schedule`},
		{"schedule zone only", "sweep:\n  schedule: TZ=UTC\n", `:2: sweep.schedule: "TZ=UTC" is not a cron schedule (like "*/15 * * * *" or "@hourly"): schedule "TZ=UTC": not a cron schedule`},
		{"schedule never fires", "sweep:\n  schedule: 0 0 30 2 *\n", `:2: sweep.schedule: "0 0 30 2 *" is not a cron schedule (like "*/15 * * * *" or "@hourly"): schedule "0 0 30 2 *": never fires`},
		{"unknown top", "debug: N\nfrobnicate: 1\n", `:2: frobnicate: "1": unknown key`},
		{"unknown nested", "paths:\n  dataDir: /data\n  rawDir: /raw\n", `:3: paths.rawDir: "/raw": unknown key`},
		{"wrong case", "paths:\n  datadir: /data\n", `:2: paths.datadir: "/data": unknown key (did you mean paths.dataDir?)`},
		{"wrong case section", "Server:\n  ipPort: 1\n", `:1: Server: unknown key (did you mean server?)`},
		{"merge key", "<<: {debug: Y}\n", `:1: <<: unknown key`},
		{"twice", "debug: N\njobs: 2\ndebug: Y\n", `:3: debug: given twice (first at line 1)`},
		{"section twice", "paths:\n  dataDir: /a\npaths:\n  procDir: /b\n", `:3: paths: given twice (first at line 1)`},
		{"key twice in section", "delivery:\n  proc:\n    timeout: 1s\n    timeout: 2s\n", `:4: delivery.proc.timeout: given twice (first at line 3)`},
		{"section is a value", "paths: /data\n", `:1: paths: want keys under it, got "/data"`},
		{"section is a list", "delivery:\n  - proc\n", `:2: delivery: want keys under it, got a list`},
		{"value is a mapping", "debug:\n  level: 1\n", `:2: debug: want a single value, got a mapping`},
		{"value is a list", "jobs: [1, 2]\n", `:1: jobs: want a single value, got a list`},
		{"key is a list", "? [a, b]\n: 1\n", `:1: want a key name, got a list`},
		{"top is a scalar", "hello\n", `:1: want keys at the top level, got "hello"`},
		{"top is a list", "- debug\n", `:1: want keys at the top level, got a list`},
		{"second document", "debug: N\n---\ndebug: Y\n", `:2: has a second YAML document; only one is read`},
		{"syntax", "server:\n  ipAddr: \"x\n", `: yaml: line 2: found unexpected end of stream`},
		{"tab", "server:\n\tipPort: 1\n", `: yaml: line 2: found character that cannot start any token`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, tc.yaml)
			_, err := Load(path, envOf(nil))
			if err == nil {
				t.Fatalf("Load(%q) succeeded, want error %q", tc.yaml, tc.want)
			}
			if want := "config: " + path + tc.want; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Load(%q):\n got %s\nwant %s", tc.yaml, err, want)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Path != path {
				t.Errorf("error %#v is not a *Error for %s", err, path)
			}
		})
	}
}

func TestEnvErrors(t *testing.T) {
	for _, tc := range []struct{ name, value, want string }{
		{"DATAMAN_SERVER_IPPORT", "x", `config: DATAMAN_SERVER_IPPORT: server.ipPort: "x" is not a whole number`},
		{"DATAMAN_PROCESSING_FIXDETSEC", "maybe", `config: DATAMAN_PROCESSING_FIXDETSEC: processing.fixDETSEC: "maybe" is not a flag (use Y or N)`},
		{"DATAMAN_DELIVERY_REPO_COLLISION", "keep", `config: DATAMAN_DELIVERY_REPO_COLLISION: delivery.repo.collision: "keep" is not a collision policy (use rename, error or overwrite)`},
		{"DATAMAN_PATHS_REPODIR", "", `config: DATAMAN_PATHS_REPODIR: paths.repoDir: "" is empty (give a directory)`},
		{"DATAMAN_SERVER_QUITPEERS", "127.0.0.1,,::1", `config: DATAMAN_SERVER_QUITPEERS: server.quitPeers: "" is not an IP address`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load("", envOf(map[string]string{tc.name: tc.value}))
			if err == nil || err.Error() != tc.want {
				t.Errorf("%s=%q: got %v\nwant %s", tc.name, tc.value, err, tc.want)
			}
		})
	}
}

func TestCheckEnv(t *testing.T) {
	for _, tc := range []struct {
		name    string
		environ []string
		allowed []string
		want    string
	}{
		{"none", []string{"HOME=/root", "PATH=/bin"}, nil, ""},
		{"known", []string{"DATAMAN_CONFIG=/x", "DATAMAN_PATHS_REPODIR=/n", "DATAMAN_DELIVERY_RETRY_MAX=1m"}, nil, ""},
		{"misspelt", []string{"DATAMAN_PATHS_REPO_DIR=/n"}, nil, "config: DATAMAN_PATHS_REPO_DIR: unknown environment variable"},
		{"camel case is not the name", []string{"DATAMAN_PATHS_repoDir=/n"}, nil, "config: DATAMAN_PATHS_repoDir: unknown environment variable"},
		{"allowed", []string{"DATAMAN_LOG_LEVEL=debug"}, []string{"DATAMAN_LOG_LEVEL"}, ""},
		{"several, sorted", []string{"DATAMAN_B=1", "DATAMAN_A=2", "DATAMAN_B=3"}, nil,
			"config: DATAMAN_A: unknown environment variable\nconfig: DATAMAN_B: unknown environment variable"},
		{"prefix is case-sensitive", []string{"dataman_foo=1", "XDATAMAN_FOO=1"}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckEnv(tc.environ, tc.allowed...)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("CheckEnv(%q) = %q, want %q", tc.environ, got, tc.want)
			}
		})
	}
}

// A nil env is the process environment, checked for unknown variables.
func TestLoadProcessEnv(t *testing.T) {
	t.Setenv("DATAMAN_JOBS", "7")
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Jobs != 7 || sourceOf(c, "jobs") != SourceEnv {
		t.Errorf("jobs = %d from %q, want 7 from env", c.Jobs, sourceOf(c, "jobs"))
	}
	t.Setenv("DATAMAN_JOB", "7")
	if _, err := Load("", nil); err == nil || err.Error() != "config: DATAMAN_JOB: unknown environment variable" {
		t.Errorf("Load with DATAMAN_JOB set: %v", err)
	}
}

func TestEnvVar(t *testing.T) {
	for key, want := range map[string]string{
		"paths.repoDir":           "DATAMAN_PATHS_REPODIR",
		"processing.fixDETSEC":    "DATAMAN_PROCESSING_FIXDETSEC",
		"delivery.repo.collision": "DATAMAN_DELIVERY_REPO_COLLISION",
		"jobs":                    "DATAMAN_JOBS",
	} {
		if got := EnvVar(key); got != want {
			t.Errorf("EnvVar(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestSetErrors(t *testing.T) {
	for _, tc := range []struct {
		key, value string
		src        Source
		want       string
	}{
		{"jobs", "0", SourceFlag, `config: jobs: "0" is out of range (1 to 1024)`},
		{"paths.rawDir", "/raw", SourceFlag, "config: paths.rawDir: \"/raw\": unknown key"},
		{"Jobs", "2", SourceFlag, "config: Jobs: \"2\": unknown key (did you mean jobs?)"},
		{"paths", "/x", SourceFlag, "config: paths: \"/x\": unknown key"},
		{"jobs", "2", Source("cli"), `config: jobs: unknown source "cli"`},
		// A lower source than the one recorded is still checked.
		{"debug", "maybe", SourceDefault, `config: debug: "maybe" is not a flag (use Y or N)`},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			c := Default()
			before := c.Entries()
			err := c.Set(tc.key, tc.value, tc.src)
			if err == nil || err.Error() != tc.want {
				t.Errorf("Set(%q, %q, %q) = %v, want %s", tc.key, tc.value, tc.src, err, tc.want)
			}
			if after := c.Entries(); !reflect.DeepEqual(before, after) {
				t.Errorf("a failed Set changed the config")
			}
		})
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	file := writeConfig(t, `
jobs: 3
paths:
  repoDir: /from/file
sweep:
  every: 1m
delivery:
  proc:
    collision: error
`)
	env := envOf(map[string]string{
		"DATAMAN_PATHS_REPODIR":         "/from/env",
		"DATAMAN_SWEEP_EVERY":           "2m",
		"DATAMAN_DELIVERY_REPO_MINFREE": "500MB",
		"DATAMAN_DELIVERY_PROC_TIMEOUT": "1m",
	})
	c, err := Load(file, env)
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]string{"sweep.every": "3m", "debug": "Y", "delivery.proc.timeout": "2m"}
	for k, v := range flags {
		if err := c.Set(k, v, SourceFlag); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]Entry{
		"queue":                   {Value: "256", Source: SourceDefault},
		"jobs":                    {Value: "3", Source: SourceFile},
		"delivery.proc.collision": {Value: "error", Source: SourceFile},
		"paths.repoDir":           {Value: "/from/env", Source: SourceEnv},
		"delivery.repo.minFree":   {Value: "500MB", Source: SourceEnv},
		"sweep.every":             {Value: "3m", Source: SourceFlag},
		"delivery.proc.timeout":   {Value: "2m", Source: SourceFlag},
		"debug":                   {Value: "Y", Source: SourceFlag},
		"paths.dataDir":           {Value: filepath.Join(dir, "dataman-data", "raw"), Source: SourceDefault},
	}
	check := func(when string) {
		t.Helper()
		for _, e := range c.Entries() {
			if w, ok := want[e.Key]; ok && (e.Value != w.Value || e.Source != w.Source) {
				t.Errorf("%s: %s = %q from %q, want %q from %q", when, e.Key, e.Value, e.Source, w.Value, w.Source)
			}
		}
	}
	check("after flags")
	if c.Sweep.Every != 3*time.Minute || c.Paths.RepoDir != "/from/env" || c.Repo.MinFree != 500e6 || !c.Debug {
		t.Errorf("fields disagree with Entries: %+v", exported(c))
	}

	// Lower sources arriving late do not win.
	for _, s := range []struct {
		key, value string
		src        Source
	}{
		{"sweep.every", "4m", SourceEnv},
		{"paths.repoDir", "/late/file", SourceFile},
		{"jobs", "4", SourceDefault},
	} {
		if err := c.Set(s.key, s.value, s.src); err != nil {
			t.Errorf("Set(%s, %s, %s): %v", s.key, s.value, s.src, err)
		}
	}
	check("after late lower sources")
}

func TestRelativePaths(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	// The file lives elsewhere: its relative paths still resolve against
	// the working directory, like the default's and the environment's.
	file := writeConfig(t, "paths:\n  dataDir: raw/../raw2\n  procDir: /abs/proc/\n")
	c, err := Load(file, envOf(map[string]string{"DATAMAN_PATHS_LOGDIR": "logs"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Set("paths.stateDir", "./st", SourceFlag); err != nil {
		t.Fatal(err)
	}
	want := Paths{
		DataDir:  filepath.Join(dir, "raw2"),
		ProcDir:  "/abs/proc",
		RepoDir:  filepath.Join(dir, "dataman-data", "newdata"),
		LogDir:   filepath.Join(dir, "logs"),
		StateDir: filepath.Join(dir, "st"),
	}
	if c.Paths != want {
		t.Errorf("paths = %+v\nwant %+v", c.Paths, want)
	}
}

func TestFallbackDir(t *testing.T) {
	old := FallbackDir
	t.Cleanup(func() { FallbackDir = old })
	FallbackDir = t.TempDir()
	t.Chdir(t.TempDir())
	inFallback := filepath.Join(FallbackDir, "dataman.ini")
	if err := os.WriteFile(inFallback, []byte("jobs: 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	c, err := Load("dataman.ini", envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Jobs != 5 || c.File() != inFallback {
		t.Errorf("relative missing name: jobs %d from %q, want 5 from %q", c.Jobs, c.File(), inFallback)
	}

	c, err = Load("", envOf(map[string]string{"DATAMAN_CONFIG": "dataman.ini"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Jobs != 5 || c.File() != inFallback {
		t.Errorf("DATAMAN_CONFIG: jobs %d from %q, want 5 from %q", c.Jobs, c.File(), inFallback)
	}

	// The working directory wins over the fallback.
	if err := os.WriteFile("dataman.ini", []byte("jobs: 6\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, err = Load("dataman.ini", envOf(nil)); err != nil || c.Jobs != 6 || c.File() != "dataman.ini" {
		t.Errorf("file in working directory: %v, %+v", err, c)
	}
	// And a given path wins over DATAMAN_CONFIG.
	if c, err = Load("dataman.ini", envOf(map[string]string{"DATAMAN_CONFIG": inFallback})); err != nil || c.Jobs != 6 {
		t.Errorf("path and DATAMAN_CONFIG: %v, %+v", err, c)
	}

	for _, tc := range []struct{ path, want string }{
		{"missing.ini", "config: open missing.ini: no such file or directory (nor in " + FallbackDir + ")"},
		{"/nowhere/missing.ini", "config: open /nowhere/missing.ini: no such file or directory"},
	} {
		_, err := Load(tc.path, envOf(nil))
		if err == nil || err.Error() != tc.want || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Load(%q) = %v, want %s (and fs.ErrNotExist)", tc.path, err, tc.want)
		}
	}
}

func TestTooLarge(t *testing.T) {
	path := writeConfig(t, "# "+strings.Repeat("x", maxFileSize)+"\n")
	if _, err := Load(path, envOf(nil)); err == nil || !strings.Contains(err.Error(), "too large for a configuration file") {
		t.Errorf("Load of a %d-byte file: %v", maxFileSize+3, err)
	}
}

func TestEntriesOrder(t *testing.T) {
	want := []string{
		"server.ipAddr", "server.ipPort", "server.quitPeers", "server.http",
		"paths.dataDir", "paths.procDir", "paths.repoDir", "paths.logDir", "paths.stateDir",
		"processing.fixDETSEC", "processing.fixDateTime", "processing.fixTemps", "processing.fixMisc", "processing.makeOTM",
		"debug", "jobs", "queue",
		"site.latitude", "site.longitude", "site.elevation",
		"delivery.proc.collision", "delivery.proc.minFree", "delivery.proc.timeout",
		"delivery.repo.collision", "delivery.repo.minFree", "delivery.repo.timeout", "delivery.repo.consumed",
		"delivery.retry.initial", "delivery.retry.max",
		"sweep.every", "sweep.minAge", "sweep.schedule",
		"status.pendingWarn", "status.pendingCrit", "status.minFreeWarn", "status.minFreeCrit",
		"log.file", "preview.enabled", "preview.asinh",
	}
	var got []string
	for _, e := range Default().Entries() {
		got = append(got, e.Key)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Entries keys =\n%q\nwant\n%q", got, want)
	}
}

// Every key's printed value must read back to the same configuration, so
// `dataman config` output can be pasted into a file or a flag.
func TestEntriesRoundTrip(t *testing.T) {
	c, err := Load(writeConfig(t, `
server: {ipAddr: mods1.lbto.org, quitPeers: ["::ffff:10.0.0.1", 192.168.139.1]}
site: {latitude: -0.5, longitude: -12.25, elevation: 0}
delivery:
  proc: {collision: Overwrite, minFree: 1.5GiB, timeout: 90m}
  repo: {minFree: 1234, timeout: 1500ms}
  retry: {initial: 1h0m30s}
sweep: {every: 0, schedule: "@hourly"}
`), envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	d := new(Config)
	for _, e := range c.Entries() {
		if err := d.Set(e.Key, e.Value, e.Source); err != nil {
			t.Errorf("Set(%q, %q): %v", e.Key, e.Value, err)
		}
	}
	if !reflect.DeepEqual(exported(c), exported(d)) || !reflect.DeepEqual(c.Entries(), d.Entries()) {
		t.Errorf("round trip through Entries:\n got %+v\nwant %+v", exported(d), exported(c))
	}
	if !c.Site.Set || c.Proc.MinFree != 3<<29 || c.Repo.Timeout != 1500*time.Millisecond {
		t.Errorf("unexpected values: %+v", exported(c))
	}
}

// Alternative valid values for every key, for tests that change one key at
// a time.
var otherValues = map[string]string{
	"server.ipAddr": "0.0.0.0", "server.ipPort": "10302", "server.quitPeers": "10.0.0.1", "server.http": "127.0.0.1:9310",
	"paths.dataDir": "/d", "paths.procDir": "/p", "paths.repoDir": "/r", "paths.logDir": "/l", "paths.stateDir": "/s",
	"processing.fixDETSEC": "N", "processing.fixDateTime": "N", "processing.fixTemps": "N",
	"processing.fixMisc": "N", "processing.makeOTM": "N",
	"debug": "Y", "jobs": "8", "queue": "16",
	"site.latitude": "19.8253", "site.longitude": "155.4689", "site.elevation": "4204",
	"delivery.proc.collision": "error", "delivery.proc.minFree": "0", "delivery.proc.timeout": "1m",
	"delivery.repo.collision": "overwrite", "delivery.repo.minFree": "2GiB", "delivery.repo.timeout": "5s",
	"delivery.repo.consumed": "N",
	"delivery.retry.initial": "1s", "delivery.retry.max": "1h",
	"sweep.every": "1h", "sweep.minAge": "0s", "sweep.schedule": "*/15 * * * *",
	"status.pendingWarn": "0s", "status.pendingCrit": "2h", "status.minFreeWarn": "0", "status.minFreeCrit": "1GiB",
	"log.file": "Y", "preview.enabled": "N", "preview.asinh": "Y",
}

func TestProcessingHash(t *testing.T) {
	// The canonical text, written out: changing it changes every ledger's
	// notion of "same processing", so it must be a deliberate edit.
	const text = "dataman processing v1\n" +
		"processing.fixDETSEC=Y\nprocessing.fixDateTime=Y\nprocessing.fixTemps=Y\nprocessing.fixMisc=Y\nprocessing.makeOTM=Y\n" +
		"site.latitude=32.70131\nsite.longitude=109.88906\nsite.elevation=3221\n"
	sum := sha256.Sum256([]byte(text))
	want := "sha256:" + hex.EncodeToString(sum[:8])
	base := Default().ProcessingHash()
	if base != want {
		t.Fatalf("Default().ProcessingHash() = %s, want %s", base, want)
	}

	wantHashed := []string{
		"processing.fixDETSEC", "processing.fixDateTime", "processing.fixTemps", "processing.fixMisc", "processing.makeOTM",
		"site.latitude", "site.longitude", "site.elevation",
	}
	for _, e := range Default().Entries() {
		v, ok := otherValues[e.Key]
		if !ok {
			t.Errorf("otherValues has no value for %s", e.Key)
			continue
		}
		if v == e.Value {
			t.Errorf("otherValues[%s] = %q is the default", e.Key, v)
		}
		c := Default()
		if err := c.Set(e.Key, v, SourceFlag); err != nil {
			t.Fatal(err)
		}
		if changed, want := c.ProcessingHash() != base, slices.Contains(wantHashed, e.Key); changed != want {
			t.Errorf("setting %s=%s: hash changed %v, want %v", e.Key, v, changed, want)
		}
	}

	// Negative zero is the same site as zero.
	a, b := Default(), Default()
	a.Set("site.elevation", "0", SourceFlag)
	b.Set("site.elevation", "-0", SourceFlag)
	if a.ProcessingHash() != b.ProcessingHash() {
		t.Errorf("elevation 0 and -0 hash differently")
	}
}

func TestSite(t *testing.T) {
	c := Default()
	if c.Site.Set {
		t.Errorf("Default() site is marked as configured")
	}
	if err := c.Set("site.elevation", "3221", SourceEnv); err != nil {
		t.Fatal(err)
	}
	if !c.Site.Set {
		t.Errorf("a site key from the environment does not mark the site as configured")
	}
}

func TestServerValues(t *testing.T) {
	for _, tc := range []struct {
		key, value, want string
	}{
		{"server.ipAddr", "localhost", "localhost"},
		{"server.ipAddr", "mods1.lbto.arizona.edu.", "mods1.lbto.arizona.edu."},
		{"server.ipAddr", "::", "::"},
		{"server.ipAddr", "fe80::1%eth0", "fe80::1%eth0"},
		{"server.ipAddr", "-mods1", "error"},
		{"server.ipAddr", "mods_1", "error"},
		{"server.ipAddr", "a..b", "error"},
		{"server.ipAddr", "10.0.0.1:10301", "error"},
		{"server.quitPeers", "", ""},
		{"server.quitPeers", " 127.0.0.1 , ::1", "127.0.0.1,::1"},
		{"server.quitPeers", "::FFFF:7F00:1", "::ffff:127.0.0.1"},
		{"server.quitPeers", "127.0.0.1/8", "error"},
		{"server.http", "", ""},
		{"server.http", "127.0.0.1:9310", "127.0.0.1:9310"},
		{"server.http", ":9310", "error"},
		{"server.http", "127.0.0.1", "error"},
		{"server.http", "127.0.0.1:70000", "error"},
	} {
		c := Default()
		err := c.Set(tc.key, tc.value, SourceFlag)
		got := "error"
		if err == nil {
			got = c.Entries()[slices.IndexFunc(c.Entries(), func(e Entry) bool { return e.Key == tc.key })].Value
		}
		if got != tc.want {
			t.Errorf("Set(%s, %q) gives %q (%v), want %q", tc.key, tc.value, got, err, tc.want)
		}
	}
}

func TestCheckOverlappingFolders(t *testing.T) {
	tests := []struct {
		name               string
		data, proc, repo   string
		wantKey, wantWhere string // "" when the folders are apart
	}{
		{"apart", "/data", "/home/data", "/lbt/data/new", "", ""},
		{"siblings with a common prefix", "/data", "/data2", "/data-new", "", ""},
		{"a name that starts with two dots", "/x/raw", "/x/raw/..proc", "/x/new", "paths.procDir", "is inside paths.dataDir /x/raw"},
		{"repoDir inside dataDir", "/data", "/home/data", "/data/new", "paths.repoDir", "/data/new is inside paths.dataDir /data"},
		{"procDir inside dataDir", "/data", "/data/proc", "/newdata", "paths.procDir", "/data/proc is inside paths.dataDir /data"},
		{"dataDir inside procDir", "/home/data/raw", "/home/data", "/newdata", "paths.procDir", "paths.dataDir /home/data/raw is inside paths.procDir /home/data"},
		{"dataDir inside repoDir", "/newdata/raw", "/home/data", "/newdata", "paths.repoDir", "paths.dataDir /newdata/raw is inside paths.repoDir /newdata"},
		{"the same folder", "/data", "/home/data", "/data", "paths.repoDir", "paths.repoDir and paths.dataDir are the same folder, /data"},
		{"the root", "/", "/home/data", "/newdata", "paths.procDir", "paths.procDir /home/data is inside paths.dataDir /"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			for k, v := range map[string]string{"paths.dataDir": tt.data, "paths.procDir": tt.proc, "paths.repoDir": tt.repo} {
				if err := c.Set(k, v, SourceFlag); err != nil {
					t.Fatal(err)
				}
			}
			err := c.Check()
			if tt.wantKey == "" {
				if err != nil {
					t.Errorf("Check: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantKey) || !strings.Contains(err.Error(), tt.wantWhere) || !strings.Contains(err.Error(), "paths.dataDir") {
				t.Errorf("Check: %v; want it to name %s and paths.dataDir: %q", err, tt.wantKey, tt.wantWhere)
			}
		})
	}
	if err := Default().Check(); err != nil {
		t.Errorf("the built-in default: %v", err)
	}
}
