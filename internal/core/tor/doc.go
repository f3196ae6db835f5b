// Package tor owns ronhost's private plane transport: it runs the system tor
// (Debian's package) as a client only, under supervision, or attaches to an
// operator's tor through its control port; it publishes v3 onion services
// and dials through tor's SOCKS5 port.
//
// Managed mode writes its own torrc in Options.DataDir (ClientOnly 1, ORPort 0,
// DirPort 0, ExitRelay 0, ExitPolicy reject *:*, SOCKS and control on unix
// sockets inside the data directory, cookie authentication), starts tor in its
// own process group, and restarts it with exponential backoff and jitter when it
// exits; onion services published before are published again after a restart.
// Attach mode reconnects to the operator's control port the same way.
//
// The relay guard refuses any configuration that would make a relay, a bridge or
// an exit: the generated torrc plus Options.ExtraTorrc are checked before tor is
// started, and the running tor's effective configuration (GETCONF, GETINFO
// net/listeners/or) is checked after every connection.
//
// The control protocol is spoken through github.com/cretz/bine/control (v0.2.0).
// This package imports no other ronhost package but internal/secretfile (the onion key file).
package tor
