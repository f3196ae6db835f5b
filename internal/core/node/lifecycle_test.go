package node

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ronhost/ronhost/internal/core/config"
)

// A component that fails in the middle of Start (the mailbox, whose
// listener's port is taken) leaves nothing behind: the components started
// before it are stopped in reverse, Start's error names it, the ports and
// the databases are free again (a node starts on the same directory and
// address), and Close after the failed Start is a no-op.
func TestFailedStartStopsWhatStartedInReverse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir, addr := t.TempDir(), freeAddr(t)
	cfg := config.Default()
	cfg.Node.Listen = addr
	cfg.Plugins.CacheDir = testCache
	cfg.Payouts.AutoSettle = false
	cfg.Tor.Mode = "off"
	cfg.Mailbox.Listen = taken.Addr().String()
	n := New(Options{DataDir: dir, Config: cfg, Builtins: []Builtin{{TLD: "notes", Wasm: notesPlugin(t)}}})
	var stopped []string
	n.stopHook = func(c string) { stopped = append(stopped, c) }

	err = n.Start(context.Background())
	var se *startError
	if !errors.As(err, &se) || se.component != "mailbox" || !strings.HasPrefix(err.Error(), "node: mailbox: ") || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Start with the mailbox's port taken: %v, want an error naming the mailbox and wrapping EADDRINUSE", err)
	}
	want := []string{"bus", "operator token", "ledger", "index", "objects", "store", "keys", "plugin load", "data directory", "listener"}
	if !slices.Equal(stopped, want) {
		t.Fatalf("stopped %q, want %q (the components before the mailbox, in reverse)", stopped, want)
	}
	if _, err := os.Stat(filepath.Join(dir, RunFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("node.json after a failed start: %v", err)
	}
	stopped = nil
	for range 2 {
		if err := n.Close(); err != nil || len(stopped) != 0 {
			t.Fatalf("Close after a failed Start: %v, stopped %q again", err, stopped)
		}
	}
	// Nothing is held: the same directory and address start a node.
	taken.Close()
	cfg.Mailbox.Listen = "127.0.0.1:0"
	again := New(Options{DataDir: dir, Config: cfg, Builtins: []Builtin{{TLD: "notes", Wasm: notesPlugin(t)}}})
	if err := again.Start(context.Background()); err != nil {
		t.Fatalf("a node on the failed one's directory and address: %v", err)
	}
	stopped = nil
	again.stopHook = func(c string) { stopped = append(stopped, c) }
	if resp, body := get(t, "http://"+addr+"/readyz"); resp.StatusCode != 200 {
		t.Fatalf("/readyz: %d %s", resp.StatusCode, body)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, c := range again.components() {
		if c.on {
			all = append(all, c.name)
		}
	}
	slices.Reverse(all)
	if !slices.Equal(stopped, all) {
		t.Fatalf("Close stopped %q, want every component in reverse: %q", stopped, all)
	}
}

// Hostile: a second node started on a running node's data directory fails
// (its store is locked), and its Close must not take the running node's
// node.json (the CLI's way to it), nor its readiness; the failed node's
// Components answers without a bus.
func TestCloseAfterFailedStartLeavesTheRunningNodeAlone(t *testing.T) {
	dir := t.TempDir()
	_, api, operator := startNodeAt(t, dir, nil)
	cfg := config.Default()
	cfg.Node.Listen = "127.0.0.1:0"
	cfg.Plugins.CacheDir = testCache
	cfg.Tor.Mode = "off"
	tok, err := os.ReadFile(filepath.Join(dir, OperatorToken))
	if err != nil {
		t.Fatal(err)
	}
	second := New(Options{DataDir: dir, Config: cfg, Builtins: []Builtin{{TLD: "notes", Wasm: notesPlugin(t)}}})
	err = second.Start(context.Background())
	var se *startError
	if !errors.As(err, &se) || se.component != "store" {
		t.Fatalf("a second node on a running node's directory: %v, want the store to fail", err)
	}
	cs := second.Components(context.Background())
	if cs["bus"].Ready || cs["store"].Ready || !strings.Contains(cs["store"].Detail, "bus") {
		t.Fatalf("the failed node's components: %+v, want bus and store unavailable", cs)
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, RunFile))
	var ri RunInfo
	if err != nil || json.Unmarshal(b, &ri) != nil || ri.API != api {
		t.Fatalf("the running node's node.json after the failed one closed: %s %v, want its API %s", b, err, api)
	}
	if resp, body := get(t, api+"/readyz"); resp.StatusCode != 200 {
		t.Fatalf("the running node's /readyz: %d %s", resp.StatusCode, body)
	}
	// The running node's operator keeps their token: the failed start
	// neither rewrote nor revoked it.
	if now, err := os.ReadFile(filepath.Join(dir, OperatorToken)); err != nil || string(now) != string(tok) {
		t.Fatalf("DATA/%s after a failed second start: %q %v, want it unchanged", OperatorToken, now, err)
	}
	req, _ := http.NewRequest("GET", api+"/v1/payouts", nil)
	req.Header.Set("Authorization", "Bearer "+operator)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("the running node's operator token after a failed second start: %d, want 200", resp.StatusCode)
	}
}

// Two nodes in one process keep apart: each its own bus, metrics and
// identity; closing one leaves the other serving.
func TestTwoNodesInOneProcess(t *testing.T) {
	a, apiA, _ := startNode(t, nil)
	b, apiB, _ := startNode(t, nil)
	if a.id == b.id {
		t.Fatalf("both nodes are %s", a.id)
	}
	for _, api := range []string{apiA, apiB} {
		for _, path := range []string{"/readyz", "/metrics", "/v1/plugins"} {
			if resp, body := get(t, api+path); resp.StatusCode != 200 {
				t.Fatalf("%s%s: %d %s", api, path, resp.StatusCode, body)
			}
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if resp, body := get(t, apiB+"/readyz"); resp.StatusCode != 200 {
		t.Fatalf("the other node once one closed: %d %s", resp.StatusCode, body)
	}
	var v struct{ ID string }
	if resp, body := get(t, apiB+"/version"); resp.StatusCode != 200 || json.Unmarshal(body, &v) != nil || v.ID != b.id {
		t.Fatalf("/version of the other node: %d %s", resp.StatusCode, body)
	}
}
