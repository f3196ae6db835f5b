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
	// Everything ronhost creates (the data directory's keys, databases,
	// ledger, mailbox, config; fetched files) is private to its user:
	// files 0600 and directories 0700 whatever mode the code or a library
	// (Pebble, wazero) asks for.
	syscall.Umask(0o077)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := newApp(os.Stdin, os.Stdout, os.Stderr, os.Getenv).run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
