package console

import (
	"context"
	"embed"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/gateway"
)

//go:embed assets
var assets embed.FS

// Prefix is where the console is mounted.
const Prefix = "/ui/"

// CSP is the Content-Security-Policy of every console answer: the page's own
// script and style files only (no inline script, no eval), fetches to its
// own origin, no frames, no forms posting elsewhere.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

// Options configure a Console.
type Options struct {
	State  State      // required
	Auth   Authorizer // required: nil refuses every data request (401)
	Events Events     // nil: the events view says there is no bus to watch
	// Hosts, when set, is the gateway's host table: a request whose Host is
	// not the node's own origin gets 404 (content origins never reach the
	// console, even where the gateway does not route).
	Hosts *gateway.Hosts
	// MaxStreams caps the event streams open at once (default 8); more get 429.
	MaxStreams int
	// Heartbeat is how often an idle event stream gets a comment, so that
	// proxies and the page see it alive (default 15 s).
	Heartbeat time.Duration
	// StateTimeout bounds one Snapshot (default 10 s).
	StateTimeout time.Duration
	Logger       *slog.Logger
}

// Console serves the web console. Its handler is safe for concurrent use.
type Console struct {
	o      Options
	static fs.FS

	mu      sync.Mutex
	streams int
	closed  bool
	done    chan struct{} // closed by Close: event streams end
	wg      sync.WaitGroup
}

// New returns a console. It does no I/O.
func New(o Options) *Console {
	if o.MaxStreams <= 0 {
		o.MaxStreams = 8
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.StateTimeout <= 0 {
		o.StateTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	return &Console{o: o, static: static, done: make(chan struct{})}
}

// Close ends the event streams and waits for their handlers to return, so
// that an HTTP server's Shutdown is not held by them. Later streams are
// refused (503).
func (c *Console) Close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.done)
	}
	c.mu.Unlock()
	c.wg.Wait()
}

// Handler serves Prefix and everything under it (the console's routes on
// a mux of their own: Register).
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	c.Register(mux)
	return mux
}

// Register declares the console's routes, Prefix and everything under it,
// on mux (the node's one mux), each behind the console's guard.
func (c *Console) Register(mux *http.ServeMux) {
	for pattern, h := range map[string]http.HandlerFunc{
		"GET /ui/{$}":          c.serveAsset("index.html"),
		"GET /ui/console.js":   c.serveAsset("console.js"),
		"GET /ui/console.css":  c.serveAsset("console.css"),
		"GET /ui/icon.svg":     c.serveAsset("icon.svg"),
		"POST /ui/api/session": c.authed(c.serveSession),
		"GET /ui/api/state":    c.authed(c.serveState),
		"GET /ui/api/events":   c.authed(c.serveEvents),
		"/ui/": func(w http.ResponseWriter, r *http.Request) {
			gateway.WriteError(w, bus.Errorf(codes.NotFound, "console: no such page: %s %s", r.Method, r.URL.Path))
		},
	} {
		mux.Handle(pattern, c.guard(h))
	}
}

// guard sets the console's security headers, serves it on the node's own
// origin only, and refuses a token in the URL.
func (c *Console) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		if c.o.Hosts != nil {
			if o, err := c.o.Hosts.Classify(r.Host); err != nil || o.Kind != gateway.OriginNode {
				gateway.WriteError(w, bus.Errorf(codes.NotFound, "console: the console is served on the node's own origin only"))
				return
			}
		}
		if err := tokenInURL(r); err != nil {
			gateway.WriteError(w, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tokenInURL refuses a request whose query carries a token: URLs end up in
// logs, history and Referer headers.
func tokenInURL(r *http.Request) error {
	for k := range r.URL.Query() {
		switch strings.ToLower(k) {
		case "token", "access_token", "auth", "authorization", "bearer", "key":
			return bus.Errorf(codes.Invalid, "console: a token is never accepted in a URL (%q): sign in with the form, "+
				"which sends it in an Authorization header", k)
		}
	}
	return nil
}

func (c *Console) serveAsset(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, err := fs.ReadFile(c.static, name)
		if err != nil {
			gateway.WriteError(w, bus.Errorf(codes.NotFound, "console: %s: %v", name, err))
			return
		}
		ct := "text/html; charset=utf-8"
		switch {
		case strings.HasSuffix(name, ".js"):
			ct = "text/javascript; charset=utf-8"
		case strings.HasSuffix(name, ".css"):
			ct = "text/css; charset=utf-8"
		case strings.HasSuffix(name, ".svg"):
			ct = "image/svg+xml"
		}
		w.Header().Set("Content-Type", ct)
		// The assets change with the binary: revalidate, never cache stale.
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(b)
	}
}

// authed runs h only for a request with a good token.
func (c *Console) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if c.o.Auth == nil {
			gateway.WriteError(w, bus.Errorf(codes.Unauthorized, "console: this node checks no tokens, so the console shows nothing"))
			return
		}
		if _, err := c.o.Auth.Authorize(r); err != nil {
			gateway.WriteError(w, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, r)
	}
}

func (c *Console) serveSession(w http.ResponseWriter, r *http.Request) {
	w.WriteHeader(http.StatusNoContent)
}

func (c *Console) serveState(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), c.o.StateTimeout)
	defer cancel()
	s := c.o.State.Snapshot(ctx)
	if s.Time.IsZero() {
		s.Time = time.Now().UTC()
	}
	if s.Plugins == nil {
		s.Plugins = []Plugin{}
	}
	if s.Publishes == nil {
		s.Publishes = []Publish{}
	}
	if s.Readiness == nil {
		s.Readiness = []Component{}
	}
	b, err := json.Marshal(s)
	if err != nil {
		gateway.WriteError(w, bus.Errorf(codes.Internal, "console: encoding the state: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}
