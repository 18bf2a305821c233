package main

import (
	"context"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/obsdata/dataman/sweep"
)

// TestScriptSweep runs testdata/script/sweep. Besides "status N command",
// the scripts have:
//
//	holdlock DIR     take the sweep lock of state directory DIR in the test
//	                 process, which is not the dataman under test: $TESTPID
//	releaselock DIR  give it back (it is given back when the script ends too)
//	waitfile PATH    wait until PATH exists (a background dataman's work)
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
		"status":      exitStatus,
		"holdlock":    holdLock,
		"releaselock": releaseLock,
		"waitfile":    waitFile,
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
