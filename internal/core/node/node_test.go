package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/core/config"
	"github.com/ronhost/ronhost/internal/poll"
	"github.com/ronhost/ronhost/internal/wasmbuild"
)

var testCache string

func TestMain(m *testing.M) { os.Exit(wasmbuild.RunWithCache(m, &testCache)) }

var notesWasm = struct {
	sync.Once
	b []byte
}{}

// notesPlugin is the SDK's example plugin for .notes (it has a resolver).
func notesPlugin(t testing.TB) []byte {
	t.Helper()
	notesWasm.Do(func() { notesWasm.b = wasmbuild.ForTest(t, "../../../sdk-wasm/examples/notes/wasm") })
	if notesWasm.b == nil {
		t.Fatal("building the notes plugin failed")
	}
	return notesWasm.b
}

// startNode runs an in-process node with the .notes plugin on 127.0.0.1:0.
func startNode(t testing.TB, edit func(*config.Config)) (*Node, string, string) {
	t.Helper()
	return startNodeAt(t, t.TempDir(), edit)
}

// startNodeAt is startNode on the data directory dir.
func startNodeAt(t testing.TB, dir string, edit func(*config.Config)) (*Node, string, string) {
	t.Helper()
	cfg := config.Default()
	cfg.Node.Listen = "127.0.0.1:0"
	cfg.Plugins.CacheDir = testCache
	cfg.Payouts.AutoSettle = false
	cfg.Tor.Mode = "off"
	if edit != nil {
		edit(&cfg)
	}
	n := New(Options{DataDir: dir, Config: cfg, Builtins: []Builtin{{TLD: "notes", Wasm: notesPlugin(t)}}})
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	loadPlugins(t, n)
	tok, err := os.ReadFile(filepath.Join(dir, OperatorToken))
	if err != nil {
		t.Fatal(err)
	}
	return n, "http://" + n.Addr(), strings.TrimSpace(string(tok))
}

const noteManifest = `[meta]
tld = "notes"
price = 3

[payload]
media_type = "text/markdown"

[notes]
title = "Load"
license = "cc-by-4.0"
[[notes.authors]]
name = "Ada"
payout = "ron1ada"
share = 10000
`

func publish(t *testing.T, api, token, manifest string, payload []byte) string {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile("manifest", "Manifest.toml")
	w.Write([]byte(manifest))
	w, _ = mw.CreateFormFile("payload", "note.md")
	w.Write(payload)
	mw.Close()
	req, _ := http.NewRequest("POST", api+"/v1/publish", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Address string }
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 || json.Unmarshal(b, &out) != nil {
		t.Fatalf("publish: %d %s", resp.StatusCode, b)
	}
	return out.Address
}

func TestResolveThroughThePlugin(t *testing.T) {
	n, api, tok := startNode(t, nil)
	note := []byte("First paragraph.\n\nSecond paragraph, longer than the first.\n")
	addr := publish(t, api, tok, noteManifest, note)
	hash, _ := strings.CutSuffix(strings.TrimPrefix(addr, "crab://"), ".notes")
	for path, want := range map[string]string{"": string(note), "/excerpt": "First paragraph."} {
		resp, err := http.Get(api + "/r/" + hash + ".notes" + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != want {
			t.Fatalf("GET %s: %d %q, want %q", path, resp.StatusCode, b, want)
		}
	}
	resp, err := http.Get(api + "/r/" + hash + ".notes/nothing-here")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("unknown sub-path: %d", resp.StatusCode)
	}
	// Events: a subscriber on the bus sees a publication.
	got := make(chan []byte, 1)
	unsub, err := n.bus.Subscribe(bus.KindManifestPublished, func(_ string, data []byte) {
		select {
		case got <- data:
		default:
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unsub()
	addr2 := publish(t, api, tok, strings.Replace(noteManifest, "Load", "Other", 1), note)
	select {
	case data := <-got:
		var ev bus.ManifestPublished
		if err := json.Unmarshal(data, &ev); err != nil || ev.Address != addr2 || ev.TLD != "notes" || ev.Node != n.id {
			t.Fatalf("event %s", data)
		}
	case <-time.After(poll.Deadline):
		t.Fatal("no manifest.published event")
	}
}

// TestOverloadGives429Only holds the gateway's every slot with clients that
// do not read, then runs a bounded burst: every answer is 200 or 429, every
// 200 is metered, and the heap does not grow with the load.
func TestOverloadGives429Only(t *testing.T) {
	const slots = 4
	// Every request comes from 127.0.0.1: the per-client share is the whole.
	n, api, tok := startNode(t, func(c *config.Config) { c.Gateway.MaxConcurrent, c.Gateway.MaxPerClient = slots, slots })
	big := bytes.Repeat([]byte("0123456789abcdef"), 4<<20) // 64 MiB: more than the socket buffers
	bigAddr := publish(t, api, tok, strings.Replace(noteManifest, "Load", "Big", 1), big)
	small := []byte("small note\n")
	smallAddr := publish(t, api, tok, noteManifest, small)
	rpath := func(addr string) string {
		h, _ := strings.CutSuffix(strings.TrimPrefix(addr, "crab://"), ".notes")
		return api + "/r/" + h + ".notes"
	}

	// Fill every slot with a response nobody reads.
	var stuck []*http.Response
	for range slots {
		tr := &http.Transport{DisableKeepAlives: true}
		resp, err := (&http.Client{Transport: tr}).Get(rpath(bigAddr))
		if err != nil {
			t.Fatal(err)
		}
		stuck = append(stuck, resp)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	const clients, each = 16, 40
	var mu sync.Mutex
	counts := map[int]int{}
	burst := func() {
		var wg sync.WaitGroup
		for range clients {
			wg.Go(func() {
				for range each {
					resp, err := http.Get(rpath(smallAddr))
					if err != nil {
						mu.Lock()
						counts[-1]++
						mu.Unlock()
						continue
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					mu.Lock()
					counts[resp.StatusCode]++
					if resp.StatusCode == 200 && !bytes.Equal(b, small) {
						counts[-2]++
					}
					if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
						counts[-3]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	burst() // every slot held: all 429
	if counts[429] != clients*each {
		t.Fatalf("with every slot held: %v, want %d 429s", counts, clients*each)
	}
	for _, r := range stuck {
		r.Body.Close()
	}
	burst() // slots free again: 200s, and 429s whenever more than 4 are in flight
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if counts[-1]+counts[-2]+counts[-3] != 0 || counts[200]+counts[429] != 2*clients*each || counts[200] == 0 {
		t.Fatalf("statuses %v: want only 200 and 429 (with Retry-After), and some 200", counts)
	}
	growth := int64(after.HeapInuse) - int64(before.HeapInuse)
	t.Logf("statuses %v; heap in use %d -> %d MiB", counts, before.HeapInuse>>20, after.HeapInuse>>20)
	if growth > 64<<20 {
		t.Fatalf("the heap grew by %d MiB over %d requests", growth>>20, 2*clients*each)
	}
	// Every 200 on the small note was metered: seal and look.
	settled, err := n.ledgerSvc.Settle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	epochs, err := n.ledger.Epochs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var requests uint64
	for _, e := range epochs {
		requests += e.Requests
	}
	// The stuck big reads were cut, but each wrote bytes: metered too.
	if requests != uint64(counts[200]+slots) {
		t.Fatalf("metered %d accesses, want %d (%d small + %d big); settlements %+v", requests, counts[200]+slots, counts[200], slots, settled)
	}
}

// TestIdleConnectionsAreClosed: a keep-alive connection left idle after its
// request, and one that never finishes its headers, are closed by the node
// (before, idle connections stayed open for as long as the client liked).
func TestIdleConnectionsAreClosed(t *testing.T) {
	_, api, _ := startNode(t, func(c *config.Config) {
		c.Gateway.IdleTimeout = config.Duration(200 * time.Millisecond)
		c.Gateway.ReadHeader = config.Duration(200 * time.Millisecond)
	})
	addr := strings.TrimPrefix(api, "http://")
	closed := func(c net.Conn, br *bufio.Reader) error {
		c.SetReadDeadline(time.Now().Add(30 * time.Second)) // a bound, not a verdict on speed
		_, err := br.ReadByte()
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("the connection was not closed: %v", err)
	}

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 || resp.Close {
		t.Fatalf("a keep-alive request: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err := closed(c, br); err != nil {
		t.Fatalf("an idle keep-alive connection: %v", err)
	}

	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	fmt.Fprintf(c2, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n") // the headers never end
	br2 := bufio.NewReader(c2)
	// The server may answer 408 before it closes; what follows must be EOF.
	c2.SetReadDeadline(time.Now().Add(30 * time.Second))
	if resp, err := http.ReadResponse(br2, nil); err == nil {
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusRequestTimeout {
			t.Fatalf("unfinished headers answered %d", resp.StatusCode)
		}
	}
	if err := closed(c2, br2); err != nil {
		t.Fatalf("a connection whose headers never end: %v", err)
	}
}

// A client that opens a connection and sends nothing must not make a stop
// fail: net/http's Shutdown waits up to 5 s for such a connection, longer
// than the node's share of its stop timeout (the CI failure of
// TestOverloadGives429Only, whose load left such connections behind).
func TestCloseCutsSilentConnections(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Node.Listen = "127.0.0.1:0"
	cfg.Plugins.CacheDir = testCache
	cfg.Payouts.AutoSettle = false
	cfg.Tor.Mode = "off"
	cfg.Node.StopTimeout = config.Duration(time.Second)
	n := New(Options{DataDir: dir, Config: cfg, Builtins: []Builtin{{TLD: "notes", Wasm: notesPlugin(t)}}})
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", n.Addr())
	if err != nil {
		n.Close()
		t.Fatal(err)
	}
	defer c.Close()
	if err := n.Close(); err != nil {
		t.Fatalf("close with a silent connection open: %v", err)
	}
	// The node really let go of it: the server side closed the connection.
	c.SetReadDeadline(time.Now().Add(time.Minute))
	var ne net.Error
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the silent connection is still open after Close (read: %v)", err)
	}
}
