package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/obsdata/dataman/commands"
	"github.com/obsdata/dataman/internal/exitcode"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func main() { os.Exit(run()) }

// run is main without the exit, so testscript can run it in-process.
func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := commands.New(version).RunContext(ctx, os.Args)
	commands.PrintError(os.Stderr, err)
	return exitcode.Code(err)
}
