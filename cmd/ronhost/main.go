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
	"syscall"

	"github.com/ronhost/ronhost/internal/earlysignal"
)

func main() {
	// Everything ronhost creates (the data directory's keys, databases,
	// ledger, mailbox, config; fetched files) is private to its user:
	// files 0600 and directories 0700 whatever mode the code or a library
	// (Pebble, wazero) asks for.
	syscall.Umask(0o077)
	// Signals are caught before main (internal/earlysignal): SIGTERM (and
	// ^C) end ctx, which every command honours (serve stops cleanly even
	// while it starts); SIGHUP, the reload of `serve` and `supervise`, is
	// queued for them, so a reload sent while a node starts never kills it.
	// The other commands give SIGHUP its default back (app.dispatch).
	hup, stopSig := earlysignal.Channels()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-stopSig
		cancel()
	}()
	a := newApp(os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	a.hup = hup
	code := a.run(ctx, os.Args[1:])
	cancel()
	os.Exit(code)
}
