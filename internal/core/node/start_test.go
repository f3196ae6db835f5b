package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ronhost/ronhost/internal/core/config"
	"github.com/ronhost/ronhost/internal/poll"
)

// freeAddr is a loopback address nothing listens on now, for a test that
// must give a second node the first one's address; another process may take
// it before the node binds it, so tests that need no fixed address listen
// on port 0 and read Node.Addr.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// blockedNode is a node on addr whose plugins' load waits for release
// (entered is closed once it waits; the load also ends with Start's ctx).
func blockedNode(t *testing.T, addr string) (n *Node, entered, release chan struct{}) {
	t.Helper()
	cfg := config.Default()
	cfg.Node.Listen = addr
	cfg.Plugins.CacheDir = testCache
	cfg.Payouts.AutoSettle = false
	cfg.Tor.Mode = "off"
	n = New(Options{DataDir: t.TempDir(), Config: cfg, Builtins: []Builtin{{TLD: "notes", Wasm: notesPlugin(t)}}})
	entered, release = make(chan struct{}), make(chan struct{})
	n.beforeLoad = func(ctx context.Context) {
		close(entered)
		select {
		case <-release:
		case <-ctx.Done():
		}
	}
	return n, entered, release
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// While the plugins load, the node already answers: liveness 200, readiness
// 503 saying what is still starting, content and API 503 with Retry-After;
// requests racing the end of Start see the starting node or the whole
// node, never a 500; once Start returns, the node is ready.
func TestStartServesWhileThePluginsLoad(t *testing.T) {
	n, entered, release := blockedNode(t, "127.0.0.1:0")
	started := make(chan error, 1)
	go func() { started <- n.Start(context.Background()) }()
	<-entered
	// The listener is bound before the load starts: its port, which the
	// kernel picked (an address picked before Start could be taken by
	// another process in between).
	api := "http://" + n.Addr()

	if resp, _ := get(t, api+"/healthz"); resp.StatusCode != 200 {
		t.Fatalf("/healthz while starting: %d, want 200", resp.StatusCode)
	}
	for _, path := range []string{"/readyz", "/v1/plugins", "/o/b3:1234", "/metrics", "/ui/"} {
		resp, body := get(t, api+path)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%s while starting: %d (Retry-After %q) %s, want 503 with Retry-After", path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	resp, body := get(t, api+"/readyz?verbose")
	var v struct {
		Status     string
		Components map[string]Component
	}
	if err := json.Unmarshal(body, &v); err != nil || resp.StatusCode != 503 || v.Status != "starting" {
		t.Fatalf("/readyz?verbose while starting: %d %s (%v)", resp.StatusCode, body, err)
	}
	if p, ok := v.Components["plugins"]; !ok || p.Ready || p.State != "starting" || !p.Required {
		t.Fatalf("/readyz?verbose while the plugins load: plugins %+v, want starting and required (%s)", p, body)
	}
	if s := v.Components["store"]; !s.Ready {
		// The store opens beside the plugins' load: it is up before they are.
		poll.Until(t, "the store to be up while the plugins load", func() bool {
			_, b := get(t, api+"/readyz?verbose")
			_ = json.Unmarshal(b, &v)
			return v.Components["store"].Ready
		})
	}

	// Hostile: clients hammer every kind of endpoint across the swap.
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 8 {
		path := []string{"/readyz", "/readyz?verbose", "/v1/plugins", "/o/b3:1234", "/version", "/metrics", "/healthz", "/v1/overlay"}[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				resp, err := http.Get(api + path)
				if err != nil {
					errs <- fmt.Errorf("%s: %w", path, err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode >= 500 && (resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" && path != "/readyz?verbose" && path != "/v1/overlay") {
					errs <- fmt.Errorf("%s: %d (Retry-After %q)", path, resp.StatusCode, resp.Header.Get("Retry-After"))
					return
				}
			}
		}()
	}
	close(release)
	err := <-started
	stop.Store(true)
	wg.Wait()
	close(errs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	for err := range errs {
		t.Error(err)
	}
	if resp, body := get(t, api+"/readyz"); resp.StatusCode != 200 {
		t.Fatalf("/readyz once started: %d %s", resp.StatusCode, body)
	}
	resp, body = get(t, api+"/v1/plugins")
	if resp.StatusCode != 200 || !json.Valid(body) || len(n.Plugins()) != 1 || n.Plugins()[0].TLD != "notes" {
		t.Fatalf("/v1/plugins once started: %d %s", resp.StatusCode, body)
	}
}

// A stop while the plugins load undoes the start: Start returns the
// interruption only after the load has ended, the port is free again.
func TestStopWhileThePluginsLoad(t *testing.T) {
	n, entered, _ := blockedNode(t, "127.0.0.1:0")
	var loading atomic.Bool
	hook := n.beforeLoad
	n.beforeLoad = func(ctx context.Context) {
		loading.Store(true)
		defer loading.Store(false)
		hook(ctx)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan error, 1)
	go func() { started <- n.Start(ctx) }()
	<-entered
	addr := n.Addr() // bound before the load started
	cancel()
	err := <-started
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Start stopped while the plugins load: %v, want context.Canceled", err)
	}
	if loading.Load() {
		t.Fatal("Start returned while the plugins' load still ran")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the port after an interrupted start: %v", err)
	}
	ln.Close()
}
