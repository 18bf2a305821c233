package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/obsdata/dataman/fits"
	"github.com/obsdata/dataman/internal/control"
	"github.com/obsdata/dataman/internal/ledger"
)

// TestScriptListen runs `dataman listen` as a background process on a
// loopback port and talks to it as the camera server does.
func TestScriptListen(t *testing.T) {
	p := scriptParams("../../testdata/script/listen")
	p.Cmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"listenaddr": cmdListenAddr,
		"udpsend":    cmdUDPSend,
		"mkburst":    cmdMkBurst,
		"waitfile":   cmdWaitFile,
		"dispatched": cmdDispatched,
		"nopartial":  cmdNoPartial,
		"httpget":    cmdHTTPGet,
	}
	testscript.Run(t, p)
}

// scriptPatience bounds every wait of the custom commands: long enough for a
// loaded machine, short enough that a broken listen fails the test rather
// than the test binary's timeout. Nothing is timed.
const scriptPatience = 3 * time.Minute

// poll calls done until it returns true or limit passes.
func poll(limit time.Duration, done func() bool) bool {
	deadline := time.Now().Add(limit)
	for !done() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// listenaddr STATEDIR [VAR]
//
// Waits until a listen started in the background has bound its socket, and
// sets $VAR (default LISTEN_ADDR) to the address, and $VAR_HTTP to the
// address of its /metrics ("" without). The .status file counts
// only when its pid is one of the script's background processes, so a file
// left by a killed listen is not mistaken for the new one's.
func cmdListenAddr(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: listenaddr STATEDIR [VAR]")
	}
	name := "LISTEN_ADDR"
	if len(args) == 2 {
		name = args[1]
	}
	path := ts.MkAbs(filepath.Join(args[0], control.StatusFile))
	var addr, httpAddr string
	ok := poll(scriptPatience, func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		_, f, err := control.ParseStatus(string(b))
		if err != nil || f["addr"] == "" {
			return false
		}
		for _, c := range ts.BackgroundCmds() {
			if c.Process != nil && strconv.Itoa(c.Process.Pid) == f["pid"] {
				addr, httpAddr = f["addr"], f["http"]
				return true
			}
		}
		return false
	})
	if !ok {
		ts.Fatalf("no listen of this script wrote its address to %s", path)
	}
	ts.Setenv(name, addr)
	ts.Setenv(name+"_HTTP", httpAddr)
	ts.Logf("listen is at %s (http %q)", addr, httpAddr)
}

// httpget URL FILE
//
// GETs URL, fails unless the answer is 200 OK, and writes its body to FILE.
func cmdHTTPGet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: httpget URL FILE")
	}
	c := http.Client{Timeout: scriptPatience}
	resp, err := c.Get(args[0])
	ts.Check(err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	ts.Check(err)
	if resp.StatusCode != http.StatusOK {
		ts.Fatalf("GET %s: %s", args[0], resp.Status)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), b, 0o644))
}

// udpsend [-f FILE] ADDR [MSG...]
//
// Sends each MSG, then each line of FILE, as one datagram from a new socket,
// as the camera server's dmProc does. A line of FILE that starts with a
// double quote is a Go string literal, for bytes a script cannot spell.
func cmdUDPSend(ts *testscript.TestScript, neg bool, args []string) {
	fl := flag.NewFlagSet("udpsend", flag.ContinueOnError)
	file := fl.String("f", "", "datagrams, one per line")
	if neg || fl.Parse(args) != nil || fl.NArg() < 1 {
		ts.Fatalf("usage: udpsend [-f FILE] ADDR [MSG...]")
	}
	to, err := net.ResolveUDPAddr("udp", fl.Arg(0))
	ts.Check(err)
	msgs := fl.Args()[1:]
	if *file != "" {
		for _, line := range strings.Split(strings.TrimSuffix(ts.ReadFile(*file), "\n"), "\n") {
			if strings.HasPrefix(line, `"`) {
				line, err = strconv.Unquote(line)
				ts.Check(err)
			}
			msgs = append(msgs, line)
		}
	}
	for _, m := range msgs {
		c, err := net.DialUDP("udp", nil, to)
		ts.Check(err)
		_, err = c.Write([]byte(m))
		c.Close()
		ts.Check(err)
	}
	ts.Logf("sent %d datagrams to %s", len(msgs), to)
}

// mkburst OUT CHAN NIGHT FILES COPIES GARBAGE
//
// Writes a burst for udpsend -f: COPIES proc datagrams for each of the files
// CHAN.NIGHT.0001 … FILES, in the several spellings a sender may use, and
// GARBAGE malformed datagrams, shuffled with a fixed seed.
func cmdMkBurst(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 6 {
		ts.Fatalf("usage: mkburst OUT CHAN NIGHT FILES COPIES GARBAGE")
	}
	nums := make([]int, 3)
	for i, a := range args[3:] {
		n, err := strconv.Atoi(a)
		ts.Check(err)
		nums[i] = n
	}
	files, copies, garbage := nums[0], nums[1], nums[2]
	spell := []string{"proc /home/data/%s", "PROC %s", "Proc\t/data/x/%s  extra words", "proc ../../%s"}
	var lines []string
	for i := 1; i <= files; i++ {
		name := fmt.Sprintf("%s.%s.%04d.fits", args[1], args[2], i)
		for c := range copies {
			lines = append(lines, strconv.Quote(fmt.Sprintf(spell[c%len(spell)], name)))
		}
	}
	junk := []string{"", "   ", "\t\n", "\xff\xfe\xfd", "proc", "hello", "quitx", "proc ../../etc/passwd",
		"proc /home/data/" + args[1] + ".2026.0001.fits", "proc " + strings.Repeat("A", 2000),
		"proc /home/data/" + args[1] + "." + args[2] + ".0001.fits\xc0", "proc\x00" + args[1]}
	for i := range garbage {
		lines = append(lines, strconv.Quote(junk[i%len(junk)]))
	}
	r := rand.New(rand.NewPCG(4, 2))
	r.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
}

// waitfile [-timeout D] [-count N] [-any] [-grep RE] PATTERN...
//
// Waits until each glob PATTERN matches at least N files (default 1), or
// with -any until one of them does; with -grep every match must also
// contain RE (multi-line mode). -timeout 0 checks once.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	fl := flag.NewFlagSet("waitfile", flag.ContinueOnError)
	limit := fl.Duration("timeout", scriptPatience, "how long to wait")
	count := fl.Int("count", 1, "matches needed")
	anyOf := fl.Bool("any", false, "one pattern suffices")
	grep := fl.String("grep", "", "content every match must contain")
	if neg || fl.Parse(args) != nil || fl.NArg() == 0 {
		ts.Fatalf("usage: waitfile [-timeout D] [-count N] [-any] [-grep RE] PATTERN...")
	}
	re, err := regexp.Compile("(?m)" + *grep)
	ts.Check(err)
	satisfied := func(pattern string) bool {
		matches, err := filepath.Glob(ts.MkAbs(pattern))
		if err != nil || len(matches) < *count {
			return false
		}
		for _, m := range matches {
			if b, err := os.ReadFile(m); err != nil || !re.Match(b) {
				return false
			}
		}
		return true
	}
	ok := poll(*limit, func() bool {
		for _, p := range fl.Args() {
			if s := satisfied(p); s && *anyOf {
				return true
			} else if !s && !*anyOf {
				return false
			}
		}
		return !*anyOf
	})
	if !ok {
		ts.Fatalf("waitfile: %q not satisfied within %s", fl.Args(), *limit)
	}
}

// dispatched [-wait] [-once] STATEDIR CHAN N
//
// Checks the ledger of CHAN: exactly N files delivered (their latest
// dispatch ok or already). With -once, every one of them has exactly one
// "dispatch ok" line: no file was copied to repoDir twice. With -wait, waits
// until N files are delivered before checking.
func cmdDispatched(ts *testscript.TestScript, neg bool, args []string) {
	fl := flag.NewFlagSet("dispatched", flag.ContinueOnError)
	wait := fl.Bool("wait", false, "wait for N")
	once := fl.Bool("once", false, "one dispatch ok per file")
	if neg || fl.Parse(args) != nil || fl.NArg() != 3 {
		ts.Fatalf("usage: dispatched [-wait] [-once] STATEDIR CHAN N")
	}
	want, err := strconv.Atoi(fl.Arg(2))
	ts.Check(err)
	path := ledger.Dir(ts.MkAbs(fl.Arg(0)), fl.Arg(1))
	read := func() (delivered, oks map[string]int) {
		delivered, oks = map[string]int{}, map[string]int{}
		events, _, err := ledger.ReadChannel(ts.MkAbs(fl.Arg(0)), fl.Arg(1))
		if err != nil {
			return nil, nil
		}
		latest := map[string]ledger.Event{}
		for _, ev := range events {
			if ev.Step != ledger.StepDispatch {
				continue
			}
			latest[ev.File] = ev
			if ev.Status == ledger.StatusOK {
				oks[ev.File]++
			}
		}
		for f, ev := range latest {
			if ev.Done() {
				delivered[f] = 1
			}
		}
		return delivered, oks
	}
	if *wait && !poll(scriptPatience, func() bool { d, _ := read(); return len(d) >= want }) {
		d, _ := read()
		ts.Fatalf("%s: %d files delivered after %s, want %d", path, len(d), scriptPatience, want)
	}
	delivered, oks := read()
	if len(delivered) != want {
		ts.Fatalf("%s: %d files delivered, want %d", path, len(delivered), want)
	}
	if *once {
		for f, n := range oks {
			if n != 1 {
				ts.Fatalf("%s: %s dispatched %d times", path, f, n)
			}
		}
		if len(oks) != want {
			ts.Fatalf("%s: %d files with a dispatch ok, want %d", path, len(oks), want)
		}
	}
	ts.Logf("%s: %d files delivered", path, len(delivered))
}

// nopartial DIR...
//
// Fails if any DIR holds, at any depth, a temporary file of an atomic write
// (*.dmtmp) or a FITS file that is not whole: what a reader of /newdata
// must never see.
func cmdNoPartial(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: nopartial DIR...")
	}
	checked := 0
	for _, dir := range args {
		err := filepath.WalkDir(ts.MkAbs(dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			switch {
			case strings.HasSuffix(path, ".dmtmp"):
				return fmt.Errorf("temporary file left: %s", path)
			case strings.HasSuffix(path, ".fits"):
				f, err := fits.Open(path)
				if err != nil {
					return fmt.Errorf("partial or damaged: %w", err)
				}
				defer f.Close()
				if len(f.HDUs) != 7 {
					return fmt.Errorf("%s: %d HDUs, want 7", path, len(f.HDUs))
				}
				checked++
			}
			return nil
		})
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		ts.Check(err)
	}
	ts.Logf("%d whole FITS files, no temporaries", checked)
}
