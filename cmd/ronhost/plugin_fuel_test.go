package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/poll"
)

// hostileLoop is an ABI v1 module whose ron_validate loops forever in
// output_set with 1 MiB (plugins' TestHostileFileIsCurrent keeps it).
const hostileLoop = "../../internal/plugins/testdata/hostile-validate-output_set.wasm"

// `ronhost plugin test` on a module that loops in a host call ends by
// itself, failing limits.time, and a real process of it honours SIGTERM in
// the middle of the suite. Before host calls paid fuel and checked the
// caller, it ran for ever and ignored the signal.
func TestPluginTestEndsOnHostCallLoops(t *testing.T) {
	bin := ronhostBinary(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	run := func(data string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, bin, "--data", data, "plugin", "test", hostileLoop)
		cmd.Stdout, cmd.Stderr = new(bytes.Buffer), new(bytes.Buffer)
		return cmd
	}
	data := t.TempDir()
	useTestCache(t, data, "")
	cmd := run(data)
	err := cmd.Run()
	var ee *exec.ExitError
	out := cmd.Stdout.(*bytes.Buffer).String()
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(out, "FAIL limits.time") {
		t.Fatalf("plugin test: %v\n%s%s", err, out, cmd.Stderr)
	}

	// A compilation cache of its own tells when the module is compiled:
	// the suite's calls start then.
	data = t.TempDir()
	cache := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "config.toml"), []byte("[tor]\nmode = \"off\"\n[plugins]\ncache_dir = \""+cache+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd = run(data)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	compiled := func() bool {
		n := 0
		_ = filepath.WalkDir(cache, func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
			}
			return nil
		})
		return n > 0
	}
	var ended error
	exited := false
	poll.UntilCtx(t, ctx, "the module to compile", func() bool {
		select {
		case ended = <-done:
			exited = true
			return true
		default:
		}
		return compiled()
	})
	if exited {
		t.Fatalf("plugin test ended before its module compiled: %v\n%s", ended, cmd.Stderr)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-done:
	case <-ctx.Done():
		t.Fatal("plugin test did not end after SIGTERM")
	}
	out = cmd.Stdout.(*bytes.Buffer).String()
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || strings.Contains(out, "passed,") || !strings.Contains(cmd.Stderr.(*bytes.Buffer).String(), "context canceled") {
		t.Fatalf("after SIGTERM: %v\nstdout: %s\nstderr: %s", err, out, cmd.Stderr)
	}
}
