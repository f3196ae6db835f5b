package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"syscall"

	"github.com/ronhost/ronhost/internal/supervise"
)

func superviseCommand() *command {
	c := &command{name: "supervise", args: "[--check] CONFIG",
		summary: "start role processes from a TOML file, in dependency order, and restart them when they exit"}
	c.run = func(ctx context.Context, a *app, args []string) error {
		fs := a.flags(c, "supervise")
		check := fs.Bool("check", false, "only validate CONFIG and print the start order")
		pos, err := parse(fs, args, 1, 1)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(pos[0])
		if err != nil {
			return err
		}
		cfg, err := supervise.Parse(b)
		if err != nil {
			return fmt.Errorf("%s: %w", pos[0], err)
		}
		if *check {
			order := cfg.Order()
			return a.emit(map[string]any{"config": pos[0], "order": order}, func(w io.Writer) {
				fmt.Fprintf(w, "%s: %d processes, started in this order:\n", pos[0], len(order))
				for _, name := range order {
					fmt.Fprintf(w, "  %s\n", name)
				}
			})
		}
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("supervise: finding ronhost's own binary: %w", err)
		}
		// The supervisor's log and the children's stderr share stderr.
		stderr := &lockedWriter{w: a.stderr}
		// With --json, stdout carries only the final status.
		var stdout io.Writer = a.stdout
		if a.jsonOut {
			stdout = stderr
		}
		s := supervise.New(cfg, supervise.Options{
			Binary: exe,
			Logger: slog.New(slog.NewTextHandler(stderr, nil)).With("component", "supervise"),
			Stdout: stdout,
			Stderr: stderr,
		})
		// SIGHUP is passed on to every running process (ronhost serve
		// reloads its plugins on it).
		hup, stopHup := a.sighup()
		forwarded := make(chan struct{})
		stop := make(chan struct{})
		go func() {
			defer close(forwarded)
			for {
				select {
				case <-hup:
					s.Signal(syscall.SIGHUP)
				case <-stop:
					return
				}
			}
		}()
		runErr := s.Run(ctx)
		stopHup()
		close(stop)
		<-forwarded
		if a.jsonOut {
			if err := a.emit(map[string]any{"processes": s.Status()}, nil); err != nil && runErr == nil {
				return err
			}
		}
		return runErr
	}
	return c
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
