package node

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/internal/core/config"
	"github.com/ronhost/ronhost/internal/wasmbuild"
)

// chaosManifest is a .chaos manifest (the plugin host's test plugin) made
// distinct by n.
func chaosManifest(n int) string {
	return fmt.Sprintf("mode = \"ok\"\nn = %d\n[meta]\ntld = \"chaos\"\n[payload]\nmedia_type = \"text/plain\"\n", n)
}

// A resolve that faults on one manifest marks that manifest: every GET of
// it answers 422 content_fault at once, over and over, while the plugin
// serves other manifests. The hostile case: anonymous GETs of many distinct
// crafted manifests, with no success between (four times quarantine_after),
// never quarantine the plugin: each answers 422, other content keeps being
// served. (Before content faults stopped counting, six did: 503 for every
// .chaos address.)
func TestResolveFaultStaysWithTheManifest(t *testing.T) {
	chaos := wasmbuild.ForTest(t, "../../plugins/testdata/chaos")
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Node.Listen = "127.0.0.1:0"
	cfg.Plugins.CacheDir = testCache
	cfg.Payouts.AutoSettle = false
	cfg.Tor.Mode = "off"
	n := New(Options{DataDir: dir, Config: cfg, Builtins: []Builtin{{TLD: "chaos", Wasm: chaos}}})
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	loadPlugins(t, n)
	api := "http://" + n.Addr()
	tokb, err := os.ReadFile(filepath.Join(dir, OperatorToken))
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(tokb))
	payload := []byte("line zero\nline one\n")
	addrs := make([]string, 2+4*cfg.Plugins.QuarantineAfter)
	for i := range addrs {
		a := publish(t, api, tok, chaosManifest(i), payload)
		h, _ := strings.CutSuffix(strings.TrimPrefix(a, "crab://"), ".chaos")
		addrs[i] = api + "/r/" + h + ".chaos"
	}
	get := func(url string) (int, string, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var e struct{ Code string }
		_ = json.Unmarshal(b, &e)
		return resp.StatusCode, e.Code, string(b)
	}
	for i := range 10 { // twice quarantine_after, in a row
		if code, c, b := get(addrs[0] + "/trap"); code != 422 || c != "content_fault" {
			t.Fatalf("GET %d of the faulting path: %d %s", i, code, b)
		}
	}
	if code, c, b := get(addrs[0] + "/0"); code != 422 || c != "content_fault" {
		t.Fatalf("another path of the marked manifest: %d %s", code, b)
	}
	if code, _, b := get(addrs[1] + "/1"); code != 200 || b != "line one" {
		t.Fatalf("another manifest: %d %s", code, b)
	}
	p, err := n.Router().Plugin("chaos")
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Faults != 1 || s.Quarantined {
		t.Fatalf("stats %+v: want one fault, no quarantine", s)
	}
	// Crafted manifests, one after another, each asked for anonymously.
	for i := 2; i < len(addrs); i++ {
		for _, path := range []string{"/trap", "/trap", "/0"} {
			if code, c, b := get(addrs[i] + path); code != 422 || c != "content_fault" {
				t.Fatalf("GET %s of crafted manifest %d: %d %s", path, i, code, b)
			}
		}
	}
	if code, _, b := get(addrs[1] + "/1"); code != 200 || b != "line one" {
		t.Fatalf("after faults on %d manifests in a row, other content: %d %s", len(addrs)-2, code, b)
	}
	if s := p.Stats(); s.Faults != uint64(len(addrs)-1) || s.Quarantined {
		t.Fatalf("stats %+v: want %d faults (one per crafted manifest), no quarantine", s, len(addrs)-1)
	}
}
