package gateway

import (
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
)

// What browsers see: the policy of each kind of origin (origin.go).
//
//   - A content origin answers GET, HEAD and OPTIONS for its own address's
//     paths and nothing else: not the API, not the ops endpoints, not another
//     address. Its pages may register their own service worker (it controls
//     only that origin).
//   - The node's origin refuses requests that carry Service-Worker (a
//     script requested to become a service worker): a worker there would
//     control every path of every publisher. Its API and ops endpoints refuse
//     requests a browser marks as coming from another site (Sec-Fetch-Site
//     cross-site or same-site, or an Origin header of another host): a
//     content page never reads them, even without credentials. Path requests
//     (/r/, /o/) are redirected to their origin on a gateway domain; where no
//     origin per address exists they are served with a sandboxing CSP, so
//     active content runs in an opaque origin (no storage, no service worker,
//     no same-origin API).
//   - Content (every /o/ and /r/ answer, errors and redirects included) is
//     public: Access-Control-Allow-Origin: * with the range headers exposed,
//     and preflights for GET and HEAD answered 204. The API never sends CORS
//     headers.
//   - Every answer carries X-Content-Type-Options: nosniff.

// sandboxCSP makes a document served from a shared origin an opaque origin:
// scripts run, but without storage, cookies, service workers or the node's
// origin.
const sandboxCSP = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"

// corsAllowHeaders are the request headers a content preflight allows.
const corsAllowHeaders = "Range, If-None-Match, If-Match, If-Range, Accept"

// MediaTypeBao is the media type of a verifiable object stream (bao.go).
const MediaTypeBao = "application/vnd.ronhost.bao"

// contentCORS marks an answer as public content.
func contentCORS(h http.Header) {
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "Content-Range, Content-Length, Accept-Ranges, ETag")
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
}

// preflight answers OPTIONS on content: 204 with what GET and HEAD allow
// (the browser refuses anything else by itself).
func preflight(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Allow", "GET, HEAD, OPTIONS")
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
	h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
	h.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// serveContentOrigin serves a request to an address's or object's own origin.
func (g *Gateway) serveContentOrigin(w http.ResponseWriter, r *http.Request, o Origin) {
	contentCORS(w.Header())
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		preflight(w)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		WriteError(w, withStatus(http.StatusMethodNotAllowed, codes.Invalid,
			"%s is not allowed on a content origin (allowed: GET, HEAD, OPTIONS)", r.Method))
		return
	}
	if o.TLD == "" {
		if r.URL.Path != "/" {
			WriteError(w, bus.Errorf(codes.NotFound, "an object's origin serves only / (the object %s)", o.Hash))
			return
		}
		g.serveObjectCID(w, r, o.Hash)
		return
	}
	p := r.URL.Path
	if p == "/" {
		p = ""
	}
	addr, err := cid.ParseAddress(cid.SchemeCrab + o.Hash.Hex() + "." + o.TLD + p)
	if err != nil {
		WriteError(w, err)
		return
	}
	g.serveAddr(w, r, addr)
}

// serveNodeContent serves /o/ and /r/ on the node's origin: a redirect to
// the content's origin on a gateway domain, the content sandboxed elsewhere.
func (g *Gateway) serveNodeContent(w http.ResponseWriter, r *http.Request, o Origin, route string) {
	contentCORS(w.Header())
	if r.Method == http.MethodOptions {
		preflight(w) // never redirected: a preflight does not follow redirects
		return
	}
	var c cid.CID
	var addr cid.Address
	var err error
	if route == routeObject {
		c, err = cid.Parse(strings.TrimPrefix(r.URL.Path, "/o/"))
	} else {
		addr, err = cid.ParseAddress(cid.SchemeCrab + strings.TrimPrefix(r.URL.Path, "/r/"))
	}
	if err != nil {
		WriteError(w, err)
		return
	}
	bao := false
	if route == routeObject {
		if bao, err = wantsBao(r); err != nil {
			WriteError(w, err)
			return
		}
	}
	// A verifiable stream is never rendered (its type is not one a browser
	// runs), so it is served here too: a trustless client asks any gateway
	// the same way.
	if o.Domain != "" && !bao {
		u := url.URL{Scheme: requestScheme(r), RawQuery: r.URL.RawQuery, Path: "/"}
		if route == routeObject {
			u.Host = c.Label() + "." + o.Domain + port(r.Host)
		} else {
			u.Host = addr.Hash.Label() + "." + addr.TLD + "." + o.Domain + port(r.Host)
			if addr.Path != "" {
				u.Path = addr.Path
			}
		}
		http.Redirect(w, r, u.String(), http.StatusMovedPermanently)
		return
	}
	w.Header().Set("Content-Security-Policy", sandboxCSP)
	if route == routeObject {
		g.serveObjectCID(w, r, c)
		return
	}
	g.serveAddr(w, r, addr)
}

// requestScheme is the scheme the client used: https over TLS or behind a
// proxy that says so (X-Forwarded-Proto only steers the client's own
// redirect).
func requestScheme(r *http.Request) string {
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		return "https"
	}
	return "http"
}

// checkNodeRequest refuses, on the node's origin, a request to become a
// service worker and (for the API and ops endpoints) a request a browser
// sent on behalf of a page of another origin.
func checkNodeRequest(r *http.Request, api bool) error {
	if r.Header.Get("Service-Worker") != "" {
		return bus.Errorf(codes.Forbidden, "no service worker may be registered on the node's origin: "+
			"it would control every address served here (an address's own origin may have one)")
	}
	if !api {
		return nil
	}
	if s := r.Header.Get("Sec-Fetch-Site"); s == "cross-site" || s == "same-site" {
		return bus.Errorf(codes.Forbidden, "the node's API does not answer pages of other origins (Sec-Fetch-Site: %s)", s)
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return bus.Errorf(codes.Forbidden, "the node's API does not answer pages of other origins (Origin: %.100s)", o)
		}
	}
	return nil
}

// wantsBao says whether a request asks for the verifiable stream:
// ?format=bao or an Accept naming application/vnd.ronhost.bao (q > 0).
// Another format is an error.
func wantsBao(r *http.Request) (bool, error) {
	q := r.URL.Query()
	if q.Has("format") {
		switch f := q.Get("format"); f {
		case "bao":
			return true, nil
		case "":
		default:
			return false, bus.Errorf(codes.Invalid, "format %q is not served (formats: bao)", f)
		}
	}
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || mt != MediaTypeBao {
				continue
			}
			if q, ok := params["q"]; ok && (q == "0" || strings.Trim(q, "0.") == "") {
				continue
			}
			return true, nil
		}
	}
	return false, nil
}
