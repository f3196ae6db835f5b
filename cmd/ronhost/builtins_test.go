package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/core/node"
)

// lockedBuffer is a bytes.Buffer that a serving app writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serveOnce runs `ronhost serve` in this process with the given built-ins
// until it prints its address, stops it, and returns what it wrote on stderr.
func serveOnce(t *testing.T, builtins []node.Builtin, env map[string]string) string {
	t.Helper()
	c := newCLI(t)
	useTestCache(t, c.data, "")
	var out, errb lockedBuffer
	env["RON_DATA"] = c.data
	a := newApp(strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
	a.builtins = func() []node.Builtin { return builtins }
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() { code <- a.run(ctx, []string{"serve", "--listen", "127.0.0.1:0"}) }()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(out.String(), "serving on") {
		select {
		case c := <-code:
			cancel()
			t.Fatalf("serve exited with %d before serving: %s", c, errb.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			<-code
			t.Fatalf("serve did not start: %s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("serve exited with %d: %s", c, errb.String())
	}
	return errb.String()
}

// A binary built without `make build` (go install) carries no built-in
// plugins: every start and `ronhost version` say so plainly, with how to get
// them; a binary that carries them, or a node told not to install them, does
// not print the warning.
func TestNoBuiltinsSaysSo(t *testing.T) {
	stderr := serveOnce(t, nil, map[string]string{})
	for _, want := range []string{"carries no built-in TLD plugins", "serves no TLD", "make build", "Debian package"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("serve without built-ins: stderr lacks %q:\n%s", want, stderr)
		}
	}
	// The operator turned the built-ins off: nothing is missing.
	if stderr := serveOnce(t, nil, map[string]string{"RON_PLUGINS_BUILTINS": "false"}); strings.Contains(stderr, "no built-in") {
		t.Errorf("serve with [plugins] builtins = false warned:\n%s", stderr)
	}

	var out, errb bytes.Buffer
	a := newApp(strings.NewReader(""), &out, &errb, func(string) string { return "" })
	a.builtins = func() []node.Builtin { return nil }
	if code := a.run(context.Background(), []string{"version"}); code != 0 || !strings.Contains(out.String(), "built-in plugins: none: this ronhost binary carries no built-in TLD plugins") {
		t.Errorf("version without built-ins: exit %d, %q", code, out.String())
	}
	out.Reset()
	a.builtins = func() []node.Builtin { return []node.Builtin{{TLD: "alg"}, {TLD: "map"}} }
	if code := a.run(context.Background(), []string{"--json", "version"}); code != 0 {
		t.Fatalf("version --json: exit %d: %s", code, errb.String())
	}
	var v struct{ Builtins []string }
	if err := json.Unmarshal(out.Bytes(), &v); err != nil || strings.Join(v.Builtins, ",") != "alg,map" {
		t.Errorf("version --json = %s (%v), want builtins [alg map]", out.String(), err)
	}
}

// The configuration file can live outside the data directory (the Debian
// package keeps it in /etc/ronhost): --config and RON_CONFIG choose it, and
// config init writes it there.
func TestConfigFileFlag(t *testing.T) {
	c := newCLI(t)
	file := t.TempDir() + "/etc/config.toml"
	c.ok("--config", file, "config", "init")
	if out := c.ok("--config", file, "config", "init", "--force"); !strings.Contains(out, file) {
		t.Errorf("config init --force wrote %q, want %s", out, file)
	}
	if _, _, code := c.run("", "--config", file, "config", "init"); code == 0 {
		t.Error("config init overwrote an existing file without --force")
	}
	if err := os.WriteFile(file, []byte("[node]\nlisten = \"127.0.0.1:9999\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.env["RON_CONFIG"] = file
	if out := c.ok("config", "show"); !strings.Contains(out, "127.0.0.1:9999") {
		t.Errorf("config show with RON_CONFIG did not read %s:\n%s", file, out)
	}
	// A broken file named by RON_CONFIG is an error naming the file, not the defaults.
	if err := os.WriteFile(file, []byte("[node]\nlissten = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := c.run("", "config", "show"); code == 0 || !strings.Contains(errs, file) {
		t.Errorf("config show of a broken RON_CONFIG file: exit %d, %q", code, errs)
	}
}
