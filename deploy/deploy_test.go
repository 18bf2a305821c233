package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/obsdata/dataman/internal/config"
)

// need returns the path of a tool the test runs. Where it is missing the test
// is skipped, except in CI, whose machine must have it.
func need(t *testing.T, tool string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is needed and missing (CI=true): install it (%v)", tool, err)
		}
		t.Skipf("%s is not installed: %v", tool, err)
	}
	return path
}

// run runs a command and returns its combined output, failing the test if
// it does not exit 0.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// unit is a unit file as systemd reads it: "Section.Key" → every value given,
// in order (keys such as ReadWritePaths= may be repeated).
type unit map[string][]string

func readUnit(t *testing.T, path string) unit {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	u := unit{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", path, n, line)
			}
			u[section+"."+k] = append(u[section+"."+k], v)
		}
	}
	return u
}

// one returns the single value of key, failing if it is absent or repeated.
func (u unit) one(t *testing.T, key string) string {
	t.Helper()
	if len(u[key]) != 1 {
		t.Fatalf("%s: want one value, have %q", key, u[key])
	}
	return u[key][0]
}

// words returns every whitespace-separated word given for key.
func (u unit) words(key string) []string {
	var w []string
	for _, v := range u[key] {
		w = append(w, strings.Fields(v)...)
	}
	return w
}

var units = []string{"dataman-listen@.service", "dataman-sweep@.service", "dataman-sweep@.timer"}

// instances are the names systemd-analyze is asked about: instantiating the
// templates is what expands %i and the other specifiers.
var instances = []string{"dataman-listen@mods1.service", "dataman-sweep@mods1.service", "dataman-sweep@mods1.timer"}

// install runs the Makefile's target into a temporary tree with the binary
// built once per test; it returns PREFIX.
func install(t *testing.T, bin, target string, vars ...string) string {
	t.Helper()
	prefix := filepath.Join(t.TempDir(), "prefix")
	args := append([]string{"-C", ".", target, "PREFIX=" + prefix, "BIN=" + bin, "GOBUILDFLAGS="}, vars...)
	run(t, nil, need(t, "make"), args...)
	return prefix
}

// buildOnce builds dataman through the Makefile's default target, so the
// build rule is tested too.
func buildOnce(t *testing.T) string {
	t.Helper()
	need(t, "go")
	bin := filepath.Join(t.TempDir(), "dataman")
	run(t, nil, need(t, "make"), "-C", ".", "all", "BIN="+bin, "GOBUILDFLAGS=")
	if out := run(t, nil, bin, "--version"); !strings.HasPrefix(out, "dataman version ") {
		t.Fatalf("built binary: --version printed %q", out)
	}
	return bin
}

// TestUnitsVerify installs the units as "make install" and "make
// install-user" do and has systemd check them. systemd-analyze verify exits
// 0 on many mistakes it only warns about (an unknown key, a bad time span, an
// unparsable OnCalendar=), so any output at all fails the test.
func TestUnitsVerify(t *testing.T) {
	analyze := need(t, "systemd-analyze")
	bin := buildOnce(t)

	t.Run("system", func(t *testing.T) {
		prefix := install(t, bin, "install")
		for _, f := range []string{"bin/dataman", "share/man/man1/dataman.1", "share/bash-completion/completions/dataman",
			"share/zsh/site-functions/_dataman", "share/fish/vendor_completions.d/dataman.fish",
			"share/doc/dataman/mods1.yaml.example", "share/doc/dataman/INSTALL.md"} {
			if _, err := os.Stat(filepath.Join(prefix, f)); err != nil {
				t.Errorf("make install: %v", err)
			}
		}
		dir := filepath.Join(prefix, "lib/systemd/system")
		for _, name := range []string{units[0], units[1]} {
			u := readUnit(t, filepath.Join(dir, name))
			if exe := strings.Fields(u.one(t, "Service.ExecStart"))[0]; exe != filepath.Join(prefix, "bin/dataman") {
				t.Errorf("installed %s: ExecStart runs %s, want the installed binary", name, exe)
			}
		}
		args := []string{"verify", "--man=no"}
		for _, in := range instances {
			args = append(args, filepath.Join(dir, in))
		}
		if out := run(t, nil, analyze, args...); out != "" {
			t.Errorf("systemd-analyze verify warned:\n%s", out)
		}
		// The exposure score systemd computes from the sandbox settings (0
		// to 100; "OK" up to 20 on its 0.0 to 10.0 display). A dropped
		// hardening line raises it.
		for _, in := range instances[:2] {
			run(t, nil, analyze, "security", "--offline=yes", "--threshold=20", "--no-pager", filepath.Join(dir, in))
		}
	})

	t.Run("user", func(t *testing.T) {
		prefix := install(t, bin, "install-user")
		dir := filepath.Join(prefix, "share/systemd/user")
		for _, name := range units {
			u := readUnit(t, filepath.Join(dir, name))
			for _, k := range []string{"Service.User", "Service.Group", "Service.ProtectSystem", "Service.ReadWritePaths"} {
				if len(u[k]) > 0 {
					t.Errorf("user %s still has %s=%s", name, k, u[k])
				}
			}
			if name != units[2] {
				if ef := u.one(t, "Service.EnvironmentFile"); ef != "%E/dataman/%i.env" {
					t.Errorf("user %s: EnvironmentFile=%s, want the user's config dir", name, ef)
				}
			}
		}
		if w := readUnit(t, filepath.Join(dir, units[0])).one(t, "Install.WantedBy"); w != "default.target" {
			t.Errorf("user listen unit: WantedBy=%s; a user manager has no multi-user.target", w)
		}
		// A user manager needs a runtime directory, even for verify.
		runtime := t.TempDir()
		if err := os.Chmod(runtime, 0o700); err != nil {
			t.Fatal(err)
		}
		args := []string{"--user", "verify", "--man=no"}
		for _, in := range instances {
			args = append(args, filepath.Join(dir, in))
		}
		if out := run(t, []string{"XDG_RUNTIME_DIR=" + runtime}, analyze, args...); out != "" {
			t.Errorf("systemd-analyze --user verify warned:\n%s", out)
		}
	})
}

// TestUnitSettings holds the settings the service contract depends on, so
// an edit that drops one fails here rather than on the mountain.
func TestUnitSettings(t *testing.T) {
	listen := readUnit(t, units[0])
	sweep := readUnit(t, units[1])
	timer := readUnit(t, units[2])

	want := map[string]string{
		"Service.Type":            "notify",
		"Service.NotifyAccess":    "main",
		"Service.WatchdogSec":     "60",
		"Service.Restart":         "always",
		"Service.RestartSec":      "10",
		"Service.EnvironmentFile": "/etc/dataman/%i.env",
		"Service.ExecStart":       "/usr/local/bin/dataman listen",
		"Service.User":            "dataman",
		"Service.Group":           "dataman",
		"Service.ProtectSystem":   "strict",
		"Service.ProtectHome":     "read-only",
		"Service.NoNewPrivileges": "yes",
		"Service.PrivateTmp":      "yes",
		"Install.WantedBy":        "multi-user.target",
	}
	for k, v := range want {
		if got := listen.one(t, k); got != v {
			t.Errorf("%s: %s=%s, want %s", units[0], k, got, v)
		}
	}
	// dataMan came back 10 s after any exit, the quit command's included,
	// and the camera server relies on it: nothing may keep it down but
	// "systemctl stop".
	for _, k := range []string{"Service.RestartPreventExitStatus", "Service.SuccessExitStatus", "Unit.StartLimitIntervalSec", "Unit.StartLimitBurst", "Unit.StartLimitAction"} {
		if v := listen[k]; len(v) > 0 {
			t.Errorf("%s: %s=%s could keep a stopped listener down", units[0], k, v)
		}
	}
	for _, target := range []string{"network-online.target", "remote-fs.target"} {
		if !slices.Contains(listen.words("Unit.After"), target) {
			t.Errorf("%s: After= lacks %s", units[0], target)
		}
	}
	if !slices.Contains(listen.words("Unit.Wants"), "network-online.target") {
		t.Errorf("%s: Wants= lacks network-online.target (After= alone does not pull it in)", units[0])
	}

	if got := sweep.one(t, "Service.Type"); got != "oneshot" {
		t.Errorf("%s: Type=%s, want oneshot", units[1], got)
	}
	if got := sweep.one(t, "Service.ExecStart"); got != "/usr/local/bin/dataman sweep --wait 10m" {
		t.Errorf("%s: ExecStart=%s", units[1], got)
	}
	if len(sweep["Install.WantedBy"]) > 0 {
		t.Errorf("%s: has [Install]; only its timer should start it", units[1])
	}
	// The sweep must see what listen sees and write where it writes: the
	// same config, account, ledger and sandbox.
	for k, v := range listen {
		section, key, _ := strings.Cut(k, ".")
		if section != "Service" || slices.Contains([]string{"Type", "NotifyAccess", "WatchdogSec", "Restart", "RestartSec", "ExecStart"}, key) {
			continue
		}
		if !slices.Equal(sweep[k], v) {
			t.Errorf("%s=%q in %s but %q in %s", key, v, units[0], sweep[k], units[1])
		}
	}

	if got := timer.one(t, "Timer.Persistent"); got != "true" {
		t.Errorf("%s: Persistent=%s, want true (catch up a run missed while down)", units[2], got)
	}
	cal := timer.one(t, "Timer.OnCalendar")
	if analyze, err := exec.LookPath("systemd-analyze"); err == nil {
		run(t, nil, analyze, "calendar", cal)
	}
	if got := timer.one(t, "Install.WantedBy"); got != "timers.target" {
		t.Errorf("%s: WantedBy=%s, want timers.target", units[2], got)
	}
}

// readEnv reads a systemd environment file: KEY=value lines and comments.
func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: not KEY=value: %q", path, line)
		}
		env[k] = v
	}
	return env
}

// TestExampleConfig loads the example configuration as the mods1 units
// would and checks it against the units: every path dataman writes to is
// writable inside their sandbox, and the state directory is the one systemd
// creates for the instance.
func TestExampleConfig(t *testing.T) {
	const instance = "mods1"
	listen := readUnit(t, units[0])
	envFile := strings.ReplaceAll(listen.one(t, "Service.EnvironmentFile"), "%i", instance)
	if filepath.Base(envFile)+".example" != instance+".env.example" {
		t.Fatalf("the units read %s; the example is %s.env.example", envFile, instance)
	}
	env := readEnv(t, instance+".env.example")
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	if err := config.CheckEnv(environ); err != nil {
		t.Errorf("%s.env.example: %v", instance, err)
	}
	if got, want := env[config.EnvConfig], "/etc/dataman/"+instance+".yaml"; got != want {
		t.Errorf("%s.env.example: %s=%s, want %s", instance, config.EnvConfig, got, want)
	}

	// The file by its path here; the environment file's other variables
	// (none set, as shipped) over it, as in the service.
	delete(env, config.EnvConfig)
	cfg, err := config.Load(instance+".yaml.example", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range cfg.Entries() {
		if e.Source != config.SourceFile {
			t.Errorf("%s.yaml.example does not set %s (source %q): the example should show every key", instance, e.Key, e.Source)
		}
	}

	writable := func(u unit, path string) bool {
		for _, p := range u.words("Service.ReadWritePaths") {
			p = strings.TrimLeft(p, "-+")
			if path == p || strings.HasPrefix(path, strings.TrimSuffix(p, "/")+"/") {
				return true
			}
		}
		return false
	}
	for _, name := range units[:2] {
		u := readUnit(t, name)
		for key, path := range map[string]string{
			"paths.procDir": cfg.Paths.ProcDir, "paths.repoDir": cfg.Paths.RepoDir, "paths.logDir": cfg.Paths.LogDir,
		} {
			if !writable(u, filepath.Clean(path)) {
				t.Errorf("%s: %s %s is read-only in the sandbox (ReadWritePaths=%q)", name, key, path, u["Service.ReadWritePaths"])
			}
		}
		state := "/var/lib/" + strings.ReplaceAll(u.one(t, "Service.StateDirectory"), "%i", instance)
		if cfg.Paths.StateDir != state {
			t.Errorf("%s: paths.stateDir is %s but systemd makes %s writable", name, cfg.Paths.StateDir, state)
		}
	}
}

// polkitCase is one question put to the rule: may a subject in groups do
// action on unit? Want is the rule's answer, "none" when it says nothing and
// leaves the decision to polkit's defaults.
type polkitCase struct {
	Action string   `json:"action"`
	Unit   string   `json:"unit"`
	Groups []string `json:"groups"`
	Want   string   `json:"-"`
}

const manageUnits = "org.freedesktop.systemd1.manage-units"

// askPolkit runs the rules file in engine (a JavaScript interpreter taking a
// script file) with a stand-in for polkit's API and returns its answer to
// each case.
func askPolkit(t *testing.T, engine, rules string, cases []polkitCase) []string {
	t.Helper()
	src, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(cases)
	if err != nil {
		t.Fatal(err)
	}
	// ES5 only, as polkit's duktape runs it.
	harness := `var rules = [];
var polkit = {
  Result: {YES: "yes", NO: "no", AUTH_SELF: "auth_self", AUTH_SELF_KEEP: "auth_self_keep",
           AUTH_ADMIN: "auth_admin", AUTH_ADMIN_KEEP: "auth_admin_keep", NOT_HANDLED: "not_handled"},
  addRule: function (f) { rules.push(f); },
  addAdminRule: function (f) {},
  log: function (m) {},
  spawn: function () { throw new Error("the rule must not run programs"); }
};
` + string(src) + `
var cases = ` + string(js) + `;
var say = typeof print === "function" ? print : console.log;
for (var i = 0; i < cases.length; i++) {
  (function (c) {
    var action = {id: c.action, lookup: function (k) { return k === "unit" && c.unit !== "" ? c.unit : undefined; }};
    var subject = {user: "operator", local: true, active: true,
                   isInGroup: function (g) { return (c.groups || []).indexOf(g) >= 0; },
                   isInNetGroup: function (g) { return false; }};
    var answer = "none";
    for (var j = 0; j < rules.length; j++) {
      var r = rules[j](action, subject);
      if (r !== undefined && r !== null) { answer = r; break; }
    }
    say(answer);
  })(cases[i]);
}
`
	script := filepath.Join(t.TempDir(), "harness.js")
	if err := os.WriteFile(script, []byte(harness), 0o644); err != nil {
		t.Fatal(err)
	}
	out := strings.Fields(run(t, nil, engine, script))
	if len(out) != len(cases) {
		t.Fatalf("%s: %d answers for %d cases:\n%s", engine, len(out), len(cases), strings.Join(out, "\n"))
	}
	return out
}

func polkitCases(group string) []polkitCase {
	return []polkitCase{
		{manageUnits, "dataman-listen@mods1.service", []string{group}, "yes"},
		{manageUnits, "dataman-sweep@mods1.timer", []string{"users", group}, "yes"},
		{manageUnits, "dataman-sweep@mods2.service", []string{group}, "yes"},
		{manageUnits, "dataman-listen@mods1.service", []string{"users", "wheel"}, "none"},
		{manageUnits, "dataman-listen@mods1.service", nil, "none"},
		{manageUnits, "sshd.service", []string{group}, "none"},
		{manageUnits, "xdataman-listen@mods1.service", []string{group}, "none"},
		{manageUnits, "dataman-listen@.service", []string{group}, "none"},
		{manageUnits, "", []string{group}, "none"},
		{"org.freedesktop.systemd1.manage-unit-files", "dataman-listen@mods1.service", []string{group}, "none"},
		{"org.freedesktop.login1.reboot", "", []string{group}, "none"},
	}
}

func checkPolkit(t *testing.T, engine, rules string, cases []polkitCase) {
	t.Helper()
	for i, got := range askPolkit(t, engine, rules, cases) {
		if c := cases[i]; got != c.Want {
			t.Errorf("%s: %s on %q by a member of %q: rule says %s, want %s", filepath.Base(engine), c.Action, c.Unit, c.Groups, got, c.Want)
		}
	}
}

// TestPolkitRule runs the rule in the engine polkit itself uses (duktape's
// duk, ES5 only, where installed) and in node, with a stand-in polkit object.
func TestPolkitRule(t *testing.T) {
	var engines []string
	for _, e := range []string{"duk", "node"} {
		if p, err := exec.LookPath(e); err == nil {
			engines = append(engines, p)
		}
	}
	if len(engines) == 0 {
		need(t, "node")
	}
	for _, engine := range engines {
		checkPolkit(t, engine, "50-dataman.rules", polkitCases("mods-ops"))
	}
	// make install-polkit OPS_GROUP= must change whose rule it is.
	dest := t.TempDir()
	run(t, nil, need(t, "make"), "-C", ".", "install-polkit", "DESTDIR="+dest, "OPS_GROUP=seeing-ops")
	installed := filepath.Join(dest, "etc/polkit-1/rules.d/50-dataman.rules")
	for _, engine := range engines {
		checkPolkit(t, engine, installed, polkitCases("seeing-ops"))
		checkPolkit(t, engine, installed, []polkitCase{{manageUnits, "dataman-listen@mods1.service", []string{"mods-ops"}, "none"}})
	}
}

// TestDukIsES5 proves the polkit test can catch what only polkit's engine
// rejects: an arrow function runs in node but not in duk.
func TestDukIsES5(t *testing.T) {
	duk, err := exec.LookPath("duk")
	if err != nil {
		t.Skip("duk (Debian package duktape) is not installed; TestPolkitRule then runs the rule in node only")
	}
	script := filepath.Join(t.TempDir(), "es6.js")
	if err := os.WriteFile(script, []byte("var f = (x) => x; print(f(1));\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(duk, script).CombinedOutput(); err == nil {
		t.Fatalf("duk ran ES6 syntax (%s): the polkit test would not catch it", out)
	}
}

// TestRestartDocumented: INSTALL.md and the man page say what the unit
// does when listen stops.
func TestRestartDocumented(t *testing.T) {
	want := "Restart=" + readUnit(t, units[0]).one(t, "Service.Restart")
	for _, path := range []string{"INSTALL.md", "../man/dataman.1"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), want) {
			t.Errorf("%s does not say %s", path, want)
		}
	}
}
