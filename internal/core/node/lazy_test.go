package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ronhost/ronhost/internal/core/config"
	"github.com/ronhost/ronhost/internal/plugins"
)

// publishStatus posts a publication and returns the status and body.
func publishStatus(t *testing.T, api, token, manifest string, payload []byte) (int, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile("manifest", "Manifest.toml")
	_, _ = w.Write([]byte(manifest))
	w, _ = mw.CreateFormFile("payload", "note.md")
	_, _ = w.Write(payload)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", api+"/v1/publish", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A node starts without loading its plugins (ready with none compiled);
// the first requests of a TLD load its plugin once, however many arrive
// together; a built-in that does not load answers its own TLD 503
// (unavailable) and leaves the other TLD serving, also while both are
// asked at once.
func TestPluginsLoadAtFirstUse(t *testing.T) {
	cfg := config.Default()
	cfg.Node.Listen = "127.0.0.1:0"
	cfg.Plugins.CacheDir = testCache
	cfg.Payouts.AutoSettle = false
	cfg.Tor.Mode = "off"
	dir := t.TempDir()
	garbage := []byte("\x00asm\x01\x00\x00\x00 not a module")
	// The first requests wait for the one load within their deadline (30 s):
	// the module is in the compilation cache first, so the load they wait
	// for reads it (what a restarted node does) rather than compiling cold,
	// which a busy machine and the race detector can stretch past that
	// deadline.
	fillCache(t, notesPlugin(t))
	n := New(Options{DataDir: dir, Config: cfg, Builtins: []Builtin{{TLD: "notes", Wasm: notesPlugin(t)}, {TLD: "broken", Wasm: garbage}}})
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	tok, err := os.ReadFile(filepath.Join(dir, OperatorToken))
	if err != nil {
		t.Fatal(err)
	}
	api, token := "http://"+n.Addr(), strings.TrimSpace(string(tok))
	if resp, body := get(t, api+"/readyz"); resp.StatusCode != 200 {
		t.Fatalf("/readyz after Start: %d %s", resp.StatusCode, body)
	}
	ps := n.Plugins()
	if len(ps) != 2 || n.host.Compiles() != 0 || ps[0].Stats.Loaded || ps[1].Stats.Loaded {
		t.Fatalf("after Start: %d compiles, plugins %+v; want both listed, none loaded", n.host.Compiles(), ps)
	}
	// Not loaded yet: no roles or features known, listed as empty, not null.
	if resp, body := get(t, api+"/v1/plugins"); resp.StatusCode != 200 || bytes.Contains(body, []byte("null")) || bytes.Count(body, []byte(`"roles": []`)) != 2 {
		t.Errorf("/v1/plugins before any load: %d %s, want both with empty lists, no null", resp.StatusCode, body)
	}

	const k = 16
	var wg sync.WaitGroup
	for i := range k {
		wg.Add(2)
		go func() {
			defer wg.Done()
			m := strings.Replace(noteManifest, `title = "Load"`, fmt.Sprintf(`title = "Load %d"`, i), 1)
			if st, body := publishStatus(t, api, token, m, []byte(fmt.Sprintf("# note %d\n", i))); st != 201 {
				t.Errorf(".notes publish %d: %d %s", i, st, body)
			}
		}()
		go func() {
			defer wg.Done()
			m := strings.Replace(noteManifest, `tld = "notes"`, `tld = "broken"`, 1)
			if st, body := publishStatus(t, api, token, m, []byte("x")); st != http.StatusServiceUnavailable || !strings.Contains(body, "could not be loaded") {
				t.Errorf(".broken publish: %d %s, want 503 naming the failed load", st, body)
			}
		}()
	}
	wg.Wait()
	// One compile for .notes, one failed for .broken: not one per request.
	if got := n.host.Compiles(); got != 2 {
		t.Errorf("%d first requests per TLD compiled %d times, want 2 (one each)", k, got)
	}
	for _, p := range n.Plugins() {
		if p.TLD == "notes" && (!p.Stats.Loaded || p.Version == "") {
			t.Errorf(".notes after its requests: %+v, want loaded and described", p)
		}
	}
}

// loadPlugins loads every plugin the node registered, as the first
// requests of their TLDs would but without a request's deadline: the tests
// that are not about loading start from loaded plugins (a cold compile
// under -race on a busy machine can outlast a request's 30 s).
func loadPlugins(t testing.TB, n *Node) {
	t.Helper()
	for _, tld := range n.Router().TLDs() {
		p, err := n.Router().Plugin(tld)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Load(context.Background()); err != nil {
			t.Fatalf("loading the .%s plugin: %v", tld, err)
		}
	}
}

// fillCache compiles wasm into the tests' compilation cache.
func fillCache(t *testing.T, wasm []byte) {
	t.Helper()
	ctx := context.Background()
	h := plugins.New(plugins.Config{PoolSize: 1, MemoEntries: -1, CacheDir: testCache})
	defer h.Close(ctx)
	if _, err := h.Load(ctx, wasm); err != nil {
		t.Fatalf("compiling into the cache: %v", err)
	}
}
