package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/manifest"
	"github.com/ronhost/ronhost/internal/core/store"
)

// maxName bounds the name of GET /resolve/{name}.
const maxName = 253

// authorize checks the request's token (failing closed) and returns the cap
// on its body: MaxBodyBytes, lowered by the token's max-bytes caveat.
func (g *Gateway) authorize(r *http.Request) (int64, error) {
	if g.auth == nil {
		return 0, bus.Errorf(codes.Unauthorized, "this gateway checks no capability tokens, so it accepts no writes")
	}
	max, err := g.auth.Authorize(r)
	if err != nil {
		var be *bus.Error
		if !errors.As(err, &be) {
			return 0, bus.Errorf(codes.Unauthorized, "the capability token could not be checked: %v", err)
		}
		return 0, err
	}
	limit := g.cfg.MaxBodyBytes
	if max >= 0 && max < limit {
		limit = max
	}
	return limit, nil
}

// body returns the request body capped at limit bytes (an
// *http.MaxBytesError past it, and the connection is closed after the
// answer); a client that stops sending is cut after WriteIdle (body.go) and
// answered 408. A declared Content-Length over the cap is refused before
// anything is read.
func (g *Gateway) body(w http.ResponseWriter, r *http.Request, limit int64) (*idleReader, error) {
	if r.ContentLength > limit {
		return nil, bus.Errorf(codes.TooLarge, "the request body of %d bytes is over its cap of %d bytes", r.ContentLength, limit)
	}
	base := w
	for {
		u, ok := base.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		base = u.Unwrap()
	}
	return &idleReader{r: http.MaxBytesReader(base, r.Body, limit)}, nil
}

// idleReader tells the body's own failures from the multipart reader's
// complaints, and remembers a stall (the idle deadline, body.go).
type idleReader struct {
	r       io.Reader
	stalled error // the deadline error, once a read timed out
}

func (b *idleReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		b.stalled = err
	}
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		err = &bodyError{err}
	}
	return n, err
}

// bodyError is an error of the request body itself (the connection, the
// cap, the idle deadline), as against the multipart reader's complaints
// about what the body says.
type bodyError struct{ err error }

func (e *bodyError) Error() string { return e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// multipartErr marks an error of the multipart reader that is not the
// body's own (bodyError) as a malformed body (400); nil and io.EOF stay.
func multipartErr(err error) error {
	var be *bodyError
	if err == nil || err == io.EOF || errors.As(err, &be) || errors.As(err, new(*bus.Error)) {
		return err
	}
	return bus.Errorf(codes.Invalid, "malformed multipart body: %v", err)
}

// cause returns the stall as the cause of err when the body timed out (the
// server then also cancels the request's context, which a reader of the
// body may report instead).
func (b *idleReader) cause(err error) error {
	if b.stalled != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return b.stalled
	}
	return err
}

// POST /v1/publish: multipart/form-data with the part "manifest"
// (Manifest.toml) first, then the part "payload" (a file), and nothing
// after it but the closing boundary. The payload is streamed into the store
// unpinned but held (PutOptions.Hold) until the publish ends, so no GC can
// take it before the index has committed the manifest's pinned reference
// to it; then the backend validates and indexes the manifest: 201 with
// Published (and "deduplicated": the payload was stored already), or 422 with the plugin's errors. A body that ends before its
// closing boundary is refused (400) before the payload commits: a
// truncated body is never a payload.
func (g *Gateway) servePublish(w http.ResponseWriter, r *http.Request) {
	limit, err := g.authorize(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	body, err := g.body(w, r, limit)
	if err != nil {
		WriteError(w, err)
		return
	}
	r.Body = io.NopCloser(body)
	mr, err := r.MultipartReader()
	if err != nil {
		WriteError(w, withStatus(http.StatusUnsupportedMediaType, codes.Invalid,
			"publish takes multipart/form-data with the parts manifest (Manifest.toml) and payload: %v", err))
		return
	}
	part, err := mr.NextPart()
	err = multipartErr(err)
	if err != nil || part.FormName() != "manifest" {
		g.fail(w, r, partErr(body.cause(err), "the first part must be \"manifest\" (Manifest.toml)"))
		return
	}
	text, err := io.ReadAll(io.LimitReader(part, manifest.MaxSize+1))
	if err = multipartErr(err); err != nil {
		g.fail(w, r, partErr(body.cause(err), "reading the manifest part"))
		return
	}
	if len(text) > manifest.MaxSize {
		WriteError(w, bus.Errorf(codes.TooLarge, "the manifest is over %d bytes", manifest.MaxSize))
		return
	}
	// The one TOML parse of the publish, before the payload streams in.
	doc, err := manifest.DecodeTOML(text)
	if err != nil {
		WriteError(w, err)
		return
	}
	tree, err := manifest.MarshalTree(doc)
	if err != nil {
		WriteError(w, err)
		return
	}
	part, err = mr.NextPart()
	err = multipartErr(err)
	if err != nil || part.FormName() != "payload" {
		g.fail(w, r, partErr(body.cause(err), "the second part must be \"payload\" (the file)"))
		return
	}
	req := PublishRequest{Doc: tree, Filename: part.FileName()}
	var payload io.Reader
	req.MediaType, payload = PayloadType(part.Header.Get("Content-Type"), &payloadPart{part: part, mr: mr})
	if req.Payload, err = g.objs.Put(r.Context(), payload, store.PutOptions{Hold: g.publishHold()}); err != nil {
		g.fail(w, r, partErr(body.cause(err), "storing the payload"))
		return
	}
	if req.Payload.Release != nil {
		defer req.Payload.Release() // the index's reference, if any, is durable by then
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.RequestTimeout)
	defer cancel()
	p, err := g.be.Publish(ctx, req)
	if err != nil {
		g.fail(w, r, ctxErr(ctx, err))
		return
	}
	if a, err := cid.ParseAddress(p.Address); err == nil {
		w.Header().Set("Location", "/r/"+a.Hash.Hex()+"."+a.TLD)
	}
	// And whether the payload was stored already (the CLI's put says so).
	writeJSON(w, http.StatusCreated, struct {
		Published
		Deduplicated bool `json:"deduplicated"`
	}{p, req.Payload.Deduplicated})
}

// PayloadType is the media type a publish gives its payload, a hint the
// manifest's [payload] media_type overrides: the part's Content-Type as
// sent (parameters such as charset kept), or, when the part gives none or
// only application/octet-stream (what a browser sends for a file it cannot
// name), the type sniffed from the first 512 bytes (http.DetectContentType;
// nothing when that says application/octet-stream too). It returns the
// reader to store: the peeked bytes are not lost. The CLI's offline put
// --manifest gives a payload the same type.
func PayloadType(contentType string, part io.Reader) (string, io.Reader) {
	if mt, params, err := mime.ParseMediaType(contentType); err == nil && mt != "application/octet-stream" {
		if s := mime.FormatMediaType(mt, params); s != "" {
			return s, part
		}
	}
	br := bufio.NewReaderSize(part, 512)
	head, _ := br.Peek(512)
	if len(head) == 0 {
		return "", br
	}
	if t := http.DetectContentType(head); !strings.HasPrefix(t, "application/octet-stream") {
		return t, br
	}
	return "", br
}

// publishHold bounds how long a publish holds its payload: the backend's
// RequestTimeout, plus time for a store in another process to take it over
// (a macronode); a hold is released as soon as the publish ends, so the
// bound only matters when the process holding it died.
func (g *Gateway) publishHold() time.Duration { return g.cfg.RequestTimeout + 10*time.Minute }

// payloadPart reads the payload part and, at its end, checks that the body
// ends there with its closing boundary: a body cut short (inside the part,
// or after it without the closing boundary) and a body with more parts fail
// the read, so the store never commits them. Its end, clean or not, is
// sticky: every later Read says it again (a reader in between, such as
// PayloadType's bufio.Reader, may swallow one error).
type payloadPart struct {
	part *multipart.Part
	mr   *multipart.Reader
	err  error // io.EOF at the closing boundary, or why the body is refused
}

var errTruncated = bus.Errorf(codes.Invalid, "publish: the multipart body ends before its closing boundary: a truncated body is not a payload")

func (p *payloadPart) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n, err := p.part.Read(b)
	switch {
	case err == io.EOF:
		next, nerr := p.mr.NextPart()
		var mbe *http.MaxBytesError
		switch {
		case nerr == io.EOF:
			err = io.EOF
		case nerr == nil:
			err = bus.Errorf(codes.Invalid, "publish: a part %q after the payload: a publish has exactly two parts", next.FormName())
		case errors.As(nerr, &mbe), errors.Is(nerr, os.ErrDeadlineExceeded), errors.Is(nerr, context.Canceled):
			err = nerr
		case errors.Is(nerr, io.EOF), errors.Is(nerr, io.ErrUnexpectedEOF):
			err = errTruncated
		default:
			err = bus.Errorf(codes.Invalid, "publish: a malformed multipart body after the payload: %v", nerr)
		}
	case errors.Is(err, io.ErrUnexpectedEOF):
		err = errTruncated
	case err != nil:
		err = multipartErr(err)
	}
	p.err = err
	return n, err
}

// partErr says what went wrong with a multipart body: a cap or stall keeps
// its own error (413, 408); a malformed body is 400.
func partErr(err error, what string) error {
	var mbe *http.MaxBytesError
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return bus.Errorf(codes.Invalid, "publish: %s", what)
	case errors.As(err, &mbe), errors.Is(err, store.ErrQuotaExceeded), errors.Is(err, context.Canceled):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF):
		return bus.Errorf(codes.Invalid, "publish: %s: malformed multipart body: %v", what, err)
	}
	if e := new(bus.Error); errors.As(err, &e) && e.Code == codes.Invalid {
		return bus.Errorf(codes.Invalid, "publish: %s: %s", what, e.Message)
	}
	return fmt.Errorf("publish: %s: %w", what, err)
}

// POST /v1/objects: the raw body, stored and pinned (not pinned with
// ?pin=false): 201 {cid, size, deduplicated}.
func (g *Gateway) serveObjectPut(w http.ResponseWriter, r *http.Request) {
	limit, err := g.authorize(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	pin := true
	switch r.URL.Query().Get("pin") {
	case "", "true":
	case "false":
		pin = false
	default:
		WriteError(w, bus.Errorf(codes.Invalid, "pin is true or false"))
		return
	}
	body, err := g.body(w, r, limit)
	if err != nil {
		WriteError(w, err)
		return
	}
	o := store.PutOptions{Pin: pin}
	if r.ContentLength > 0 {
		o.Size = r.ContentLength
	}
	res, err := g.objs.Put(r.Context(), body, o)
	if err != nil {
		g.fail(w, r, body.cause(err))
		return
	}
	w.Header().Set("Location", "/o/"+res.CID.String())
	writeJSON(w, http.StatusCreated, map[string]any{"cid": res.CID, "size": res.Size, "deduplicated": res.Deduplicated})
}

// GET /resolve/{name}: the signed name record bound to name.
func (g *Gateway) serveName(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/resolve/")
	if name == "" || len(name) > maxName || strings.Contains(name, "/") {
		WriteError(w, bus.Errorf(codes.Invalid, "a name is 1 to %d characters without \"/\"", maxName))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.RequestTimeout)
	defer cancel()
	rec, err := g.be.Name(ctx, name)
	if err != nil {
		g.fail(w, r, ctxErr(ctx, err))
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

// POST /v1/names: store a signed name record (JSON); 409 when stale.
func (g *Gateway) serveSetName(w http.ResponseWriter, r *http.Request) {
	limit, err := g.authorize(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	body, err := g.body(w, r, min(limit, maxJSONBody))
	if err != nil {
		WriteError(w, err)
		return
	}
	b, err := io.ReadAll(body)
	if err != nil {
		g.fail(w, r, body.cause(err))
		return
	}
	if !json.Valid(b) {
		WriteError(w, bus.Errorf(codes.Invalid, "a name record is a JSON object"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.RequestTimeout)
	defer cancel()
	out, err := g.be.SetName(ctx, b)
	if err != nil {
		g.fail(w, r, ctxErr(ctx, err))
		return
	}
	if len(out) == 0 {
		out = json.RawMessage(`{}`)
	}
	writeJSON(w, http.StatusOK, out)
}

// GET /v1/payouts: balances and epochs (a token allowing GET).
func (g *Gateway) servePayouts(w http.ResponseWriter, r *http.Request) {
	g.tokenJSON(w, r, g.be.Payouts)
}

// POST /v1/payouts/settle: settle the sealed epochs now.
func (g *Gateway) serveSettle(w http.ResponseWriter, r *http.Request) {
	g.tokenJSON(w, r, g.be.Settle)
}

func (g *Gateway) tokenJSON(w http.ResponseWriter, r *http.Request, f func(context.Context) (any, error)) {
	if _, err := g.authorize(r); err != nil {
		WriteError(w, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.RequestTimeout)
	defer cancel()
	v, err := f(ctx)
	if err != nil {
		g.fail(w, r, ctxErr(ctx, err))
		return
	}
	writeJSON(w, http.StatusOK, v)
}
