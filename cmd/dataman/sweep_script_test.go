package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"

	"github.com/obsdata/dataman/internal/config"
	"github.com/obsdata/dataman/sweep"
)

// TestScriptSweep runs testdata/script/sweep. Besides "status N command",
// the scripts have:
//
//	holdlock DIR     take the sweep lock of state directory DIR in the test
//	                 process, which is not the dataman under test: $TESTPID
//	releaselock DIR  give it back (it is given back when the script ends too)
//	waitfile PATH    wait until PATH exists (a background dataman's work)
//	stateof VAR CONFIG  set VAR to the state directory the config file CONFIG
//	                 gives in the script's environment
//	holdflock FILE   flock FILE in the test process, as a dataman would
//	releaseflock FILE  give it back (it is given back when the script ends too)
//	lockholder VAR LOCK  wait until the sweep lock LOCK names a holder other
//	                 than the test process, and set VAR to its pid
func TestScriptSweep(t *testing.T) {
	p := scriptParams("../../testdata/script/sweep")
	setup := p.Setup
	p.Setup = func(env *testscript.Env) error {
		env.Setenv("TESTPID", strconv.Itoa(os.Getpid()))
		if setup != nil {
			return setup(env)
		}
		return nil
	}
	p.Cmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"status":       exitStatus,
		"holdlock":     holdLock,
		"releaselock":  releaseLock,
		"waitfile":     waitFile,
		"stateof":      stateOf,
		"holdflock":    holdFlock,
		"releaseflock": releaseFlock,
		"lockholder":   lockHolder,
	}
	testscript.Run(t, p)
}

// heldLocks are the locks scripts hold, by absolute state directory; the
// scripts run in parallel, each in its own work directory.
var heldLocks sync.Map

func holdLock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: holdlock DIR")
	}
	dir := ts.MkAbs(args[0])
	l := sweep.NewLock(dir)
	ts.Check(l.Acquire(context.Background(), 0, nil))
	heldLocks.Store(dir, l)
	ts.Defer(func() { l.Release() })
}

func releaseLock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: releaselock DIR")
	}
	l, ok := heldLocks.LoadAndDelete(ts.MkAbs(args[0]))
	if !ok {
		ts.Fatalf("releaselock: %s is not held", args[0])
	}
	ts.Check(l.(*sweep.Lock).Release())
}

// waitFile polls, since a background process gives no other sign; the
// deadline only keeps a broken test from hanging.
func waitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile PATH")
	}
	path := ts.MkAbs(args[0])
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
	}
	ts.Fatalf("waitfile: %s did not appear within a minute", args[0])
}

// stateOf loads CONFIG as dataman would in the script's environment.
func stateOf(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: stateof VAR CONFIG")
	}
	env := func(k string) (string, bool) { v := ts.Getenv(k); return v, v != "" }
	cfg, err := config.Load(ts.MkAbs(args[1]), env)
	ts.Check(err)
	ts.Setenv(args[0], cfg.Paths.StateDir)
}

// heldFlocks are the files scripts hold an flock on, by absolute path.
var heldFlocks sync.Map

func holdFlock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: holdflock FILE")
	}
	path := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(filepath.Dir(path), 0o755))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	ts.Check(err)
	ts.Check(unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB))
	heldFlocks.Store(path, f)
	ts.Defer(func() { f.Close() })
}

func releaseFlock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: releaseflock FILE")
	}
	f, ok := heldFlocks.LoadAndDelete(ts.MkAbs(args[0]))
	if !ok {
		ts.Fatalf("releaseflock: %s is not held", args[0])
	}
	ts.Check(f.(*os.File).Close())
}

// lockHolder polls, since a background process gives no other sign; the
// deadline only keeps a broken test from hanging.
func lockHolder(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: lockholder VAR LOCK")
	}
	path := ts.MkAbs(args[1])
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 && pid != os.Getpid() {
			ts.Setenv(args[0], strconv.Itoa(pid))
			return
		}
	}
	ts.Fatalf("lockholder: %s named no holder within a minute", args[1])
}
