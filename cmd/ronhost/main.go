// Command ronhost runs a ronhost node and is its command-line interface.
//
// Every command keeps the same conventions: `ronhost [--data DIR] [--json]
// COMMAND ...` (the data directory also comes from RON_DATA, and defaults to
// $XDG_DATA_HOME/ronhost); --json prints one machine-readable JSON object on
// stdout; errors go to stderr with a non-zero exit status; --help works
// everywhere.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := newApp(os.Stdin, os.Stdout, os.Stderr, os.Getenv).run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
