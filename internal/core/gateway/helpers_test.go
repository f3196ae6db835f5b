package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/manifest"
	"github.com/ronhost/ronhost/internal/core/store"
)

// testBackend is the node's roles for these tests: an in-memory index over
// the real store, a resolve rule per TLD, names and a meter log.
type testBackend struct {
	objs Objects

	mu      sync.Mutex
	entries map[cid.CID]Entry
	names   map[string]json.RawMessage
	meters  []Access
	metered chan Access

	// lookupHook, if set, runs first in Lookup (to block it or fail it).
	lookupHook func(ctx context.Context) error
	// publishHook, if set, runs first in Publish (between the payload's
	// store and the manifest's, where the node's plugin validates).
	publishHook func(ctx context.Context, req PublishRequest)
}

func newTestBackend(objs Objects) *testBackend {
	return &testBackend{objs: objs, entries: map[cid.CID]Entry{}, names: map[string]json.RawMessage{},
		metered: make(chan Access, 64)}
}

// tlds with a "plugin"; .bad rejects every manifest.
var testTLDs = map[string]bool{"map": true, "txt": true, "bad": true}

func (b *testBackend) Lookup(ctx context.Context, hash cid.CID) (Entry, error) {
	if b.lookupHook != nil {
		if err := b.lookupHook(ctx); err != nil {
			return Entry{}, err
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[hash]
	if !ok {
		return Entry{}, bus.Errorf(codes.NotFound, "index: no manifest %s", hash.Hex())
	}
	return e, nil
}

func (b *testBackend) Publish(ctx context.Context, req PublishRequest) (Published, error) {
	if b.publishHook != nil {
		b.publishHook(ctx, req)
	}
	doc, err := manifest.DecodeJSON(req.Doc)
	if err != nil {
		return Published{}, err
	}
	if err := manifest.SetPayload(doc, req.Payload.CID, req.Payload.Size, req.Filename, req.MediaType); err != nil {
		return Published{}, err
	}
	m, err := manifest.Normalize(doc)
	if err != nil {
		return Published{}, err
	}
	tld := m.Meta.TLD
	if !testTLDs[tld] {
		return Published{}, bus.Errorf(codes.NotFound, "no plugin serves .%s", tld)
	}
	if tld == "bad" {
		return Published{}, &bus.Error{Code: codes.Rejected, Message: "the .bad plugin rejected the manifest",
			Errors: json.RawMessage(`[{"path":"bad.x","code":"required","message":"x is required"}]`)}
	}
	res, err := b.objs.Put(ctx, bytes.NewReader(m.Canonical()), store.PutOptions{Pin: true, Refs: []cid.CID{m.Payload.CID}})
	if err != nil {
		return Published{}, err
	}
	e := Entry{Address: m.Address().String(), Manifest: res.CID, TLD: tld, Payload: m.Payload.CID, Size: m.Payload.Size,
		MediaType: m.Payload.MediaType, Price: m.Meta.Price, Doc: m.Canonical()}
	b.mu.Lock()
	b.entries[res.CID] = e
	b.mu.Unlock()
	return Published{Address: e.Address, Manifest: e.Manifest, TLD: tld, Payload: e.Payload, Size: e.Size}, nil
}

// Resolve: /first/N is the first N bytes as text/plain; /status/N answers
// status N; /out points past the payload.
func (b *testBackend) Resolve(ctx context.Context, e Entry, path string) (Resolved, error) {
	var n int64
	switch {
	case strings.HasPrefix(path, "/first/"):
		if err := json.Unmarshal([]byte(strings.TrimPrefix(path, "/first/")), &n); err != nil {
			return Resolved{Status: 404}, nil
		}
		return Resolved{Status: 200, ContentType: "text/plain; charset=utf-8", Offset: 0, Length: n}, nil
	case strings.HasPrefix(path, "/status/"):
		var s int
		_ = json.Unmarshal([]byte(strings.TrimPrefix(path, "/status/")), &s)
		return Resolved{Status: s}, nil
	case path == "/out":
		return Resolved{Status: 200, Offset: e.Size, Length: 1}, nil
	}
	return Resolved{Status: 404}, nil
}

func (b *testBackend) Name(ctx context.Context, name string) (json.RawMessage, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.names[name]
	if !ok {
		return nil, bus.Errorf(codes.NotFound, "no name %q", name)
	}
	return r, nil
}

func (b *testBackend) SetName(ctx context.Context, record json.RawMessage) (json.RawMessage, error) {
	var r struct {
		Name    string `json:"name"`
		Address string `json:"address"`
		Seq     int    `json:"seq"`
	}
	if err := json.Unmarshal(record, &r); err != nil || r.Name == "" {
		return nil, bus.Errorf(codes.Invalid, "a malformed record")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if old, ok := b.names[r.Name]; ok {
		var o struct{ Seq int }
		_ = json.Unmarshal(old, &o)
		if r.Seq <= o.Seq {
			return nil, bus.Errorf(codes.Conflict, "record seq %d is not newer than %d", r.Seq, o.Seq)
		}
	}
	b.names[r.Name] = record
	return json.RawMessage(fmt.Sprintf(`{"name":%q,"seq":%d}`, r.Name, r.Seq)), nil
}

func (b *testBackend) Meter(ctx context.Context, a Access) error {
	b.mu.Lock()
	b.meters = append(b.meters, a)
	b.mu.Unlock()
	b.metered <- a
	return nil
}

func (b *testBackend) Payouts(ctx context.Context) (any, error) {
	return map[string]any{"balances": map[string]int{"alice": 3}}, nil
}

func (b *testBackend) Settle(ctx context.Context) (any, error) {
	return map[string]any{"epochs": 1, "amount": 7}, nil
}

func (b *testBackend) meterCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.meters)
}

// testAuth: "Bearer good" may do anything; "Bearer small" caps bodies at
// 1000 bytes; "Bearer readonly" may only GET; "Bearer weird" fails with a
// plain error.
type testAuth struct{}

func (testAuth) Authorize(r *http.Request) (int64, error) {
	switch r.Header.Get("Authorization") {
	case "":
		return 0, bus.Errorf(codes.Unauthorized, "a capability token is required")
	case "Bearer good":
		return -1, nil
	case "Bearer small":
		return 1000, nil
	case "Bearer readonly":
		if r.Method != http.MethodGet {
			return 0, bus.Errorf(codes.Forbidden, "the token allows GET only")
		}
		return -1, nil
	case "Bearer weird":
		return 0, io.ErrUnexpectedEOF
	}
	return 0, bus.Errorf(codes.Unauthorized, "bad token")
}

type env struct {
	dir string
	st  *store.Store
	be  *testBackend
	gw  *Gateway
	reg *prometheus.Registry
	srv *httptest.Server
	c   *http.Client
}

func newEnv(t testing.TB, cfg Config) *env { return newEnvObjects(t, cfg, nil) }

// newEnvObjects is newEnv whose gateway reads objects through objs(st)
// (nil: the store itself).
func newEnvObjects(t testing.TB, cfg Config, objs func(*store.Store) Objects) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var o Objects = st
	if objs != nil {
		o = objs(st)
	}
	e := &env{dir: dir, st: st, be: newTestBackend(o), reg: prometheus.NewRegistry()}
	ops := http.NewServeMux()
	ops.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	ops.Handle("GET /metrics", promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{}))
	e.gw = New(cfg, o, e.be, testAuth{}, ops)
	for _, c := range e.gw.Collectors() {
		e.reg.MustRegister(c)
	}
	e.srv = httptest.NewServer(e.gw.Handler())
	t.Cleanup(e.srv.Close)
	e.c = e.srv.Client()
	e.c.Transport.(*http.Transport).DisableCompression = true
	return e
}

// data returns n deterministic pseudo-random bytes.
func data(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func (e *env) put(t testing.TB, b []byte) cid.CID {
	t.Helper()
	res, err := e.st.Put(context.Background(), bytes.NewReader(b), store.PutOptions{Pin: true})
	if err != nil {
		t.Fatal(err)
	}
	return res.CID
}

// do sends a request and returns the response with its whole body.
func (e *env) do(t testing.TB, method, path string, hdr map[string]string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp, b
}

// wantError checks an error answer: status, the one JSON shape and code.
func wantError(t testing.TB, resp *http.Response, body []byte, status int, code codes.Code) bus.Error {
	t.Helper()
	if resp.StatusCode != status {
		what := "the request"
		if resp.Request != nil {
			what = resp.Request.Method + " " + resp.Request.URL.Path
		}
		t.Fatalf("%s: status %d, want %d (body %s)", what, resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q", ct)
	}
	var e bus.Error
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	if e.Code != code || e.Message == "" || e.Retryable != code.Retryable() {
		t.Fatalf("error %+v, want code %s", e, code)
	}
	return e
}

// publishForm builds a publish body: the manifest part, then the payload.
func publishForm(t testing.TB, toml, filename, ctype string, payload []byte) (io.Reader, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mp, _ := mw.CreateFormFile("manifest", "Manifest.toml")
	io.WriteString(mp, toml)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="payload"; filename="`+filename+`"`)
	if ctype != "" {
		h.Set("Content-Type", ctype)
	}
	pp, _ := mw.CreatePart(h)
	pp.Write(payload)
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// publish publishes payload under toml and returns the answer.
func (e *env) publish(t testing.TB, toml string, payload []byte) Published {
	t.Helper()
	body, ct := publishForm(t, toml, "data.txt", "text/plain", payload)
	resp, b := e.do(t, "POST", "/v1/publish", map[string]string{"Authorization": "Bearer good", "Content-Type": ct}, body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("publish: %d %s", resp.StatusCode, b)
	}
	var p Published
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// eventually polls cond until it holds or 10 s pass.

// metric returns the value of a gauge or counter (summed over labels
// matching want) from the env's registry.
func (e *env) metric(t testing.TB, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for k, v := range want {
				found := false
				for _, l := range m.GetLabel() {
					if l.GetName() == k && l.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}
