// Package earlysignal catches SIGHUP, SIGTERM and SIGINT while the
// binary's packages are still initializing, before main runs.
//
// Go initializes every imported package before main: about 20 ms on an
// idle machine, 0.3 s measured on a loaded one. Until a handler is
// installed, SIGHUP and SIGTERM end the process with the signal, so a
// reload (systemd's ExecReload) or a stop sent right after a node was
// launched would kill it silently. This package imports nothing but the
// standard library's signal handling, so it is initialized among the
// first, and holds the signals until cmd/ronhost takes them (Channels).
//
// It is the one package-level state of the tree, by necessity: a
// constructor runs too late. Only cmd/ronhost's main imports it.
package earlysignal

import (
	"os"
	"os/signal"
	"syscall"
)

var caught = catch()

type channels struct{ hup, stop chan os.Signal }

func catch() channels {
	c := channels{hup: make(chan os.Signal, 1), stop: make(chan os.Signal, 1)}
	signal.Notify(c.hup, syscall.SIGHUP)
	signal.Notify(c.stop, syscall.SIGTERM, os.Interrupt)
	return c
}

// Channels returns the channels on which SIGHUP, and SIGTERM or SIGINT,
// arrive (each keeps one signal sent before it is read).
// signal.Stop(hup) gives SIGHUP its default back.
func Channels() (hup, stop chan os.Signal) { return caught.hup, caught.stop }
