package console

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/gateway"
	"github.com/ronhost/ronhost/internal/poll"
)

type fakeAuth struct{}

func (fakeAuth) Authorize(r *http.Request) (int64, error) {
	switch r.Header.Get("Authorization") {
	case "Bearer good":
		return -1, nil
	case "":
		return 0, bus.Errorf(codes.Unauthorized, "no token")
	}
	return 0, bus.Errorf(codes.Unauthorized, "bad token")
}

type fakeState struct{}

func (fakeState) Snapshot(ctx context.Context) Snapshot {
	return Snapshot{Node: NodeInfo{ID: "node-1", Ready: true}, Plugins: []Plugin{{TLD: "map", Name: "map"}}}
}

// fakeBus delivers what emit sends to the current subscribers.
type fakeBus struct {
	mu   sync.Mutex
	subs map[int]func(string, []byte)
	next int
}

func (b *fakeBus) Subscribe(kind string, fn func(string, []byte)) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs == nil {
		b.subs = map[int]func(string, []byte){}
	}
	id := b.next
	b.next++
	b.subs[id] = fn
	return func() { b.mu.Lock(); delete(b.subs, id); b.mu.Unlock() }, nil
}

func (b *fakeBus) emit(subject, data string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, fn := range b.subs {
		fn(subject, []byte(data))
	}
}

func (b *fakeBus) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

func newServer(t *testing.T, o Options) (*Console, *httptest.Server) {
	t.Helper()
	c := New(o)
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(func() { c.Close(); srv.Close() })
	return c, srv
}

func do(t *testing.T, method, url, token string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// The page and its assets: served without a token, under a strict CSP,
// unframeable, with no inline script and nothing fetched from elsewhere.
func TestAssetsAndHeaders(t *testing.T) {
	_, srv := newServer(t, Options{State: fakeState{}, Auth: fakeAuth{}})
	for path, ct := range map[string]string{"/ui/": "text/html", "/ui/console.js": "text/javascript", "/ui/console.css": "text/css"} {
		resp, body := do(t, "GET", srv.URL+path, "", nil)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ct) || body == "" {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "connect-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("GET %s: CSP allows inline or eval: %q", path, csp)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: headers %v", path, resp.Header)
		}
	}
	// Every asset: no inline script or handler, no URL of another origin.
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|\son[a-z]+\s*=|javascript:`)
	remote := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//|url\(\s*["']?(https?:)?//|@import|fetch\(\s*["'](https?:)?//`)
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets, p)
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, ".html") && inline.Match(b) {
			t.Errorf("%s has inline script: %s", p, inline.Find(b))
		}
		if m := remote.Find(b); m != nil {
			t.Errorf("%s loads something from another origin: %s", p, m)
		}
		if strings.HasSuffix(p, ".js") && (strings.Contains(string(b), "innerHTML") || strings.Contains(string(b), "eval(")) {
			t.Errorf("%s writes HTML or evaluates strings", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Data and sign-in need a token in the Authorization header: none and a
// wrong one get 401; one in the query string is refused (400) even with a
// good header, and is never checked.
func TestTokenRequired(t *testing.T) {
	_, srv := newServer(t, Options{State: fakeState{}, Auth: fakeAuth{}, Events: &fakeBus{}})
	for _, tc := range []struct {
		method, path, token string
		want                int
	}{
		{"GET", "/ui/api/state", "", 401},
		{"GET", "/ui/api/state", "wrong", 401},
		{"GET", "/ui/api/events", "", 401},
		{"GET", "/ui/api/events", "wrong", 401},
		{"POST", "/ui/api/session", "", 401},
		{"POST", "/ui/api/session", "wrong", 401},
		{"POST", "/ui/api/session", "good", 204},
		{"GET", "/ui/api/state?token=good", "", 400},
		{"GET", "/ui/api/state?access_token=good", "good", 400},
		{"GET", "/ui/api/events?token=good", "", 400},
		{"GET", "/ui/?token=good", "", 400},
		{"GET", "/ui/api/state", "good", 200},
		{"POST", "/ui/api/state", "good", 404},
		{"GET", "/ui/nope", "", 404},
	} {
		resp, body := do(t, tc.method, srv.URL+tc.path, tc.token, nil)
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s (token %q): %d %s, want %d", tc.method, tc.path, tc.token, resp.StatusCode, body, tc.want)
		}
		if resp.StatusCode == 401 && !strings.Contains(body, `"code":"unauthorized"`) {
			t.Errorf("%s %s: 401 without the error shape: %s", tc.method, tc.path, body)
		}
		if resp.StatusCode == 200 && tc.path == "/ui/api/state" {
			var s Snapshot
			if err := json.Unmarshal([]byte(body), &s); err != nil || s.Node.ID != "node-1" || len(s.Plugins) != 1 ||
				resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("state: %v %s", err, body)
			}
		}
	}
	// No Authorizer: nothing is shown.
	_, bare := newServer(t, Options{State: fakeState{}})
	if resp, _ := do(t, "GET", bare.URL+"/ui/api/state", "good", nil); resp.StatusCode != 401 {
		t.Errorf("state without an Authorizer: %d", resp.StatusCode)
	}
}

// A content origin never reaches the console, its page or its API.
func TestContentOriginRefused(t *testing.T) {
	hosts, err := gateway.NewHosts([]string{"ron.test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, srv := newServer(t, Options{State: fakeState{}, Auth: fakeAuth{}, Hosts: hosts})
	label := cid.Sum([]byte("a page")).Label()
	for _, host := range []string{label + ".map.localhost", label + ".localhost", label + ".ai.ron.test", "evil.example"} {
		for _, p := range []string{"/ui/", "/ui/console.js", "/ui/api/state"} {
			if resp, body := do(t, "GET", srv.URL+p, "good", map[string]string{"Host": host}); resp.StatusCode != 404 {
				t.Errorf("Host %s %s: %d %s", host, p, resp.StatusCode, body)
			}
		}
	}
	for _, host := range []string{"localhost", "ron.test", "127.0.0.1"} {
		if resp, body := do(t, "GET", srv.URL+"/ui/api/state", "good", map[string]string{"Host": host}); resp.StatusCode != 200 {
			t.Errorf("the node's origin %s: %d %s", host, resp.StatusCode, body)
		}
	}
}

// The event stream: it starts once subscribed, carries each event as one
// frame, caps the streams open at once, and Close ends them.
func TestEventStream(t *testing.T) {
	b := &fakeBus{}
	c, srv := newServer(t, Options{State: fakeState{}, Auth: fakeAuth{}, Events: b, MaxStreams: 1})
	req, _ := http.NewRequest("GET", srv.URL+"/ui/api/events", nil)
	req.Header.Set("Authorization", "Bearer good")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %v", resp.StatusCode, resp.Header)
	}
	r := bufio.NewReader(resp.Body)
	if line, err := r.ReadString('\n'); err != nil || line != ": connected\n" {
		t.Fatalf("first line %q %v", line, err)
	}
	if r2, body := do(t, "GET", srv.URL+"/ui/api/events", "good", nil); r2.StatusCode != 429 {
		t.Errorf("a second stream over MaxStreams: %d %s", r2.StatusCode, body)
	}
	b.emit("ron.evt.manifest.published", `{"address":"crab://x.map",
		"size":3}`)
	var frame []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v (so far %q)", err, frame)
		}
		if line == "\n" && len(frame) > 0 && strings.HasPrefix(frame[0], "id:") {
			break
		}
		if line != "\n" && !strings.HasPrefix(line, ":") && !strings.HasPrefix(line, "retry:") {
			frame = append(frame, strings.TrimSuffix(line, "\n"))
		}
	}
	if len(frame) != 3 || frame[0] != "id: 1" || frame[1] != "event: ron.evt" ||
		frame[2] != `data: {"subject":"ron.evt.manifest.published","event":{"address":"crab://x.map","size":3}}` {
		t.Fatalf("frame %q", frame)
	}
	done := make(chan struct{})
	go func() { c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(poll.Deadline):
		t.Fatal("Close did not end the stream")
	}
	if n := b.count(); n != 0 {
		t.Fatalf("%d subscriptions left after Close", n)
	}
	if r3, _ := do(t, "GET", srv.URL+"/ui/api/events", "good", nil); r3.StatusCode != 503 {
		t.Errorf("a stream after Close: %d", r3.StatusCode)
	}
}
