package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/manifest"
	"github.com/ronhost/ronhost/internal/core/store"
)

func (e *env) usage(t *testing.T) store.Usage {
	t.Helper()
	u, err := e.st.Stat(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestPublish(t *testing.T) {
	e := newEnv(t, Config{MaxBodyBytes: 1 << 20})
	payload := data(5000, 9)
	post := func(auth string, toml string, payload []byte, extra map[string]string) (*http.Response, []byte) {
		body, ct := publishForm(t, toml, "notes.txt", "text/plain; charset=utf-8", payload)
		h := map[string]string{"Content-Type": ct}
		if auth != "" {
			h["Authorization"] = "Bearer " + auth
		}
		for k, v := range extra {
			h[k] = v
		}
		return e.do(t, "POST", "/v1/publish", h, body)
	}

	// Fails closed: no token, a bad one, a read-only one, an unverifiable one.
	for _, tc := range []struct {
		auth   string
		status int
		code   codes.Code
	}{{"", 401, codes.Unauthorized}, {"forged", 401, codes.Unauthorized}, {"readonly", 403, codes.Forbidden},
		{"weird", 401, codes.Unauthorized}} {
		resp, body := post(tc.auth, mapManifest, payload, nil)
		wantError(t, resp, body, tc.status, tc.code)
	}
	if u := e.usage(t); u.Objects != 0 {
		t.Fatalf("an unauthorized publish stored %d objects", u.Objects)
	}

	// Accepted: 201, the payload's filename and type reach the manifest.
	resp, body := post("good", mapManifest, payload, nil)
	var p Published
	if resp.StatusCode != 201 || json.Unmarshal(body, &p) != nil {
		t.Fatalf("publish: %d %s", resp.StatusCode, body)
	}
	a, _ := cid.ParseAddress(p.Address)
	if resp.Header.Get("Location") != "/r/"+a.Hash.Hex()+".map" || p.Payload != cid.Sum(payload) {
		t.Fatalf("Location %q, %+v", resp.Header.Get("Location"), p)
	}
	ent, _ := e.be.Lookup(context.Background(), a.Hash)
	m, err := manifest.ParseJSON(ent.Doc)
	if err != nil || m.Payload.Filename != "notes.txt" || m.Payload.MediaType != "text/plain; charset=utf-8" { // the part's type, charset kept
		t.Fatalf("manifest %+v (%v)", m, err)
	}
	info, _ := e.st.Info(context.Background(), p.Payload)
	if info.Pinned {
		t.Fatal("the gateway pinned the payload: the index pins what it accepts")
	}

	// Rejected by the plugin: 422 with its errors.
	resp, body = post("good", "[meta]\ntld = \"bad\"\n", payload, nil)
	er := wantError(t, resp, body, 422, codes.Rejected)
	var fes []manifest.FieldError
	if err := json.Unmarshal(er.Errors, &fes); err != nil || len(fes) != 1 || fes[0].Path != "bad.x" {
		t.Fatalf("rejection errors %s (%v)", er.Errors, err)
	}
	// Invalid TOML: 422 with the field errors (as from the index), before
	// the payload is read.
	before := e.usage(t).Objects
	resp, body = post("good", "[meta\n", payload, nil)
	er = wantError(t, resp, body, 422, codes.Rejected)
	if !bytes.Contains(er.Errors, []byte(`"code":"syntax"`)) || e.usage(t).Objects != before {
		t.Fatalf("invalid TOML: errors %s, objects %d -> %d", er.Errors, before, e.usage(t).Objects)
	}
	// Unknown TLD: the backend's clear 404.
	resp, body = post("good", "[meta]\ntld = \"nope\"\n", payload, nil)
	if er := wantError(t, resp, body, 404, codes.NotFound); !strings.Contains(er.Message, ".nope") {
		t.Fatalf("unknown TLD: %q", er.Message)
	}

	// Over the body cap (config, then token): 413, nothing stored or pinned.
	pinsBefore, _ := e.st.Pins(context.Background())
	objsBefore := e.usage(t).Objects
	for _, tc := range []struct {
		auth string
		n    int
	}{{"good", 2 << 20}, {"small", 2000}} {
		resp, body = post(tc.auth, mapManifest, data(tc.n, 10), nil)
		wantError(t, resp, body, 413, codes.TooLarge)
		// Chunked, so the cap trips while streaming rather than on Content-Length.
		b, ct := publishForm(t, mapManifest, "big", "", data(tc.n, 11))
		req, _ := http.NewRequest("POST", e.srv.URL+"/v1/publish", io.MultiReader(b)) // no length: chunked
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Authorization", "Bearer "+tc.auth)
		r2, err := e.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := io.ReadAll(r2.Body)
		r2.Body.Close()
		wantError(t, r2, b2, 413, codes.TooLarge)
	}
	pinsAfter, _ := e.st.Pins(context.Background())
	if len(pinsAfter) != len(pinsBefore) || e.usage(t).Objects != objsBefore {
		t.Fatalf("over-cap publishes left pins %d -> %d, objects %d -> %d", len(pinsBefore), len(pinsAfter), objsBefore, e.usage(t).Objects)
	}

	// Not multipart: 415. Parts in the wrong order: 400. Compressed: 415.
	resp, body = e.do(t, "POST", "/v1/publish", map[string]string{"Authorization": "Bearer good", "Content-Type": "application/json"}, strings.NewReader("{}"))
	wantError(t, resp, body, 415, codes.Invalid)
	var buf bytes.Buffer
	mw := newForm(&buf, "payload", "manifest")
	resp, body = e.do(t, "POST", "/v1/publish", map[string]string{"Authorization": "Bearer good", "Content-Type": mw}, &buf)
	wantError(t, resp, body, 400, codes.Invalid)
	resp, body = post("good", mapManifest, payload, map[string]string{"Content-Encoding": "gzip"})
	wantError(t, resp, body, 415, codes.Invalid)
	resp, body = e.do(t, "GET", "/v1/publish", nil, nil)
	wantError(t, resp, body, 405, codes.Invalid)
	if resp.Header.Get("Allow") != "POST" {
		t.Fatalf("Allow %q", resp.Header.Get("Allow"))
	}
}

// newForm writes a multipart form with empty parts named names; it returns
// the Content-Type.
func newForm(w io.Writer, names ...string) string {
	var b strings.Builder
	boundary := "xyzzy"
	for _, n := range names {
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=%q\r\n\r\nx\r\n", boundary, n)
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	io.WriteString(w, b.String())
	return "multipart/form-data; boundary=" + boundary
}

// A client that stops sending its body is cut after WriteIdle with 408.
func TestStalledUpload(t *testing.T) {
	e := newEnv(t, Config{WriteIdle: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/objects HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer good\r\nContent-Length: 100000\r\n\r\n0123456789")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	wantError(t, resp, body, http.StatusRequestTimeout, codes.Timeout)
	if u := e.usage(t); u.Objects != 0 {
		t.Fatalf("a stalled upload stored %d objects", u.Objects)
	}
}

func TestObjectsPut(t *testing.T) {
	e := newEnv(t, Config{MaxBodyBytes: 1 << 20})
	b := data(70_000, 12)
	resp, body := e.do(t, "POST", "/v1/objects", nil, bytes.NewReader(b))
	wantError(t, resp, body, 401, codes.Unauthorized)
	resp, body = e.do(t, "POST", "/v1/objects", map[string]string{"Authorization": "Bearer good"}, bytes.NewReader(b))
	var out struct {
		CID          cid.CID `json:"cid"`
		Size         int64   `json:"size"`
		Deduplicated bool    `json:"deduplicated"`
	}
	if resp.StatusCode != 201 || json.Unmarshal(body, &out) != nil || out.CID != cid.Sum(b) || out.Size != int64(len(b)) || out.Deduplicated {
		t.Fatalf("POST /v1/objects: %d %s", resp.StatusCode, body)
	}
	if info, err := e.st.Info(context.Background(), out.CID); err != nil || !info.Pinned {
		t.Fatalf("stored object %+v, %v: want pinned", info, err)
	}
	// ?pin=false stores without a pin (the CLI's put --no-pin); a second
	// put of the same bytes says it was deduplicated.
	loose := data(70_000, 13)
	resp, body = e.do(t, "POST", "/v1/objects?pin=false", map[string]string{"Authorization": "Bearer good"}, bytes.NewReader(loose))
	if resp.StatusCode != 201 || json.Unmarshal(body, &out) != nil || out.CID != cid.Sum(loose) || out.Deduplicated {
		t.Fatalf("POST /v1/objects?pin=false: %d %s", resp.StatusCode, body)
	}
	if info, err := e.st.Info(context.Background(), out.CID); err != nil || info.Pinned {
		t.Fatalf("stored object %+v, %v: want unpinned", info, err)
	}
	resp, body = e.do(t, "POST", "/v1/objects?pin=false", map[string]string{"Authorization": "Bearer good"}, bytes.NewReader(loose))
	if resp.StatusCode != 201 || json.Unmarshal(body, &out) != nil || !out.Deduplicated {
		t.Fatalf("a second POST /v1/objects: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do(t, "POST", "/v1/objects?pin=maybe", map[string]string{"Authorization": "Bearer good"}, bytes.NewReader(loose))
	wantError(t, resp, body, 400, codes.Invalid)
	resp, body = e.do(t, "POST", "/v1/objects", map[string]string{"Authorization": "Bearer small"}, bytes.NewReader(b))
	wantError(t, resp, body, 413, codes.TooLarge)
	resp, body = e.do(t, "POST", "/v1/objects", map[string]string{"Authorization": "Bearer good", "Content-Encoding": "gzip"}, bytes.NewReader(b))
	wantError(t, resp, body, 415, codes.Invalid)
}

func TestNamesAndPayouts(t *testing.T) {
	e := newEnv(t, Config{})
	rec := `{"name":"alice","address":"crab://` + strings.Repeat("a", 64) + `.map","seq":2,"sig":"x"}`
	auth := map[string]string{"Authorization": "Bearer good"}
	resp, body := e.do(t, "POST", "/v1/names", nil, strings.NewReader(rec))
	wantError(t, resp, body, 401, codes.Unauthorized)
	resp, body = e.do(t, "POST", "/v1/names", auth, strings.NewReader(rec))
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"seq":2`) {
		t.Fatalf("set name: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do(t, "POST", "/v1/names", auth, strings.NewReader(rec))
	wantError(t, resp, body, 409, codes.Conflict)
	resp, body = e.do(t, "POST", "/v1/names", auth, strings.NewReader("{not json"))
	wantError(t, resp, body, 400, codes.Invalid)
	resp, body = e.do(t, "POST", "/v1/names", auth, strings.NewReader(`{"pad":"`+strings.Repeat("x", maxJSONBody)+`"}`))
	wantError(t, resp, body, 413, codes.TooLarge)

	resp, body = e.do(t, "GET", "/resolve/alice", nil, nil)
	var got map[string]any
	if resp.StatusCode != 200 || json.Unmarshal(body, &got) != nil || got["name"] != "alice" || got["seq"] != 2.0 ||
		got["address"] == nil {
		t.Fatalf("GET /resolve/alice: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do(t, "GET", "/resolve/bob", nil, nil)
	wantError(t, resp, body, 404, codes.NotFound)
	resp, body = e.do(t, "GET", "/resolve/", nil, nil)
	wantError(t, resp, body, 400, codes.Invalid)

	resp, body = e.do(t, "GET", "/v1/payouts", nil, nil)
	wantError(t, resp, body, 401, codes.Unauthorized)
	resp, body = e.do(t, "GET", "/v1/payouts", map[string]string{"Authorization": "Bearer readonly"}, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"alice":3`) {
		t.Fatalf("payouts: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do(t, "POST", "/v1/payouts/settle", map[string]string{"Authorization": "Bearer readonly"}, nil)
	wantError(t, resp, body, 403, codes.Forbidden)
	resp, body = e.do(t, "POST", "/v1/payouts/settle", auth, nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"amount":7`) {
		t.Fatalf("settle: %d %s", resp.StatusCode, body)
	}
}

// Requests past MaxConcurrent get 429 at once; /healthz and /metrics still
// answer; the held requests complete.
func TestOverload(t *testing.T) {
	e := newEnv(t, Config{MaxConcurrent: 3, MaxPerClient: 3})
	p := e.publish(t, mapManifest, data(100, 13))
	a, _ := cid.ParseAddress(p.Address)
	entered := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) })
	e.be.lookupHook = func(ctx context.Context) error {
		entered <- struct{}{}
		<-release
		return nil
	}
	var wg sync.WaitGroup
	statuses := make(chan int, 3)
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := e.c.Get(e.srv.URL + "/r/" + a.Hash.Hex() + ".map")
			if err != nil {
				statuses <- 0
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	for range 3 {
		<-entered
	}
	// Every slot is held: more requests are refused at once.
	for _, path := range []string{"/o/" + p.Payload.String(), "/r/" + a.Hash.Hex() + ".map", "/v1/payouts", "/version"} {
		resp, body := e.do(t, "GET", path, nil, nil)
		wantError(t, resp, body, 429, codes.Overloaded)
		if resp.Header.Get("Retry-After") != "1" {
			t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
		}
	}
	for _, path := range []string{"/healthz", "/metrics"} {
		if resp, body := e.do(t, "GET", path, nil, nil); resp.StatusCode != 200 {
			t.Fatalf("%s under overload: %d %s", path, resp.StatusCode, body)
		}
	}
	if n := e.metric(t, "ron_gateway_overloaded_total", nil); n != 4 {
		t.Fatalf("overloaded counter %v, want 4", n)
	}
	if n := e.metric(t, "ron_gateway_in_flight", nil); n != 3 {
		t.Fatalf("in flight %v, want 3", n)
	}
	once.Do(func() { close(release) })
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 200 {
			t.Fatalf("a held request ended with %d", s)
		}
	}
	e.be.lookupHook = nil
	if resp, _ := e.do(t, "GET", "/r/"+a.Hash.Hex()+".map", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("after the burst: %d", resp.StatusCode)
	}
}

// Work that passes RequestTimeout before the response starts is 504.
func TestRequestTimeout(t *testing.T) {
	e := newEnv(t, Config{RequestTimeout: 50 * time.Millisecond})
	e.be.lookupHook = func(ctx context.Context) error {
		<-ctx.Done()
		return bus.Errorf(codes.Unavailable, "nats: timeout") // a transport's error, not ctx.Err()
	}
	resp, body := e.do(t, "GET", "/r/"+strings.Repeat("b", 64)+".map", nil, nil)
	wantError(t, resp, body, 504, codes.Timeout)
	if resp.Header.Get("Retry-After") != "1" {
		t.Fatal("a timeout is retryable: want Retry-After")
	}
}

func TestLimitsAndOps(t *testing.T) {
	e := newEnv(t, Config{MaxURLBytes: 200, MaxHeaderBytes: 1000})
	resp, body := e.do(t, "GET", "/o/"+strings.Repeat("a", 300), nil, nil)
	wantError(t, resp, body, 414, codes.TooLarge)
	resp, body = e.do(t, "GET", "/healthz", map[string]string{"X-Big": strings.Repeat("x", 2000)}, nil)
	wantError(t, resp, body, 431, codes.TooLarge)

	// The ops handler's own errors come out in the one shape too.
	resp, body = e.do(t, "POST", "/healthz", nil, nil)
	wantError(t, resp, body, 405, codes.Invalid)
	if !strings.Contains(resp.Header.Get("Allow"), "GET") {
		t.Fatalf("Allow %q", resp.Header.Get("Allow"))
	}
	resp, body = e.do(t, "GET", "/nowhere", nil, nil)
	wantError(t, resp, body, 404, codes.NotFound)
	resp, body = e.do(t, "GET", "/healthz", nil, nil)
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		t.Fatalf("healthz %d %q", resp.StatusCode, body)
	}

	// Metrics by route and class.
	if n := e.metric(t, "ron_gateway_requests_total", map[string]string{"route": "rejected", "class": "4xx"}); n != 2 {
		t.Fatalf("rejected requests %v", n)
	}
	if n := e.metric(t, "ron_gateway_request_duration_seconds", map[string]string{"route": "ops"}); n != 1 {
		t.Fatalf("ops durations observed %v", n)
	}
	if n := e.metric(t, "ron_gateway_requests_total", map[string]string{"route": "ops_exempt"}); n != 2 {
		t.Fatalf("healthz requests %v", n)
	}

	// Without an authorizer every write fails closed.
	g := New(Config{}, e.st, e.be, nil, nil)
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	r, err := http.Post(srv.URL+"/v1/objects", "application/octet-stream", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	wantError(t, r, b, 401, codes.Unauthorized)
}

func TestWriteError(t *testing.T) {
	merr := func() error { _, err := manifest.ParseTOML([]byte("[meta]\ntld = \"X\"\n")); return err }()
	cases := []struct {
		err    error
		status int
		code   codes.Code
	}{
		{bus.Errorf(codes.Invalid, "x"), 400, codes.Invalid},
		{bus.Errorf(codes.Unauthorized, "x"), 401, codes.Unauthorized},
		{bus.Errorf(codes.Forbidden, "x"), 403, codes.Forbidden},
		{bus.Errorf(codes.NotFound, "x"), 404, codes.NotFound},
		{bus.Errorf(codes.Conflict, "x"), 409, codes.Conflict},
		{bus.Errorf(codes.TooLarge, "x"), 413, codes.TooLarge},
		{bus.Errorf(codes.Range, "x"), 416, codes.Range},
		{bus.Errorf(codes.Rejected, "x"), 422, codes.Rejected},
		{bus.Errorf(codes.Overloaded, "x"), 429, codes.Overloaded},
		{bus.Errorf(codes.Internal, "x"), 500, codes.Internal},
		{bus.Errorf(codes.PluginFault, "x"), 502, codes.PluginFault},
		{bus.Errorf(codes.ContentFault, "x"), 422, codes.ContentFault},
		{bus.Errorf(codes.Unavailable, "x"), 503, codes.Unavailable},
		{bus.Errorf(codes.Timeout, "x"), 504, codes.Timeout},
		{bus.Errorf(codes.Quota, "x"), 507, codes.Quota},
		{fmt.Errorf("wrapped: %w", bus.Errorf(codes.Conflict, "x")), 409, codes.Conflict},
		{fmt.Errorf("get: %w", store.ErrNotFound), 404, codes.NotFound},
		{store.ErrCorrupt, 500, codes.Internal},
		{store.ErrQuotaExceeded, 507, codes.Quota},
		{bus.Errorf(codes.DiskFull, "x"), 507, codes.DiskFull},
		{fmt.Errorf("store: committing: %w", store.ErrDiskFull), 507, codes.DiskFull},
		{fmt.Errorf("index: %w", fmt.Errorf("%w: %w", store.ErrDiskFull, syscall.ENOSPC)), 507, codes.DiskFull},
		{store.ErrRange, 416, codes.Range},
		{store.ErrClosed, 503, codes.Unavailable},
		{fmt.Errorf("x: %w", cid.ErrInvalidCID), 400, codes.Invalid},
		{fmt.Errorf("x: %w", cid.ErrInvalidAddress), 400, codes.Invalid},
		{merr, 422, codes.Rejected},
		{fmt.Errorf("lookup: %w", context.DeadlineExceeded), 504, codes.Timeout},
		{&http.MaxBytesError{Limit: 5}, 413, codes.TooLarge},
		{errors.New("open /var/lib/ronhost/store/objects/ab/abcdef: permission denied"), 500, codes.Internal},
		{bus.Errorf(codes.Internal, "store: index: open C:\\data\\store\\x: denied"), 500, codes.Internal},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		w.Header().Set("ETag", `"x"`)
		w.Header().Set("Content-Range", "bytes */5")
		WriteError(w, c.err)
		resp := w.Result()
		resp.Request = httptest.NewRequest("GET", "/", nil)
		body := w.Body.Bytes()
		e := wantError(t, resp, body, c.status, c.code)
		if resp.Header.Get("ETag") != "" || resp.Header.Get("Content-Range") != "bytes */5" {
			t.Fatalf("%v: headers %v", c.err, resp.Header)
		}
		if strings.Contains(e.Message, "/var/lib") || strings.Contains(e.Message, `C:\data`) {
			t.Fatalf("%v: the message leaks a path: %q", c.err, e.Message)
		}
		if c.err == merr && !bytes.Contains(e.Errors, []byte(`"path":"meta.tld"`)) {
			t.Fatalf("manifest errors %s", e.Errors)
		}
	}
}

// TestPublishManifestLimits: a manifest over the key cap is refused with
// 413 before its payload is stored; one of many keys under it publishes
// (its TOML parsed once, at the gateway).
func TestPublishManifestLimits(t *testing.T) {
	e := newEnv(t, Config{})
	var many strings.Builder
	many.WriteString(mapManifest)
	many.WriteString("\n[extra]\n")
	for i := range manifest.MaxKeys {
		fmt.Fprintf(&many, "k%d=1\n", i)
	}
	payload := data(5000, 77)
	body, ct := publishForm(t, many.String(), "data.txt", "text/plain", payload)
	resp, b := e.do(t, "POST", "/v1/publish", map[string]string{"Authorization": "Bearer good", "Content-Type": ct}, body)
	wantError(t, resp, b, http.StatusRequestEntityTooLarge, codes.TooLarge)
	if _, err := e.st.Info(context.Background(), cid.Sum(payload)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the payload of a refused manifest was stored: %v", err)
	}
	var ok strings.Builder
	ok.WriteString(mapManifest)
	ok.WriteString("\n[extra]\n")
	for i := range 10000 {
		fmt.Fprintf(&ok, "k%d=1\n", i)
	}
	if p := e.publish(t, ok.String(), payload); p.Payload != cid.Sum(payload) {
		t.Fatalf("published %+v", p)
	}
}

// TestPublishHoldsItsPayload runs a GC inside the backend's Publish, where
// the node's plugin validates: the payload, stored but not yet referenced,
// is held, so the publish succeeds and its payload stays; the hold ends
// with the publish, accepted or refused.
func TestPublishHoldsItsPayload(t *testing.T) {
	e := newEnv(t, Config{MaxBodyBytes: 1 << 20})
	ctx := context.Background()
	gcs := 0
	e.be.publishHook = func(ctx context.Context, req PublishRequest) {
		if _, err := e.st.GC(ctx); err != nil {
			t.Error(err)
		}
		gcs++
	}
	for i, n := range []int{300, 100_000} {
		payload := data(n, uint64(20+i))
		p := e.publish(t, strings.Replace(mapManifest, `"t"`, fmt.Sprintf(`"t%d"`, i), 1), payload)
		if _, err := e.st.GC(ctx); err != nil {
			t.Fatal(err)
		}
		a, _ := cid.ParseAddress(p.Address)
		resp, body := e.do(t, "GET", "/r/"+a.Hash.Hex()+".map", nil, nil)
		if resp.StatusCode != 200 || !bytes.Equal(body, payload) {
			t.Fatalf("published %d bytes, GET: %d, %d bytes", n, resp.StatusCode, len(body))
		}
	}
	// Refused by the plugin: the hold ends too, and GC takes the payload.
	payload := data(5000, 30)
	body, ct := publishForm(t, "[meta]\ntld = \"bad\"\n", "x", "", payload)
	resp, b := e.do(t, "POST", "/v1/publish", map[string]string{"Authorization": "Bearer good", "Content-Type": ct}, body)
	wantError(t, resp, b, 422, codes.Rejected)
	if gcs != 3 || e.st.Held() != 0 {
		t.Fatalf("%d GCs in Publish, %d holds left after the publishes", gcs, e.st.Held())
	}
	e.be.publishHook = nil
	if _, err := e.st.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Info(ctx, cid.Sum(payload)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused payload: %v, want collected", err)
	}
}

// TestPublishTruncatedBody: a publish body that ends before its closing
// boundary (inside the payload, or right after it), small or large, with
// a Content-Length or chunked, is refused with 400 and stores nothing; so
// is one with a part after the payload.
func TestPublishTruncatedBody(t *testing.T) {
	e := newEnv(t, Config{MaxBodyBytes: 1 << 20})
	ctx := context.Background()
	for _, n := range []int{100, 4096, 200_000} {
		payload := data(n, uint64(n))
		full, ct := publishForm(t, mapManifest, "p.bin", "", payload)
		raw, _ := io.ReadAll(full)
		boundary := ct[strings.Index(ct, "boundary=")+len("boundary="):]
		end := bytes.LastIndex(raw, []byte("\r\n--"+boundary+"--"))
		if end < 0 {
			t.Fatal("no closing boundary in the form")
		}
		extra := append(append([]byte(nil), raw[:end]...), []byte("\r\n--"+boundary+"\r\nContent-Disposition: form-data; name=\"more\"\r\n\r\nx\r\n--"+boundary+"--\r\n")...)
		for _, tc := range []struct {
			name string
			body []byte
			msg  string
		}{
			{"cut inside the payload", raw[:end-n/3], "closing boundary"},
			{"cut right after the payload", raw[:end], "closing boundary"},
			{"cut after the delimiter", raw[:end+len("\r\n--"+boundary)], "closing boundary"},
			{"a third part", extra, "exactly two parts"},
		} {
			for _, chunked := range []bool{false, true} {
				var r io.Reader = bytes.NewReader(tc.body)
				if chunked {
					r = io.MultiReader(r)
				}
				resp, b := e.do(t, "POST", "/v1/publish", map[string]string{"Authorization": "Bearer good", "Content-Type": ct}, r)
				if resp.StatusCode != 400 {
					t.Fatalf("%d bytes, %s (chunked %v): %d %s", n, tc.name, chunked, resp.StatusCode, b)
				}
				if er := wantError(t, resp, b, 400, codes.Invalid); !strings.Contains(er.Message, tc.msg) {
					t.Fatalf("%d bytes, %s: message %q", n, tc.name, er.Message)
				}
			}
		}
	}
	// Nothing stored, pinned or indexed, and no hold left.
	u := e.usage(t)
	pins, _ := e.st.Pins(ctx)
	if u.Objects != 0 || len(pins) != 0 || len(e.be.entries) != 0 || e.st.Held() != 0 {
		t.Fatalf("truncated publishes left %d objects, %d pins, %d entries, %d holds", u.Objects, len(pins), len(e.be.entries), e.st.Held())
	}
	// The whole body still publishes.
	e.publish(t, mapManifest, data(100, 1))
}
