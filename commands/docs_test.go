package commands

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/obsdata/dataman/internal/control"
	"github.com/obsdata/dataman/internal/exitcode"
	"github.com/obsdata/dataman/sweep"
)

// TestDocsUpToDate fails when the committed man page or completions are not
// what the app definition generates now.
func TestDocsUpToDate(t *testing.T) {
	problems, err := CheckDocs(New("test"), "..")
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) > 0 {
		t.Errorf("man/ and completions/ are out of date with the code:\n  %s\nregenerate them, from the repository top, with:\n  %s",
			strings.Join(problems, "\n  "), RegenerateDocs)
	}
}

// TestCheckDocsFindsDrift shows the drift check failing on a changed, a
// missing and a stray file, and only on those.
func TestCheckDocsFindsDrift(t *testing.T) {
	root := t.TempDir()
	man, compl := filepath.Join(root, "man"), filepath.Join(root, "completions")
	if err := WriteDocs(New("test"), man, compl); err != nil {
		t.Fatal(err)
	}
	if problems, err := CheckDocs(New("test"), root); err != nil || len(problems) > 0 {
		t.Fatalf("freshly written docs: problems %q, err %v", problems, err)
	}
	f, err := os.OpenFile(filepath.Join(man, ManPage), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(".SH HAND EDIT\n")
	f.Close()
	if err := os.Remove(filepath.Join(compl, ZshCompletion)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(compl, "dataman.old"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	problems, err := CheckDocs(New("test"), root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"completions/" + ZshCompletion + " is missing", "man/" + ManPage + " differs", "completions/dataman.old is not generated"}
	if len(problems) != len(want) {
		t.Fatalf("problems = %q, want %d", problems, len(want))
	}
	for _, w := range want {
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.HasPrefix(p, w) }) {
			t.Errorf("no problem starting %q in %q", w, problems)
		}
	}
}

// TestGendocsCommand runs the hidden command as the documented regeneration
// command does and checks it writes exactly what the drift test compares.
func TestGendocsCommand(t *testing.T) {
	dir := t.TempDir()
	app := New("test")
	app.Writer, app.ErrWriter = new(bytes.Buffer), new(bytes.Buffer)
	args := strings.Fields(RegenerateDocs)[3:] // after "go run ./cmd/dataman"
	args = []string{"dataman", args[0], args[1], filepath.Join(dir, args[2]), args[3], filepath.Join(dir, args[4])}
	if err := app.Run(args); err != nil {
		t.Fatal(err)
	}
	if problems, err := CheckDocs(New("test"), dir); err != nil || len(problems) > 0 {
		t.Errorf("after %q: problems %q, err %v", args, problems, err)
	}
	app = New("test")
	app.Writer, app.ErrWriter = new(bytes.Buffer), new(bytes.Buffer)
	if err := app.Run([]string{"dataman", "gendocs"}); exitcode.Code(err) != exitcode.Usage {
		t.Errorf("gendocs with no directory: %v (status %d), want a usage error", err, exitcode.Code(err))
	}
}

// renderMan typesets a man page as plain text on one long line per
// paragraph, with runs of spaces collapsed, so prose can be searched for.
func renderMan(t *testing.T, page string) string {
	t.Helper()
	groff, err := exec.LookPath("groff")
	if err != nil {
		t.Skipf("groff is not installed: %v", err)
	}
	cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-rLL=1000n", "-P-cbou")
	cmd.Stdin = strings.NewReader(page)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("groff: %v\n%s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("groff warns about the man page:\n%s", stderr.String())
	}
	text := strings.Join(strings.Fields(string(out)), " ")
	// groff typesets - and ' as typographic characters.
	return strings.NewReplacer("‐", "-", "−", "-", "’", "'", "‘", "'").Replace(text)
}

func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

func TestManPage(t *testing.T) {
	app := New("test")
	page, err := Man(app)
	if err != nil {
		t.Fatal(err)
	}
	text := renderMan(t, page)
	for _, c := range app.Commands {
		if c.Hidden {
			if strings.Contains(page, c.Usage) {
				t.Errorf("hidden command %s is in the man page", c.Name)
			}
			continue
		}
		for _, want := range []string{squash(c.Usage), squash(c.Description)} {
			if !strings.Contains(text, want) {
				t.Errorf("man page lacks %s's text %q", c.Name, want)
			}
		}
		exit := "dataman " + c.Name
		for _, s := range exitStatuses[c.Name] {
			exit += " " + squash(strings.Join([]string{strconv.Itoa(s.code), s.what}, " "))
		}
		if !strings.Contains(text, exit) {
			t.Errorf("man page EXIT STATUS lacks %q", exit)
		}
	}
	for _, want := range []string{"EXIT STATUS", "ENVIRONMENT", "FILES", "SEE ALSO",
		"stateDir/ledger/CHAN.ledger", "stateDir/" + control.PidFile, "stateDir/" + control.StatusFile,
		"stateDir/" + control.LockFile, "stateDir/" + sweep.LockName, "status " + strconv.Itoa(exitcode.Locked)} {
		if !strings.Contains(text, want) {
			t.Errorf("man page lacks %q", want)
		}
	}
}

// TestManKeepsMarkup feeds the page text that markdown would take for markup
// or HTML; it must come out as written.
func TestManKeepsMarkup(t *testing.T) {
	app := &cli.App{Name: "dataman", Usage: "test", Version: "1", HideHelpCommand: true, Commands: []*cli.Command{{
		Name:        "condition",
		Usage:       "store in procDir/<obsdate>/",
		ArgsUsage:   "RAW... [--night CCYYMMDD]",
		Description: "Reads <dataDir>/<chan>/*.fits, snake_case_names and [brackets](parens);\n# not a heading\n- not a list\n1. not numbered",
		Flags:       []cli.Flag{&cli.StringFlag{Name: "out", Usage: "write into `DIR`/<chan>/"}},
	}}}
	page, err := Man(app)
	if err != nil {
		t.Fatal(err)
	}
	text := renderMan(t, page)
	for _, want := range []string{"store in procDir/<obsdate>/", "dataman condition [OPTIONS] RAW... [--night CCYYMMDD]",
		"Reads <dataDir>/<chan>/*.fits, snake_case_names and [brackets](parens); # not a heading - not a list 1. not numbered",
		"write into DIR/<chan>/"} {
		if !strings.Contains(text, want) {
			t.Errorf("man page lost %q; it reads:\n%s", want, text)
		}
	}
}

func TestManNeedsExitStatuses(t *testing.T) {
	app := &cli.App{Name: "dataman", Version: "1", HideHelpCommand: true, Commands: []*cli.Command{{Name: "undocumented", Usage: "x"}}}
	if _, err := Man(app); err == nil || !strings.Contains(err.Error(), "exitStatuses") {
		t.Errorf("Man of a command without exit statuses: err = %v, want one naming exitStatuses", err)
	}
}

// TestHelpEndsWithExitStatus checks every command's --help, hidden ones too.
func TestHelpEndsWithExitStatus(t *testing.T) {
	for _, c := range New("test").Commands {
		if c.Name == "help" {
			continue // urfave answers "help --help" itself, with the app's help
		}
		app := New("test")
		var out bytes.Buffer
		app.Writer, app.ErrWriter = &out, &out
		if err := app.Run([]string{"dataman", c.Name, "--help"}); err != nil {
			t.Errorf("%s --help: %v", c.Name, err)
			continue
		}
		help := strings.TrimRight(out.String(), "\n")
		i := strings.LastIndex(help, "\nEXIT STATUS:\n")
		if i < 0 {
			t.Errorf("%s --help has no EXIT STATUS section:\n%s", c.Name, help)
			continue
		}
		lines := strings.Split(help[i+len("\nEXIT STATUS:\n"):], "\n")
		if len(lines) != len(exitStatuses[c.Name]) || len(lines) == 0 {
			t.Errorf("%s --help: EXIT STATUS is not the last section or is empty: %q", c.Name, lines)
		}
	}
}

// datamanOnPath builds the real binary and puts it first on PATH behind a
// wrapper that logs each call, so a test can tell whether a completion
// script ran it.
func datamanOnPath(t *testing.T) (pathEnv, callLog string) {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go is not on PATH to build dataman: %v", err)
	}
	dir := t.TempDir()
	real := filepath.Join(dir, "dataman.real")
	if out, err := exec.Command(gobin, "build", "-o", real, "../cmd/dataman").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	bin := filepath.Join(dir, "bin")
	callLog = filepath.Join(dir, "calls")
	wrapper := "#!/bin/sh\necho \"$*\" >> '" + callLog + "'\nexec '" + real + "' \"$@\"\n"
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "dataman"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	return "PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), callLog
}

func calls(t *testing.T, log string) string {
	t.Helper()
	data, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	os.Remove(log)
	return string(data)
}

func visibleNames() []string {
	var names []string
	for _, c := range New("test").VisibleCommands() {
		names = append(names, c.Names()...)
	}
	return names
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// completionCase is a command line being completed: the words before the
// cursor and the one under it.
type completionCase struct {
	words []string
	want  []string // nil: nothing from dataman (the shell's file completion)
	asks  bool     // whether the script runs dataman
}

var configCommandFlags = []string{"--config", "--default", "--help", "--jobs", "--json", "--log-level", "--set", "--verbose"}

func completionCases() []completionCase {
	return []completionCase{
		{[]string{"dataman", ""}, visibleNames(), true},
		{[]string{"dataman", "co"}, []string{"condition", "config"}, true},
		{[]string{"dataman", "config", "--"}, configCommandFlags, true},
		{[]string{"dataman", "config", "--j"}, []string{"--jobs", "--json"}, true},
		{[]string{"dataman", "config", "--json", "--"}, []string{"--config", "--default", "--help", "--jobs", "--log-level", "--set", "--verbose"}, true},
		// After "--" urfave would run the command instead of completing it.
		{[]string{"dataman", "condition", "--", "x.fits", ""}, nil, false},
	}
}

// TestBashCompletion sources the generated script in bash and calls its
// completion function as bash would, against the real binary.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skipf("bash is not installed: %v", err)
	}
	path, log := datamanOnPath(t)
	script := writeGenerated(t, BashCompletion)
	for _, c := range completionCases() {
		prog := "source '" + script + "'\nCOMP_WORDS=(" + shellWords(c.words) + ")\nCOMP_CWORD=" + strconv.Itoa(len(c.words)-1) +
			"\n_dataman_complete\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", prog)
		cmd.Dir = t.TempDir() // should dataman run for real, it works here
		cmd.Env = append(os.Environ(), path)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, out)
		}
		checkCompletion(t, "bash", c, strings.Fields(string(out)), calls(t, log))
	}
}

// TestZshCompletion runs the generated zsh function with zsh's completion
// builtins replaced by stand-ins that print what they were given.
func TestZshCompletion(t *testing.T) {
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Skipf("zsh is not installed: %v", err)
	}
	path, log := datamanOnPath(t)
	script := writeGenerated(t, ZshCompletion)
	for _, c := range completionCases() {
		prog := "compadd() { [[ $1 == -a ]] && print -rl -- \"${(@P)2}\" }\n_files() { print -r -- '<files>' }\n" +
			"words=(" + shellWords(c.words) + ")\nCURRENT=" + strconv.Itoa(len(c.words)) + "\nPREFIX=" + shellWords(c.words[len(c.words)-1:]) +
			"\nsource '" + script + "'\n"
		cmd := exec.Command(zsh, "-f", "-c", prog)
		cmd.Dir = t.TempDir() // should dataman run for real, it works here
		cmd.Env = append(os.Environ(), path)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("zsh: %v\n%s", err, out)
		}
		got := strings.Fields(string(out))
		if slices.Equal(got, []string{"<files>"}) {
			got = nil
		}
		// The stand-in compadd does not filter by the prefix; zsh does.
		prefix := c.words[len(c.words)-1]
		got = slices.DeleteFunc(got, func(s string) bool { return !strings.HasPrefix(s, prefix) })
		checkCompletion(t, "zsh", c, got, calls(t, log))
	}
}

// TestFishCompletion asks fish itself to complete, with the generated
// script loaded.
func TestFishCompletion(t *testing.T) {
	fish, err := exec.LookPath("fish")
	if err != nil {
		t.Skipf("fish is not installed: %v", err)
	}
	path, _ := datamanOnPath(t)
	script := writeGenerated(t, FishCompletion)
	data, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "complete ") && seen[l] {
			t.Errorf("fish script repeats %q", l)
		}
		seen[l] = true
	}
	// fish's script is static: it needs no guard for "--", and it offers a
	// flag again that is already on the line.
	for _, c := range completionCases()[:4] {
		line := strings.Join(c.words, " ")
		cmd := exec.Command(fish, "--no-config", "-c", "source '"+script+"'; complete -C'"+line+"'")
		cmd.Dir = t.TempDir() // no files to offer
		cmd.Env = append(os.Environ(), path)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("fish: %v\n%s", err, out)
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if w, _, _ := strings.Cut(l, "\t"); w != "" {
				got = append(got, w)
			}
		}
		checkCompletion(t, "fish", c, got, "")
	}
}

// writeGenerated writes the script as generated now, so the completion
// tests check the code, and TestDocsUpToDate the committed copy.
func writeGenerated(t *testing.T, name string) string {
	t.Helper()
	docs, err := GeneratedDocs(New("test"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(docs["completions/"+name]), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func checkCompletion(t *testing.T, shell string, c completionCase, got []string, called string) {
	t.Helper()
	if !slices.Equal(sorted(got), sorted(c.want)) {
		t.Errorf("%s: %q<TAB> offers %q, want %q", shell, strings.Join(c.words, " "), got, c.want)
	}
	if shell != "fish" && (called != "") != c.asks {
		t.Errorf("%s: %q<TAB> ran dataman: %q; want ran=%v", shell, strings.Join(c.words, " "), called, c.asks)
	}
}

// shellWords quotes words for bash and zsh array literals.
func shellWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
