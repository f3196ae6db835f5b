package main

import (
	"bytes"
	bin "encoding/binary"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/internal/browsertest"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/wasmbuild"
)

// The gateway in a real browser (issue 13). One `ronhost serve` process with
// the .ai and .map plugins serves two publishers: A (an attacker's page and
// service worker script) and B (a victim's page and script), a .map tile
// archive and a media file. Headless Chromium (internal/browsertest) then
// visits them in three layouts, each with a fresh profile:
//
//   - localhost: every address on its own origin <label>.<tld>.localhost;
//   - public: the same under a public gateway domain, ron.test, resolved by
//     Chromium's --host-resolver-rules (and treated as a secure context, as
//     HTTPS would be, so service workers are possible at all);
//   - bare: 127.0.0.1, where no origin per address exists: /r/ paths with
//     the sandboxing CSP.
//
// In each, A's page tries to register B's script and its own as a service
// worker over B's address and to read /v1/plugins and /metrics (relative
// and from the node's origin) and writes localStorage; the node's own origin
// refuses to serve a service worker script; then the browser opens B's
// address and must get B's page, uncontrolled, without A's storage. A page
// on another origin (an httptest server) fetches a .map tile with Range and
// gets 206 with Content-Range readable, and a <video> element seeks in a
// media payload (PCM audio in WAV, which a test can write without an
// encoder), fetched with 206s. Screenshots are written to
// $RON_TEST_ARTIFACTS/<test> when set, else under t.TempDir()
// (internal/browsertest.ArtifactDir).
func TestBrowserOrigins(t *testing.T) {
	browserAvailable(t)
	c := newCLI(t)
	useTestCache(t, c.data, "[gateway]\ndomains = [\"ron.test\"]\n")
	for _, tld := range []string{"ai", "map"} {
		c.ok("plugin", "install", "--allow-unsigned", "--replace-builtin", writeFile(t, tld+".wasm", wasmbuild.ForTest(t, "../../tlds/"+tld)))
	}
	n := startServe(t, c)
	tok, err := os.ReadFile(filepath.Join(c.data, "operator.token"))
	if err != nil {
		t.Fatal(err)
	}
	port := n.api[strings.LastIndexByte(n.api, ':'):]
	pub := func(title, filename, mediaType string, payload []byte) cid.Address {
		t.Helper()
		manifest := aiManifest(title, mediaType)
		if strings.HasSuffix(filename, ".pmtiles") {
			manifest = pmtilesManifest
		}
		ct, body := publishBodyNamed(t, manifest, filename, payload)
		code, _, b := request(t, "POST", n.api+"/v1/publish", strings.TrimSpace(string(tok)), ct, body, nil)
		if code != 201 {
			t.Fatalf("publish %s: %d %s", title, code, b)
		}
		var out struct{ Address string }
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		a, err := cid.ParseAddress(out.Address)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	bPage := pub("B's page", "index.html", "", []byte(victimPage))
	bJS := pub("B's script", "b.js", "", []byte(`self.addEventListener("fetch", e => e.respondWith(new Response("B's worker")));`))
	aSW := pub("A's worker", "sw.js", "", []byte(`self.addEventListener("fetch", e => e.respondWith(new Response("PWNED by A's worker", {headers: {"Content-Type": "text/html"}})));`))
	aPage := pub("A's page", "index.html", "", []byte(attackerPage))
	tile := randData(5000)
	tiles := pub("tiles", "tiles.pmtiles", "", onePMTile(tile))
	media := pub("media", "media.wav", "audio/wav", wav(8<<20))

	type layout struct {
		name, node string
		addr       func(a cid.Address) string // the URL of an address's root
		opts       browsertest.Options
	}
	sub := func(domain string) func(cid.Address) string {
		return func(a cid.Address) string {
			return "http://" + a.Hash.Label() + "." + a.TLD + "." + domain + port + "/"
		}
	}
	public := sub("ron.test")
	var secure []string
	for _, a := range []cid.Address{bPage, bJS, aSW, aPage} {
		secure = append(secure, strings.TrimSuffix(public(a), "/"))
	}
	layouts := []layout{
		{name: "localhost", node: "http://localhost" + port, addr: sub("localhost")},
		{name: "public", node: "http://ron.test" + port, addr: public, opts: browsertest.Options{
			HostResolverRules: "MAP ron.test 127.0.0.1, MAP *.ron.test 127.0.0.1",
			SecureOrigins:     append(secure, "http://ron.test"+port)}},
		{name: "bare", node: "http://127.0.0.1" + port, addr: func(a cid.Address) string {
			return "http://127.0.0.1" + port + "/r/" + a.Hash.Hex() + "." + a.TLD
		}},
	}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(appPage))
	}))
	defer app.Close()

	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			b := browsertest.New(t, l.opts)
			q := url.Values{"bjs": {l.addr(bJS)}, "asw": {l.addr(aSW)}, "bscope": {l.addr(bPage)}, "node": {l.node}}
			b.Navigate(l.addr(aPage) + "?" + q.Encode())
			res := browsertest.Eval[map[string]string](b, `window.__results`)
			b.Screenshot("A-page")
			t.Logf("A's page: %v", res)
			for _, k := range []string{"bScript", "ownScript"} {
				if !strings.HasPrefix(res[k], "refused") {
					t.Errorf("A registered a service worker over B's address with %s: %q", k, res[k])
				}
			}
			for _, p := range []string{"/v1/plugins", "/metrics"} {
				for _, base := range []string{"", l.node} {
					got, ok := res[base+p]
					if !ok || strings.Contains(got, `"plugins"`) || strings.Contains(got, "ron_gateway_requests_total") {
						t.Errorf("A's page read %s%s: %q", base, p, got)
					}
				}
			}

			// The node's own origin: no service worker, even from a page of
			// its own; its API answers its own pages.
			b.Navigate(l.node + "/healthz")
			reg := browsertest.Eval[string](b, `navigator.serviceWorker
				? navigator.serviceWorker.register("/r/`+aSW.Hash.Hex()+`.ai", {scope: "/r/"}).then(() => "registered", e => "refused: " + e)
				: "refused: no service worker API here"`)
			if !strings.HasPrefix(reg, "refused") {
				t.Errorf("a service worker was registered on the node's origin: %q", reg)
			}
			if own := browsertest.Eval[string](b, `fetch("/v1/plugins").then(r => r.text())`); !strings.Contains(own, `"plugins"`) {
				t.Errorf("the node's own page cannot read its API: %q", own)
			}

			// B's address gives B's bytes: no worker, no storage of A's.
			b.Navigate(l.addr(bPage))
			text := browsertest.Eval[string](b, `document.body.innerText`)
			seen := browsertest.Eval[string](b, `window.__b`)
			ctl := browsertest.Eval[bool](b, `(() => { try { return !!navigator.serviceWorker.controller } catch (e) { return false } })()`)
			b.Screenshot("B-page")
			if !strings.Contains(text, "B's page: genuine") || strings.Contains(text, "PWNED") || ctl {
				t.Fatalf("B's address shows %q (controlled by a worker: %v)", text, ctl)
			}
			if strings.Contains(seen, "A was here") {
				t.Fatalf("B's page sees A's storage: %q", seen)
			}

			// Another origin's page: a tile with Range, a media element seeking.
			tileURL := l.addr(tiles) + "0/0/0"
			if l.name == "bare" {
				tileURL = l.addr(tiles) + "/0/0/0"
			}
			aq := url.Values{"tile": {tileURL}, "media": {l.addr(media)}}
			if l.name == "localhost" {
				aq.Set("tile2", l.node+"/r/"+tiles.Hash.Hex()+".map/0/0/0") // redirected, and still 206
			}
			b.Navigate(app.URL + "/?" + aq.Encode())
			got := browsertest.Eval[map[string]any](b, `window.__app`)
			b.Screenshot("app")
			t.Logf("the app page: %v", got)
			want := fmt.Sprintf("206 bytes 10-99/%d 90 %d", len(tile), int(tile[10]))
			if got["tile"] != want {
				t.Errorf("cross-origin tile with Range: %v, want %q", got["tile"], want)
			}
			if l.name == "localhost" && got["tile2"] != want {
				t.Errorf("cross-origin tile through the node's path (redirected): %v, want %q", got["tile2"], want)
			}
			cur, _ := got["currentTime"].(float64)
			if got["seeked"] != true || cur < 400 {
				t.Errorf("the media element did not seek: %v", got)
			}
			var later bool
			for _, r := range b.Responses(strings.TrimSuffix(l.addr(media), "/")) {
				if r.Status == 206 && !strings.HasPrefix(r.ContentRange, "bytes 0-") {
					later = true
				}
			}
			if !later {
				t.Errorf("no 206 from the middle of the media: %+v", b.Responses(strings.TrimSuffix(l.addr(media), "/")))
			}
		})
	}
}

// browserAvailable skips when Chromium is missing, before the node is built.
func browserAvailable(t *testing.T) {
	if _, err := os.Stat(browsertest.Chromium); err != nil {
		t.Skipf("chromium is not installed at %s (apt-get install chromium; .ci/run does)", browsertest.Chromium)
	}
}

func aiManifest(title, mediaType string) string {
	m := "[meta]\ntld = \"ai\"\ntitle = " + strconv.Quote(title) + "\n"
	if mediaType != "" {
		m += "\n[payload]\nmedia_type = " + strconv.Quote(mediaType) + "\n"
	}
	return m + `
[ai]
kind = "dataset"

[ai.card]
license = "CC0-1.0"
intended_use = "Browser tests of the gateway."
limitations = "None."

[[ai.creators]]
name = "Tester"
payout = "ron1tester"
`
}

const pmtilesManifest = `[meta]
tld = "map"
title = "one tile"

[payload]
media_type = "application/vnd.pmtiles"

[map]
format = "pmtiles"
minzoom = 0
maxzoom = 0
license = "CC0-1.0"

[[map.creators]]
name = "Tester"
payout = "ron1tester"
`

func publishBodyNamed(t *testing.T, manifest, filename string, payload []byte) (string, *bytes.Buffer) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if err := writePublishBody(mw, []byte(manifest), filename, bytes.NewReader(payload)); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), &body
}

// onePMTile is a PMTiles v3 archive holding one PNG tile at 0/0/0, laid out
// as the spec says: the 127-byte header, the root directory, the metadata,
// the tile data.
func onePMTile(tile []byte) []byte {
	dir := bin.AppendUvarint(nil, 1)                // one entry
	dir = bin.AppendUvarint(dir, 0)                 // tile ID 0 (delta)
	dir = bin.AppendUvarint(dir, 1)                 // run length
	dir = bin.AppendUvarint(dir, uint64(len(tile))) // length
	dir = bin.AppendUvarint(dir, 1)                 // offset 0, written +1
	meta := []byte("{}")
	h := make([]byte, 127)
	copy(h, "PMTiles")
	h[7] = 3
	put := func(at int, v uint64) { bin.LittleEndian.PutUint64(h[at:], v) }
	put(8, 127)
	put(16, uint64(len(dir)))
	put(24, 127+uint64(len(dir)))
	put(32, uint64(len(meta)))
	put(40, 127+uint64(len(dir)+len(meta)))
	put(48, 0)
	put(56, 127+uint64(len(dir)+len(meta)))
	put(64, uint64(len(tile)))
	put(72, 1) // addressed tiles
	put(80, 1) // tile entries
	put(88, 1) // tile contents
	h[96] = 1  // clustered
	h[97] = 1  // internal compression: none
	h[98] = 1  // tile compression: none
	h[99] = 2  // tile type: png
	h[100], h[101] = 0, 0
	for i, e7 := range []int32{-1800000000, -850511287, 1800000000, 850511287} { // bounds: the world
		bin.LittleEndian.PutUint32(h[102+4*i:], uint32(e7))
	}
	out := append(h, dir...)
	out = append(out, meta...)
	return append(out, tile...)
}

// wav is n bytes of 8 kHz 8-bit mono PCM (a slow sine sweep) in a WAV file.
func wav(n int) []byte {
	b := make([]byte, 44, 44+n)
	copy(b, "RIFF")
	bin.LittleEndian.PutUint32(b[4:], uint32(36+n))
	copy(b[8:], "WAVEfmt ")
	bin.LittleEndian.PutUint32(b[16:], 16)
	bin.LittleEndian.PutUint16(b[20:], 1) // PCM
	bin.LittleEndian.PutUint16(b[22:], 1) // mono
	bin.LittleEndian.PutUint32(b[24:], 8000)
	bin.LittleEndian.PutUint32(b[28:], 8000)
	bin.LittleEndian.PutUint16(b[32:], 1)
	bin.LittleEndian.PutUint16(b[34:], 8)
	copy(b[36:], "data")
	bin.LittleEndian.PutUint32(b[40:], uint32(n))
	for i := range n {
		b = append(b, byte(128+int(100*triangle(i, 40+i/80000))))
	}
	return b
}

func triangle(i, period int) float64 {
	p := float64(i%period) / float64(period)
	if p < .5 {
		return 4*p - 1
	}
	return 3 - 4*p
}

// attackerPage is A's page: it tries to take over B's address and to read
// the node's API, and reports what happened in window.__results.
const attackerPage = `<!DOCTYPE html><meta charset="utf-8"><title>A's page</title>
<h1>A's page (an attacker)</h1><pre id="out">working…</pre>
<script>
window.__results = (async () => {
  const p = new URLSearchParams(location.search), r = {};
  for (const [name, url] of [["bScript", p.get("bjs")], ["ownScript", p.get("asw")]]) {
    try {
      if (!navigator.serviceWorker) throw new Error("no service worker API in this context");
      await navigator.serviceWorker.register(url, {scope: p.get("bscope")});
      r[name] = "registered";
    } catch (e) { r[name] = "refused: " + e; }
  }
  for (const path of ["/v1/plugins", "/metrics"]) {
    for (const base of ["", p.get("node")]) {
      try { const res = await fetch(base + path); r[base + path] = res.status + " " + (await res.text()).slice(0, 300); }
      catch (e) { r[base + path] = "blocked: " + e; }
    }
  }
  try { localStorage.setItem("note", "A was here"); r.storage = "written"; } catch (e) { r.storage = "no storage: " + e; }
  document.getElementById("out").textContent = JSON.stringify(r, null, 1);
  return r;
})();
</script>`

// victimPage is B's page; window.__b says what storage it sees.
const victimPage = `<!DOCTYPE html><meta charset="utf-8"><title>B's page</title>
<h1>B's page: genuine</h1><p id="s"></p>
<script>
try { window.__b = "storage: " + JSON.stringify(Object.assign({}, localStorage)); } catch (e) { window.__b = "no storage: " + e; }
document.getElementById("s").textContent = window.__b;
</script>`

// appPage is a page of another origin (a web map, a player): it fetches a
// tile with Range and seeks a media element; window.__app reports.
const appPage = `<!DOCTYPE html><meta charset="utf-8"><title>another origin</title>
<h1>A page of another origin</h1><video id="v" muted preload="metadata" controls width="400"></video><pre id="out"></pre>
<script>
const p = new URLSearchParams(location.search);
async function tile(u) {
  try {
    const r = await fetch(u, {headers: {Range: "bytes=10-99"}});
    const b = new Uint8Array(await r.arrayBuffer());
    return r.status + " " + r.headers.get("Content-Range") + " " + b.length + " " + b[0];
  } catch (e) { return "failed: " + e; }
}
function seek(u) {
  return new Promise(resolve => {
    const v = document.getElementById("v"), out = {};
    const t = setTimeout(() => resolve(Object.assign(out, {seeked: false, error: String(v.error && v.error.message), state: v.readyState})), 45000);
    v.addEventListener("loadedmetadata", () => { out.duration = v.duration; v.currentTime = v.duration * 0.9; }, {once: true});
    v.addEventListener("seeked", () => { clearTimeout(t); resolve(Object.assign(out, {seeked: true, currentTime: v.currentTime})); }, {once: true});
    v.addEventListener("error", () => { clearTimeout(t); resolve(Object.assign(out, {seeked: false, error: String(v.error && v.error.message)})); }, {once: true});
    v.src = u;
  });
}
window.__app = (async () => {
  const out = {tile: await tile(p.get("tile"))};
  if (p.get("tile2")) out.tile2 = await tile(p.get("tile2"));
  Object.assign(out, await seek(p.get("media")));
  document.getElementById("out").textContent = JSON.stringify(out, null, 1);
  return out;
})();
</script>`
