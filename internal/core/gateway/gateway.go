package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

// Objects is the node's local store as the gateway uses it: bulk bytes never
// cross the bus. *store.Store satisfies it.
type Objects interface {
	Info(ctx context.Context, c cid.CID) (store.Object, error)
	// ReadRange returns verified bytes; a Read fails with an error wrapping
	// store.ErrCorrupt when stored bytes do not match their CID.
	ReadRange(ctx context.Context, c cid.CID, off, length int64) (io.ReadCloser, error)
	Put(ctx context.Context, r io.Reader, o store.PutOptions) (store.PutResult, error)
	// Outboard returns an object's size and full Bao outboard, verified
	// against its CID (store.Store.Outboard).
	Outboard(ctx context.Context, c cid.CID) (size int64, ob []byte, err error)
}

// Backend is the node's roles as the gateway uses them (the node implements
// it over the bus). Errors should be *bus.Error; others are mapped as
// WriteError says.
type Backend interface {
	// Lookup returns the published manifest whose address hash is hash.
	Lookup(ctx context.Context, hash cid.CID) (Entry, error)
	// Publish validates (through the TLD's plugin) and indexes a manifest for
	// a stored payload; a rejection is a *bus.Error with codes.Rejected and the
	// plugin's field errors in Errors.
	Publish(ctx context.Context, req PublishRequest) (Published, error)
	// Resolve asks the entry's TLD plugin (ron_resolve) which bytes of the
	// payload path names.
	Resolve(ctx context.Context, e Entry, path string) (Resolved, error)
	// Name returns the signed name record (a JSON object) bound to name.
	Name(ctx context.Context, name string) (json.RawMessage, error)
	// SetName stores a signed name record; a stale one is codes.Conflict.
	SetName(ctx context.Context, record json.RawMessage) (json.RawMessage, error)
	// Meter records one priced access.
	Meter(ctx context.Context, a Access) error
	Payouts(ctx context.Context) (any, error)
	Settle(ctx context.Context) (any, error)
}

// Authorizer checks a request's capability token. It returns the token's cap
// on body bytes (< 0: the token sets none) or a *bus.Error with
// codes.Unauthorized (no or bad token) or codes.Forbidden (not allowed).
type Authorizer interface {
	Authorize(r *http.Request) (maxBytes int64, err error)
}

// Entry is a published manifest as the index knows it.
type Entry struct {
	Address   string          `json:"address"`
	Manifest  cid.CID         `json:"manifest"`
	TLD       string          `json:"tld"`
	Payload   cid.CID         `json:"payload"`
	Size      int64           `json:"size"`
	MediaType string          `json:"media_type"`
	Price     uint64          `json:"price"`
	Doc       json.RawMessage `json:"doc,omitempty"`
}

// PublishRequest is a publish as the gateway received it: the Manifest.toml
// decoded once (Doc, manifest.MarshalTree's JSON: the index decodes that
// rather than parse the TOML again) and the payload it stored (unpinned;
// the index pins what it accepts).
type PublishRequest struct {
	Doc       json.RawMessage `json:"doc"`
	Payload   store.PutResult `json:"payload"`
	Filename  string          `json:"filename,omitempty"`
	MediaType string          `json:"media_type,omitempty"`
}

// Published is the answer to a publish: the index.publish reply, declared
// once in bus/contract.
type Published = contract.Published

// Resolved is a plugin's answer to ron_resolve: Status 200 with a byte range
// of the payload and its content type, or 404: the plugins.resolve reply,
// declared once in bus/contract.
type Resolved = contract.Resolved

// Access is one priced access to meter: the body bytes the gateway wrote.
type Access struct {
	Manifest cid.CID `json:"manifest"`
	TLD      string  `json:"tld"`
	Price    uint64  `json:"price"`
	Bytes    int64   `json:"bytes"`
}

// Config tunes the gateway's protections; zero values take the defaults.
type Config struct {
	// MaxConcurrent bounds the requests served at once (default 256); more
	// get 429 with Retry-After at once. /healthz and /metrics are exempt.
	MaxConcurrent int
	// MaxPerClient bounds the requests of one client address (an IPv4
	// address or an IPv6 /64) served at once (default MaxConcurrent/8, at
	// least 1), so that one address cannot hold every slot; more get 429.
	// Behind a reverse proxy every request has its address: set it to
	// MaxConcurrent there.
	MaxPerClient int
	// MinReadRate is the slowest a client may read a response, in bytes per
	// second, judged over each MinReadWindow (defaults 16 KiB/s and 10 s):
	// a stream that moves less is cut. Negative turns it off (WriteIdle
	// still applies).
	MinReadRate   int64
	MinReadWindow time.Duration
	// MaxBodyBytes caps a request body (default 1 GiB); a token's max-bytes
	// caveat may lower it. Over it: 413.
	MaxBodyBytes int64
	// RequestTimeout is the deadline of a request's work before its response
	// starts (default 30 s); past it: 504.
	RequestTimeout time.Duration
	// WriteIdle cuts a response stream (or a request body) stalled this long
	// (default 60 s).
	WriteIdle time.Duration
	// MaxRanges caps the ranges of one Range header (default 64); more: 416.
	MaxRanges int
	// MaxHeaderBytes caps the request's header fields (default 64 KiB); more: 431.
	MaxHeaderBytes int
	// MaxURLBytes caps the request target (default 8 KiB); longer: 414.
	MaxURLBytes int
	// Logger receives internal errors and failed metering; nil discards.
	Logger *slog.Logger
	// Hosts decides each request's origin from its Host (origin.go); nil
	// knows localhost, its subdomains and IP addresses only.
	Hosts *Hosts
	// Now is the clock of the read-rate windows; nil: time.Now.
	Now func() time.Time
}

// Defaults of Config.
const (
	DefaultMaxConcurrent  = 256
	DefaultMaxBodyBytes   = 1 << 30
	DefaultRequestTimeout = 30 * time.Second
	DefaultWriteIdle      = 60 * time.Second
	DefaultMaxRanges      = 64
	DefaultMaxHeaderBytes = 64 << 10
	DefaultMaxURLBytes    = 8 << 10
	DefaultMinReadRate    = 16 << 10
	DefaultMinReadWindow  = 10 * time.Second
)

// maxJSONBody caps the JSON bodies of /v1/names.
const maxJSONBody = 64 << 10

func (c Config) withDefaults() Config {
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = DefaultMaxConcurrent
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.WriteIdle <= 0 {
		c.WriteIdle = DefaultWriteIdle
	}
	if c.MaxRanges <= 0 {
		c.MaxRanges = DefaultMaxRanges
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.MaxURLBytes <= 0 {
		c.MaxURLBytes = DefaultMaxURLBytes
	}
	if c.MaxPerClient <= 0 {
		c.MaxPerClient = max(1, c.MaxConcurrent/8)
	}
	c.MaxPerClient = min(c.MaxPerClient, c.MaxConcurrent)
	if c.MinReadRate == 0 {
		c.MinReadRate = DefaultMinReadRate
	}
	c.MinReadRate = max(c.MinReadRate, 0)
	if c.MinReadWindow <= 0 {
		c.MinReadWindow = DefaultMinReadWindow
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Gateway is the node's HTTP API. Its handler is safe for concurrent use.
type Gateway struct {
	cfg     Config
	objs    Objects
	be      Backend
	auth    Authorizer
	mux     *http.ServeMux // the node origin's routes but content (serveHTTP)
	slots   *slots
	metrics *metrics
	bufs    sync.Pool // *[]byte of copyBuf bytes
	// verified remembers what checked index entries say (verify.go).
	verified verifiedEntries
}

// copyBuf is the buffer of a streamed body: large enough that a full GET
// costs few syscalls, small enough that MaxConcurrent streams stay bounded
// (256 x 256 KiB = 64 MiB).
const copyBuf = 256 << 10

// New returns a gateway over the node's store, roles and token checks. It
// declares its API routes (/v1/publish, /v1/objects, /v1/names,
// /v1/payouts, /v1/payouts/settle) on mux, the node's one mux beside the
// node's own endpoints (/healthz, /readyz, /version, /metrics,
// /v1/plugins, ...), and serves every route of it under the same
// protections; nil: a mux of its own, answering 404 past the API. Content
// (/o/, /r/, /resolve/, and content origins by Host) is routed before the
// mux: a ServeMux cleans paths (redirecting //, . and ..), which would
// change what an address's path or a name says. A nil auth refuses every
// write. New does no I/O.
func New(cfg Config, objs Objects, be Backend, auth Authorizer, mux *http.ServeMux) *Gateway {
	cfg = cfg.withDefaults()
	if mux == nil {
		mux = http.NewServeMux()
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			WriteError(w, bus.Errorf(codes.NotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
		})
	}
	g := &Gateway{cfg: cfg, objs: objs, be: be, auth: auth, mux: mux,
		slots: newSlots(cfg.MaxConcurrent, cfg.MaxPerClient), metrics: newMetrics()}
	g.bufs.New = func() any { b := make([]byte, copyBuf); return &b }
	// serveHTTP has checked each route's method (allowed) before the mux.
	mux.HandleFunc("POST /v1/publish", g.servePublish)
	mux.HandleFunc("POST /v1/objects", g.serveObjectPut)
	mux.HandleFunc("POST /v1/names", g.serveSetName)
	mux.HandleFunc("GET /v1/payouts", g.servePayouts)
	mux.HandleFunc("POST /v1/payouts/settle", g.serveSettle)
	return g
}

// Handler returns the gateway's HTTP handler.
func (g *Gateway) Handler() http.Handler { return http.HandlerFunc(g.serveHTTP) }

// Routes, as metric labels.
const (
	routeObject   = "object"
	routeAddress  = "address"
	routePublish  = "publish"
	routeObjects  = "objects"
	routeName     = "name"
	routeNames    = "names"
	routePayouts  = "payouts"
	routeSettle   = "settle"
	routeOps      = "ops"
	routeExempt   = "ops_exempt"
	routeRejected = "rejected" // refused before routing (URL, headers, encoding)
)

func routeOf(p string) string {
	switch {
	case strings.HasPrefix(p, "/o/"):
		return routeObject
	case strings.HasPrefix(p, "/r/"):
		return routeAddress
	case strings.HasPrefix(p, "/resolve/"):
		return routeName
	case p == "/v1/publish":
		return routePublish
	case p == "/v1/objects":
		return routeObjects
	case p == "/v1/names":
		return routeNames
	case p == "/v1/payouts":
		return routePayouts
	case p == "/v1/payouts/settle":
		return routeSettle
	case p == "/healthz" || p == "/metrics":
		return routeExempt
	}
	return routeOps
}

// allowed lists each route's methods (HEAD wherever GET is).
var allowed = map[string][]string{
	routeObject:  {http.MethodGet, http.MethodHead, http.MethodOptions},
	routeAddress: {http.MethodGet, http.MethodHead, http.MethodOptions},
	routeName:    {http.MethodGet, http.MethodHead},
	routePublish: {http.MethodPost},
	routeObjects: {http.MethodPost},
	routeNames:   {http.MethodPost},
	routePayouts: {http.MethodGet, http.MethodHead},
	routeSettle:  {http.MethodPost},
}

func (g *Gateway) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, rc: http.NewResponseController(w), idle: g.cfg.WriteIdle}
	rec.Header().Set("X-Content-Type-Options", "nosniff")
	// The request id: the client's X-Request-Id when it is sane, else a new
	// one; it goes with every bus request made for this one and in every
	// log line about it, and is answered in X-Request-Id.
	rid := r.Header.Get("X-Request-Id")
	if !bus.SaneRequestID(rid) {
		rid = bus.NewRequestID()
	}
	rec.Header().Set("X-Request-Id", rid)
	r = r.WithContext(bus.WithRequestID(r.Context(), rid))
	// A body is read under an idle deadline, whoever reads it (or nobody:
	// net/http then reads what is left of it, under the same deadline), and
	// a response that goes out before the body has ended closes the
	// connection rather than wait for the rest (body.go). (r is a copy:
	// net/http's own request keeps its body.)
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		rec.body = newBodyReader(r.Body, rec.rc, g.cfg.WriteIdle)
		r.Body = rec.body
	}
	origin, oerr := g.cfg.Hosts.Classify(r.Host)
	route := routeOf(r.URL.Path)
	if origin.Kind == OriginContent {
		route = routeAddress
		if origin.TLD == "" {
			route = routeObject
		}
	}
	g.metrics.inFlight.Inc()
	defer func() {
		g.metrics.inFlight.Dec()
		if p := recover(); p != nil {
			g.metrics.observe(route, "aborted", time.Since(start))
			panic(p) // net/http closes the connection: the client sees a broken transfer
		}
		// What net/http still flushes after the handler goes out under a
		// deadline too.
		_ = rec.rc.SetWriteDeadline(time.Now().Add(g.cfg.WriteIdle))
		g.metrics.observe(route, statusClass(rec.status), time.Since(start))
	}()
	if err := g.checkRequest(r); err != nil {
		route = routeRejected
		g.fail(rec, r, err)
		return
	}
	if oerr != nil {
		route = routeRejected
		WriteError(rec, oerr)
		return
	}
	if route != routeExempt {
		release, why := g.slots.acquire(r.RemoteAddr)
		if release == nil {
			g.overloaded(rec, why)
			return
		}
		defer release()
	}
	if origin.Kind == OriginContent {
		g.serveContentOrigin(rec, r, origin)
		return
	}
	content := route == routeObject || route == routeAddress
	if err := checkNodeRequest(r, !content); err != nil {
		WriteError(rec, err)
		return
	}
	if m, ok := allowed[route]; ok && !contains(m, r.Method) {
		rec.Header().Set("Allow", strings.Join(m, ", "))
		WriteError(rec, withStatus(http.StatusMethodNotAllowed, codes.Invalid, "%s is not allowed on %s (allowed: %s)",
			r.Method, r.URL.Path, strings.Join(m, ", ")))
		return
	}
	switch route {
	case routeObject, routeAddress:
		g.serveNodeContent(rec, r, origin, route)
	case routeName:
		g.serveName(rec, r)
	default:
		g.mux.ServeHTTP(&opsWriter{recorder: rec}, r)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkRequest refuses what no route takes: over-long targets and headers,
// and compressed bodies. The gateway never decompresses a request body, so
// a compression bomb cannot expand in it: any Content-Encoding other than
// identity is 415.
func (g *Gateway) checkRequest(r *http.Request) error {
	if len(r.RequestURI) > g.cfg.MaxURLBytes {
		return withStatus(http.StatusRequestURITooLong, codes.TooLarge, "the request target is over %d bytes", g.cfg.MaxURLBytes)
	}
	n := 0
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	if n > g.cfg.MaxHeaderBytes {
		return withStatus(http.StatusRequestHeaderFieldsTooLarge, codes.TooLarge, "the request's header fields are over %d bytes", g.cfg.MaxHeaderBytes)
	}
	for _, v := range r.Header.Values("Content-Encoding") {
		for enc := range strings.SplitSeq(v, ",") {
			if enc = strings.TrimSpace(enc); enc != "" && !strings.EqualFold(enc, "identity") {
				return withStatus(http.StatusUnsupportedMediaType, codes.Invalid,
					"Content-Encoding %q is not accepted: send request bodies uncompressed", enc)
			}
		}
	}
	return nil
}

// fail writes err, logging it first when it is the node's fault.
func (g *Gateway) fail(w http.ResponseWriter, r *http.Request, err error) {
	if status, _ := classify(err); status >= 500 && status != http.StatusServiceUnavailable && status != http.StatusGatewayTimeout {
		g.cfg.Logger.WarnContext(r.Context(), "gateway: request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	WriteError(w, err)
}

// writeJSON writes a success answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		WriteError(w, bus.Errorf(codes.Internal, "gateway: encoding the answer: %v", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// recorder remembers the status and counts body bytes for the metrics. It
// also keeps every response moving: unless the handler sets write
// deadlines itself (SetWriteDeadline: the content streamer's read-rate
// windows, the console's event stream), each write and flush must finish
// within idle, so a client that stops reading cannot hold a handler, and
// its slot, forever. A response that starts while the request body has
// not ended says Connection: close (body.go).
type recorder struct {
	http.ResponseWriter
	rc      *http.ResponseController // of the ResponseWriter
	idle    time.Duration
	body    *bodyReader // the request's body, nil when it has none
	ownDL   bool        // the handler sets its own write deadlines
	started bool
	status  int
	wrote   int64
}

// start runs before the response's header goes out.
func (w *recorder) start() {
	if w.started {
		return
	}
	w.started = true
	if w.body != nil && !w.body.ended.Load() {
		// net/http would otherwise read up to 256 KiB of what is left of
		// the body before sending the header, while the handler holds its
		// slot; a client that declared a body and never sends it would hold
		// the slot for good.
		w.Header().Set("Connection", "close")
	}
}

// deadline bounds the next write, unless the handler bounds its own.
func (w *recorder) deadline() {
	if !w.ownDL {
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.idle))
	}
}

func (w *recorder) WriteHeader(code int) {
	if code >= 200 {
		if w.status == 0 {
			w.status = code
		}
		w.start()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.start()
	w.deadline()
	n, err := w.ResponseWriter.Write(p)
	w.wrote += int64(n)
	return n, err
}

// SetWriteDeadline is http.ResponseController's: a handler that calls it
// paces its own writes from then on.
func (w *recorder) SetWriteDeadline(d time.Time) error {
	w.ownDL = true
	return w.rc.SetWriteDeadline(d)
}

func (w *recorder) Flush() { _ = w.FlushError() }

// FlushError flushes the response, reporting a failure (a client gone).
func (w *recorder) FlushError() error {
	w.start()
	w.deadline()
	return w.rc.Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// opsWriter turns the mux's plain-text errors (http.Error, as ServeMux
// writes for 404 and 405) into the one JSON error shape.
type opsWriter struct {
	*recorder
	swallow bool
}

func (w *opsWriter) WriteHeader(code int) {
	if code >= 400 && strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		w.swallow = true
		WriteError(w.recorder, withStatus(code, codes.FromStatus(code), "%s", strings.ToLower(http.StatusText(code))))
		return
	}
	w.recorder.WriteHeader(code)
}

func (w *opsWriter) Write(p []byte) (int, error) {
	if w.swallow {
		return len(p), nil
	}
	return w.recorder.Write(p)
}

func (w *opsWriter) Unwrap() http.ResponseWriter { return w.recorder }
