// Package gateway is the node's HTTP API (net/http). It owns HTTP: routing,
// content serving (ranges, conditionals, caching), the protections, and the
// error JSON of every answer (WriteError: the status of its code, package
// internal/codes, or a more precise one only HTTP has).
// It reaches the node's roles only through the interfaces it declares:
// Objects (the local store: bulk bytes never cross the bus), Backend (index,
// plugins, ledger over the bus) and Authorizer (capability tokens).
//
// # Routes
//
//	GET|HEAD /o/{cid}                    an object's bytes, application/octet-stream; with ?format=bao
//	                                     or Accept: application/vnd.ronhost.bao its verifiable stream
//	                                     (?entity-bytes=FROM:TO for a range; docs/PROTOCOL.md)
//	GET|HEAD /r/{hash}.{tld}[/path]      an address: the payload with the manifest's media type,
//	                                     or (with a path) the byte range the TLD's plugin resolves it to
//	OPTIONS  /o/…, /r/…                  CORS preflight: 204
//	POST     /v1/publish                 multipart: "manifest" (Manifest.toml) first, then "payload"
//	                                     -> 201 {address, manifest, tld, payload, size, deduplicated} | 422
//	                                     (400 for a body that ends before its closing boundary or has more parts)
//	POST     /v1/objects[?pin=false]     a raw body, stored and pinned (or not) -> 201 {cid, size, deduplicated}
//	GET      /resolve/{name}             a signed name record
//	POST     /v1/names                   store a name record (409 when stale)
//	GET      /v1/payouts                 balances and epochs
//	POST     /v1/payouts/settle          settle now
//	anything else                        the node's own routes (/healthz, /readyz, /version, /metrics,
//	                                     /v1/plugins, /ui/, ...), on the one mux New declares the API on
//
// Writes (and payouts) need a capability token: without an Authorizer, or
// without a token, they fail with 401.
//
// # Origins
//
// Before routing, the Host header says which origin a request is for
// (Hosts.Classify, origin.go): the node's own origin (a gateway domain such
// as localhost, an IP address, a path host), an address's origin
// <label>.<tld>.<domain> or an object's <label>.<domain> (label: the CID in
// base32, cid.Label), or none (421). An address's origin serves only that
// address's paths (GET, HEAD, OPTIONS); the routes above are the node
// origin's. There, /r/ and /o/ redirect (301) to their origin on a gateway
// domain and are served with Content-Security-Policy: sandbox where no
// origin per address exists; a request carrying Service-Worker is refused
// (403), and the API and ops endpoints refuse requests a browser sent for a
// page of another origin (Sec-Fetch-Site cross-site or same-site, a foreign
// Origin: 403). Content answers carry Access-Control-Allow-Origin: * and
// expose Content-Range, Content-Length, Accept-Ranges and ETag; the API
// sends no CORS header. Every answer has X-Content-Type-Options: nosniff.
// web.go says the whole policy.
//
// A publish's payload gets the media type of its multipart part
// (parameters kept), or the one sniffed from its first 512 bytes when the
// part gives none (or application/octet-stream); the manifest's [payload]
// media_type overrides both.
//
// # Publishing
//
// A publish streams its payload into Objects unpinned but held
// (store.PutOptions.Hold) until the backend's Publish has returned: the
// index commits the manifest's pinned reference to the payload meanwhile, so
// no GC can take the payload in between, and the hold of a refused publish
// ends with it (the payload is then garbage). The payload only commits if the
// body ends with its closing boundary right after it.
//
// # Content
//
// /r/ serves an address only from an index entry whose manifest hashes to
// the address and whose payload, size, media type, TLD and price are that
// manifest's (verify.go): entries cross the bus, and a forged one gets 502,
// never its bytes.
//
// /o and /r answer single ranges (206) and several (multipart/byteranges with
// a random boundary, the parts in ascending order, each chunk group read and
// verified once for the whole response); overlapping or nearly adjacent
// ranges are merged, more
// than Config.MaxRanges range-specs, a malformed Range and one no range of
// which is satisfiable get 416 with Content-Range "bytes */N"; a Range of
// another unit, on HEAD, on empty content or under a stale If-Range is
// ignored. The ETag is strong, "b3:<hex>" of the object (for a resolved path,
// of the payload and the range); If-None-Match gives 304 and If-Match 412.
// Objects and payloads are cached as immutable; resolved paths for five
// minutes (a replaced plugin may resolve them differently). Bytes are read
// through Objects.ReadRange, which verifies them: the status and headers go
// out only with the first verified bytes, and a verification failure after
// that aborts the response (http.ErrAbortHandler), so a client sees a broken
// transfer, never a complete one. A GET of a priced entry is metered after
// its body with the bytes written (also when the client stopped early); HEAD,
// 304 and errors are not.
//
// # Protections
//
// At most Config.MaxConcurrent requests run at once, and at most
// Config.MaxPerClient of one client address (an IPv4 address or an IPv6
// /64: a fair share, so one address cannot hold every slot); more get 429
// with Retry-After: 1 at once, never queued (/healthz and /metrics are
// exempt). A response stream must move at least Config.MinReadRate bytes a
// second over each Config.MinReadWindow, or it is cut (a slow reader holds
// its slot for one window at most). The slot and rate logic is clients.go.
// Bodies are capped by Config.MaxBodyBytes and the token's max bytes (413).
// The work before a response starts runs under Config.RequestTimeout (504);
// a body, in or out, is cut after Config.WriteIdle without progress (408 for
// a stalled upload), on every route, the node's own included: each write of
// a response must finish within it (the content streamer paces its own), and
// a request body is read under it by whoever reads it, net/http too when
// no handler does (body.go). A response that starts before its request's
// body has ended closes the connection rather than wait for the rest, so a
// client that declares a body and never sends it holds no slot. A request with a Content-Encoding other than
// identity is refused with 415: the gateway never decompresses a body, so a
// compression bomb has nothing to expand in. Request targets over
// Config.MaxURLBytes get 414, header fields over Config.MaxHeaderBytes 431,
// a method a route does not take 405 with Allow.
//
// Every error is the JSON of a *bus.Error, {"code","message","retryable"}
// (+"errors" for 422 and for an invalid manifest), with the status of its
// code; 405, 408, 412, 414, 415 and 431 refine the status of the codes
// invalid, timeout, conflict and too_large, and 421 that of not_found (a
// host this node does not serve). 5xx messages have file paths removed.
//
// This package imports core/cid, core/store (types and sentinel errors),
// core/manifest and bus (errors only). It must not import core/node, the
// plugin host or NATS.
package gateway
