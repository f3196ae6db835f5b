package gateway

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"lukechampine.com/blake3/bao"

	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

// doHost sends a request with the given Host header and does not follow
// redirects.
func (e *env) doHost(t testing.TB, method, host, path string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.c.Transport.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, host, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

const txtManifest = "[meta]\ntld = \"txt\"\ntitle = %q\n"

func publishTitled(t *testing.T, e *env, title string, payload []byte) cid.Address {
	t.Helper()
	p := e.publish(t, strings.Replace(txtManifest, "%q", `"`+title+`"`, 1), payload)
	a, err := cid.ParseAddress(p.Address)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func wantCORS(t *testing.T, what string, h http.Header) {
	t.Helper()
	if h.Get("Access-Control-Allow-Origin") != "*" ||
		h.Get("Access-Control-Expose-Headers") != "Content-Range, Content-Length, Accept-Ranges, ETag" {
		t.Fatalf("%s: CORS headers %q %q", what, h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Expose-Headers"))
	}
}

func wantNoCORS(t *testing.T, what string, h http.Header) {
	t.Helper()
	for k := range h {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Fatalf("%s: the API sent %s: %q", what, k, h.Get(k))
		}
	}
}

// TestContentOrigins: an address's origin serves that address's paths and
// nothing else; the node's origin redirects path requests there on a
// gateway domain and keeps its API to itself.
func TestContentOrigins(t *testing.T) {
	hosts, err := NewHosts([]string{"gw.example"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Config{Hosts: hosts})
	a := publishTitled(t, e, "A", []byte("A's bytes: hello"))
	b := publishTitled(t, e, "B", []byte("B's bytes: world"))
	aHost := a.Hash.Label() + ".txt.localhost:8470"
	for _, dom := range []string{"localhost:8470", "gw.example"} {
		host := a.Hash.Label() + ".txt." + dom
		resp, body := e.doHost(t, "GET", host, "/", nil)
		if resp.StatusCode != 200 || string(body) != "A's bytes: hello" || resp.Header.Get("Content-Security-Policy") != "" {
			t.Fatalf("%s/: %d %q CSP %q", host, resp.StatusCode, body, resp.Header.Get("Content-Security-Policy"))
		}
		wantCORS(t, host, resp.Header)
		// A path is the address's path, resolved by its plugin.
		resp, body = e.doHost(t, "GET", host, "/first/3", nil)
		if resp.StatusCode != 200 || string(body) != "A's" {
			t.Fatalf("%s/first/3: %d %q", host, resp.StatusCode, body)
		}
	}
	// Nothing else: not the ops endpoints, not the API, not another address.
	for _, path := range []string{"/metrics", "/healthz", "/v1/payouts", "/r/" + b.Hash.Hex() + ".txt", "/o/" + cid.Sum([]byte("B's bytes: world")).String()} {
		resp, body := e.doHost(t, "GET", aHost, path, map[string]string{"Authorization": "Bearer good"})
		wantError(t, resp, body, 404, codes.NotFound)
		if bytes.Contains(body, []byte("world")) || bytes.Contains(body, []byte("ron_gateway")) {
			t.Fatalf("A's origin answered %s with %s", path, body)
		}
	}
	resp, body := e.doHost(t, "POST", aHost, "/v1/objects", map[string]string{"Authorization": "Bearer good"})
	wantError(t, resp, body, 405, codes.Invalid)
	// An object's origin serves the object at / only.
	payload := cid.Sum([]byte("B's bytes: world"))
	resp, body = e.doHost(t, "GET", payload.Label()+".localhost", "/", nil)
	if resp.StatusCode != 200 || string(body) != "B's bytes: world" || resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("object origin: %d %q", resp.StatusCode, body)
	}
	resp, body = e.doHost(t, "GET", payload.Label()+".localhost", "/x", nil)
	wantError(t, resp, body, 404, codes.NotFound)
	// The address's origin may have its own service worker.
	if resp, _ := e.doHost(t, "GET", aHost, "/", map[string]string{"Service-Worker": "script"}); resp.StatusCode != 200 {
		t.Fatalf("a worker of A's own origin: %d", resp.StatusCode)
	}

	// On a gateway domain, /r/ and /o/ redirect to the origin (query kept).
	for _, tc := range []struct{ host, path, hdr, want string }{
		{"localhost:8470", "/r/" + a.Hash.Hex() + ".txt/first/3?x=1", "", "http://" + aHost + "/first/3?x=1"},
		{"localhost:8470", "/r/" + a.Hash.Hex() + ".txt", "", "http://" + aHost + "/"},
		{"gw.example", "/r/" + a.Hash.Hex() + ".txt/tiles/1/2/3.png", "https", "https://" + a.Hash.Label() + ".txt.gw.example/tiles/1/2/3.png"},
		{"localhost:8470", "/o/" + payload.String(), "", "http://" + payload.Label() + ".localhost:8470/"},
	} {
		resp, _ := e.doHost(t, "GET", tc.host, tc.path, map[string]string{"X-Forwarded-Proto": tc.hdr})
		if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != tc.want {
			t.Fatalf("%s%s: %d Location %q, want %q", tc.host, tc.path, resp.StatusCode, resp.Header.Get("Location"), tc.want)
		}
		wantCORS(t, "a redirect", resp.Header)
	}
	resp, body = e.doHost(t, "GET", "localhost", "/r/nothex.txt", nil)
	wantError(t, resp, body, 400, codes.Invalid)
	// A verifiable stream is served where it is asked (never rendered).
	resp, body = e.doHost(t, "GET", "localhost", "/o/"+payload.String()+"?format=bao", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != MediaTypeBao {
		t.Fatalf("bao on localhost: %d %s", resp.StatusCode, body)
	}

	// Where no origin per address exists (an IP), content is sandboxed.
	resp, body = e.doHost(t, "GET", "127.0.0.1:8470", "/r/"+a.Hash.Hex()+".txt", nil)
	if resp.StatusCode != 200 || string(body) != "A's bytes: hello" || resp.Header.Get("Content-Security-Policy") != sandboxCSP {
		t.Fatalf("IP host: %d %q CSP %q", resp.StatusCode, body, resp.Header.Get("Content-Security-Policy"))
	}
	wantCORS(t, "IP host", resp.Header)
	resp, body = e.doHost(t, "GET", "127.0.0.1", "/o/"+cid.Sum([]byte("absent")).String(), nil)
	wantError(t, resp, body, 404, codes.NotFound)
	wantCORS(t, "a content error", resp.Header)

	// No service worker on the node's origin, whatever it asks for.
	for _, host := range []string{"127.0.0.1:8470", "localhost:8470"} {
		for _, path := range []string{"/r/" + a.Hash.Hex() + ".txt", "/o/" + payload.String(), "/healthz"} {
			resp, body := e.doHost(t, "GET", host, path, map[string]string{"Service-Worker": "script"})
			wantError(t, resp, body, 403, codes.Forbidden)
		}
	}

	// Unknown hosts (a rebound DNS name) get nothing.
	resp, body = e.doHost(t, "GET", "evil.example", "/healthz", nil)
	wantError(t, resp, body, http.StatusMisdirectedRequest, codes.NotFound)
	resp, body = e.doHost(t, "GET", "x.localhost", "/", nil)
	wantError(t, resp, body, 400, codes.Invalid)
}

// TestAPIRefusesOtherOrigins: the ops endpoints and the API answer the
// node's own pages and non-browser clients, never a page of another origin,
// and never with CORS headers.
func TestAPIRefusesOtherOrigins(t *testing.T) {
	e := newEnv(t, Config{})
	aOrigin := "http://" + cid.Sum([]byte("x")).Label() + ".txt.localhost:8470"
	for _, tc := range []struct {
		host string
		hdr  map[string]string
		want int
	}{
		{"127.0.0.1:8470", nil, 200},
		{"127.0.0.1:8470", map[string]string{"Sec-Fetch-Site": "same-origin"}, 200},
		{"127.0.0.1:8470", map[string]string{"Sec-Fetch-Site": "none"}, 200},
		{"127.0.0.1:8470", map[string]string{"Origin": "http://127.0.0.1:8470"}, 200},
		{"localhost:8470", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"localhost:8470", map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
		{"localhost:8470", map[string]string{"Origin": aOrigin}, 403},
		{"127.0.0.1:8470", map[string]string{"Origin": "null"}, 403},
		{"127.0.0.1:8470", map[string]string{"Origin": "http://127.0.0.1:9999"}, 403},
	} {
		for _, path := range []string{"/healthz", "/metrics", "/v1/payouts"} {
			hdr := map[string]string{"Authorization": "Bearer good"}
			for k, v := range tc.hdr {
				hdr[k] = v
			}
			resp, body := e.doHost(t, "GET", tc.host, path, hdr)
			if resp.StatusCode != tc.want {
				t.Fatalf("%s %s %v: %d %s", tc.host, path, tc.hdr, resp.StatusCode, body)
			}
			wantNoCORS(t, path, resp.Header)
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("%s: no nosniff", path)
			}
		}
	}
	// A preflight of the API fails: 405, no CORS.
	resp, _ := e.doHost(t, "OPTIONS", "127.0.0.1", "/v1/objects", map[string]string{
		"Origin": aOrigin, "Access-Control-Request-Method": "POST"})
	if resp.StatusCode < 400 {
		t.Fatalf("OPTIONS /v1/objects: %d", resp.StatusCode)
	}
	wantNoCORS(t, "OPTIONS /v1/objects", resp.Header)
}

// TestPreflight: content answers CORS preflights for GET and HEAD with the
// range and conditional headers, on every kind of origin, never redirected.
func TestPreflight(t *testing.T) {
	e := newEnv(t, Config{})
	a := publishTitled(t, e, "A", []byte("tiles"))
	hdr := map[string]string{"Origin": "https://maps.example", "Access-Control-Request-Method": "GET",
		"Access-Control-Request-Headers": "range, if-none-match"}
	for _, tc := range []struct{ host, path string }{
		{a.Hash.Label() + ".txt.localhost", "/0/0/0"},
		{"localhost", "/r/" + a.Hash.Hex() + ".txt/0/0/0"},
		{"127.0.0.1", "/o/" + cid.Sum([]byte("tiles")).String()},
	} {
		resp, body := e.doHost(t, "OPTIONS", tc.host, tc.path, hdr)
		h := resp.Header
		if resp.StatusCode != 204 || len(body) != 0 || h.Get("Access-Control-Allow-Origin") != "*" ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "GET") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Range") ||
			!strings.Contains(h.Get("Access-Control-Allow-Headers"), "If-None-Match") ||
			strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
			t.Fatalf("OPTIONS %s%s: %d %v", tc.host, tc.path, resp.StatusCode, h)
		}
	}
	// A cross-origin range read: 206 with the range headers exposed.
	resp, body := e.doHost(t, "GET", a.Hash.Label()+".txt.localhost", "/", map[string]string{"Origin": "https://maps.example", "Range": "bytes=1-3"})
	if resp.StatusCode != 206 || string(body) != "ile" || resp.Header.Get("Content-Range") != "bytes 1-3/5" {
		t.Fatalf("range: %d %q", resp.StatusCode, body)
	}
	wantCORS(t, "206", resp.Header)
}

// TestMediaTypes: the manifest's media type wins, then the payload part's
// (parameters kept); only when neither gives one is it sniffed.
func TestMediaTypes(t *testing.T) {
	e := newEnv(t, Config{})
	webm := append([]byte{0x1a, 0x45, 0xdf, 0xa3}, data(2000, 4)...)
	html := []byte("<!DOCTYPE html><title>x</title>")
	for i, tc := range []struct {
		manifestType, partType string
		payload                []byte
		want                   string
	}{
		{`text/plain; charset="ISO-8859-1"`, "text/html", html, "text/plain; charset=ISO-8859-1"},
		{"", "text/html; charset=iso-8859-1", html, "text/html; charset=iso-8859-1"},
		{"", "video/webm", webm, "video/webm"},
		{"", "", webm, "video/webm"},
		{"", "application/octet-stream", html, "text/html; charset=utf-8"},
		{"", "", data(3000, 5), "application/octet-stream"},
		{"", "", nil, "application/octet-stream"},
		{"video/webm", "", html, "video/webm"},
	} {
		toml := "[meta]\ntld = \"txt\"\ntitle = \"m" + string(rune('a'+i)) + "\"\n"
		if tc.manifestType != "" {
			toml += "[payload]\nmedia_type = '" + tc.manifestType + "'\n"
		}
		body, ct := publishForm(t, toml, "file", tc.partType, tc.payload)
		resp, b := e.do(t, "POST", "/v1/publish", map[string]string{"Authorization": "Bearer good", "Content-Type": ct}, body)
		if resp.StatusCode != 201 {
			t.Fatalf("case %d: publish %d %s", i, resp.StatusCode, b)
		}
		resp, b = e.do(t, "GET", resp.Header.Get("Location"), nil, nil)
		if got := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || got != tc.want || !bytes.Equal(b, tc.payload) {
			t.Errorf("case %d: %d Content-Type %q, want %q", i, resp.StatusCode, got, tc.want)
		}
	}
}

// TestBaoFormat: /o/{cid} as a verifiable stream, whole or a range,
// checked against the CID alone.
func TestBaoFormat(t *testing.T) {
	e := newEnv(t, Config{})
	body := data(5*store.GroupSize+123, 11)
	c := e.put(t, body)
	whole, _ := bao.EncodeBuf(body, store.Group, false)
	for _, hdr := range []map[string]string{{"Accept": "text/html, application/vnd.ronhost.bao;q=0.9"}, nil} {
		path := "/o/" + c.String()
		if hdr == nil {
			path += "?format=bao"
		}
		resp, b := e.do(t, "GET", path, hdr, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != MediaTypeBao || !bytes.Equal(b, whole) ||
			resp.Header.Get("Content-Length") != itoa(len(whole)) || resp.Header.Get("ETag") != `"`+c.String()+`.bao"` {
			t.Fatalf("%s %v: %d %q, %d bytes", path, hdr, resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
		}
		wantCORS(t, "bao", resp.Header)
		var out bytes.Buffer
		if _, err := store.DecodeSlice(&out, bytes.NewReader(b), c, 0, -1); err != nil || !bytes.Equal(out.Bytes(), body) {
			t.Fatalf("DecodeSlice: %v", err)
		}
	}
	// q=0 is a refusal; Range is ignored (the range is entity-bytes).
	resp, b := e.do(t, "GET", "/o/"+c.String(), map[string]string{"Accept": "application/vnd.ronhost.bao;q=0", "Range": "bytes=0-9"}, nil)
	if resp.StatusCode != 206 || len(b) != 10 {
		t.Fatalf("q=0: %d", resp.StatusCode)
	}
	resp, b = e.do(t, "GET", "/o/"+c.String()+"?format=bao&entity-bytes=70000:140000", map[string]string{"Range": "bytes=0-9"}, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Accept-Ranges") != "none" {
		t.Fatalf("entity-bytes: %d", resp.StatusCode)
	}
	if got, ok := bao.VerifySlice(b, store.Group, 70000, 70001, c); !ok || !bytes.Equal(got, body[70000:140001]) {
		t.Fatalf("the range slice does not verify")
	}
	resp, _ = e.do(t, "HEAD", "/o/"+c.String()+"?format=bao&entity-bytes=70000:*", nil, nil)
	if resp.Header.Get("Content-Length") != itoa(int(store.SliceLen(int64(len(body)), 70000, int64(len(body))-70000))) {
		t.Fatalf("HEAD: Content-Length %s", resp.Header.Get("Content-Length"))
	}
	resp, _ = e.do(t, "GET", "/o/"+c.String()+"?format=bao", map[string]string{"If-None-Match": `"` + c.String() + `.bao"`}, nil)
	if resp.StatusCode != 304 {
		t.Fatalf("If-None-Match: %d", resp.StatusCode)
	}
	for _, tc := range []struct {
		q      string
		status int
		code   codes.Code
	}{
		{"format=car", 400, codes.Invalid},
		{"format=bao&entity-bytes=5", 400, codes.Invalid},
		{"format=bao&entity-bytes=9:3", 400, codes.Invalid},
		{"format=bao&entity-bytes=999999999:*", 416, codes.Range},
	} {
		resp, b := e.do(t, "GET", "/o/"+c.String()+"?"+tc.q, nil, nil)
		wantError(t, resp, b, tc.status, tc.code)
	}
	resp, b = e.do(t, "GET", "/o/"+cid.Sum([]byte("absent")).String()+"?format=bao", nil, nil)
	wantError(t, resp, b, 404, codes.NotFound)

	// Stored bytes that went bad never leave in a complete stream.
	flipByte(t, e.objectFile(c), 3*store.GroupSize+7)
	req, _ := http.NewRequest("GET", e.srv.URL+"/o/"+c.String()+"?format=bao", nil)
	r, err := e.c.Do(req)
	if err == nil {
		_, err = io.ReadAll(r.Body)
		r.Body.Close()
	}
	if err == nil {
		t.Fatal("a stream with a corrupt group completed")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
