package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets testscript run the real main as the "dataman" command, in
// a subprocess per invocation, as the installed binary would run.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"dataman": func() { os.Exit(run()) },
	})
}

// scriptParams is the common set-up of the script tests: each runs in its
// own work directory with no config file, no DATAMAN_* variables and no
// terminal.
func scriptParams(dir string) testscript.Params {
	return testscript.Params{
		Dir: dir,
		Setup: func(env *testscript.Env) error {
			env.Setenv("HOME", env.WorkDir)
			return nil
		},
		RequireExplicitExec: false,
	}
}

func TestScriptCondition(t *testing.T) {
	p := scriptParams("../../testdata/script/condition")
	p.Cmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"waitfile":  cmdWaitFile,
		"nopartial": cmdNoPartial,
	}
	testscript.Run(t, p)
}

func TestScriptArchive(t *testing.T) {
	p := scriptParams("../../testdata/script/archive")
	p.Cmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"status": exitStatus,
	}
	testscript.Run(t, p)
}
