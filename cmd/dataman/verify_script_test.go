package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestScriptVerify runs testdata/script/verify. The scripts see the broken
// fixtures of testdata/verify as $FIXTURES, and can check an exact exit
// status with "status N command args...", since verify's "problems found"
// must be told apart from a failure.
func TestScriptVerify(t *testing.T) {
	fixtures, err := filepath.Abs("../../testdata/verify")
	if err != nil {
		t.Fatal(err)
	}
	p := scriptParams("../../testdata/script/verify")
	setup := p.Setup
	p.Setup = func(env *testscript.Env) error {
		env.Setenv("FIXTURES", fixtures)
		if setup != nil {
			return setup(env)
		}
		return nil
	}
	p.Cmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"status": exitStatus,
	}
	testscript.Run(t, p)
}

// exitStatus runs a command like exec and fails unless it exits with the
// status given first.
func exitStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("status: %v", err)
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("status: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with status %d, want %d", args[1], got, want)
	}
}
