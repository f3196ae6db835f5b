package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

// Caching of content: an object, and the payload of a manifest, never change
// under their names. What a plugin resolves a path to may change when the
// TLD's plugin is replaced, so those answers are cached briefly and
// revalidated by ETag.
const (
	cacheImmutable = "public, max-age=31536000, immutable"
	cacheResolved  = "public, max-age=300"
)

// content is a representation to serve: size bytes of object obj from off.
type content struct {
	obj       cid.CID
	off, size int64
	ctype     string
	etag      string
	cache     string
	meter     *Access // nil: free
}

// GET|HEAD /o/{cid} (or / on the object's origin): its bytes, or with
// ?format=bao or Accept: application/vnd.ronhost.bao its verifiable stream.
func (g *Gateway) serveObjectCID(w http.ResponseWriter, r *http.Request, c cid.CID) {
	bao, err := wantsBao(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	w.Header().Add("Vary", "Accept")
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.RequestTimeout)
	defer cancel()
	if bao {
		g.serveBao(ctx, w, r, c)
		return
	}
	info, err := g.objs.Info(ctx, c)
	if err != nil {
		g.fail(w, r, ctxErr(ctx, err))
		return
	}
	g.serveContent(w, r, content{obj: c, size: info.Size, ctype: "application/octet-stream",
		etag: `"` + c.String() + `"`, cache: cacheImmutable})
}

// GET|HEAD /r/{hash}.{tld}[/path] (or the path on the address's origin).
func (g *Gateway) serveAddr(w http.ResponseWriter, r *http.Request, addr cid.Address) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.RequestTimeout)
	defer cancel()
	e, err := g.be.Lookup(ctx, addr.Hash)
	if err == nil {
		err = g.verified.check(addr.Hash, e)
	}
	if err == nil && e.TLD != addr.TLD {
		err = bus.Errorf(codes.NotFound, "no manifest is published at %s.%s (its hash names a .%s manifest)", addr.Hash.Hex(), addr.TLD, e.TLD)
	}
	if err != nil {
		g.fail(w, r, ctxErr(ctx, err))
		return
	}
	info, err := g.objs.Info(ctx, e.Payload)
	if err != nil {
		g.fail(w, r, ctxErr(ctx, fmt.Errorf("the payload %s of %s.%s: %w", e.Payload, addr.Hash.Hex(), addr.TLD, err)))
		return
	}
	var meter *Access
	if e.Price > 0 {
		meter = &Access{Manifest: e.Manifest, TLD: e.TLD, Price: e.Price}
	}
	if addr.Path == "" {
		ctype := e.MediaType
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		g.serveContent(w, r, content{obj: e.Payload, size: info.Size, ctype: ctype,
			etag: `"` + e.Payload.String() + `"`, cache: cacheImmutable, meter: meter})
		return
	}
	res, err := g.be.Resolve(ctx, e, addr.Path)
	if err == nil {
		switch {
		case res.Status == http.StatusNotFound:
			err = bus.Errorf(codes.NotFound, "%s.%s has nothing at %s", addr.Hash.Hex(), addr.TLD, addr.Path)
		case res.Status != http.StatusOK:
			err = bus.Errorf(codes.PluginFault, "the .%s plugin resolved %s with status %d (want 200 or 404)", addr.TLD, addr.Path, res.Status)
		case res.Offset < 0 || res.Length < 0 || res.Offset > info.Size || res.Length > info.Size-res.Offset:
			err = bus.Errorf(codes.PluginFault, "the .%s plugin resolved %s to %d bytes at %d, outside the %d-byte payload",
				addr.TLD, addr.Path, res.Length, res.Offset, info.Size)
		}
	}
	if err != nil {
		g.fail(w, r, ctxErr(ctx, err))
		return
	}
	ctype := res.ContentType
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	g.serveContent(w, r, content{obj: e.Payload, off: res.Offset, size: res.Length, ctype: ctype,
		etag:  fmt.Sprintf(`"%s+%d-%d"`, e.Payload, res.Offset, res.Length),
		cache: cacheResolved, meter: meter})
}

// ctxErr reports a request's own deadline as the cause of err when it has
// passed (a backend may return its transport's error rather than ctx.Err()).
func ctxErr(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (%v)", context.DeadlineExceeded, err)
	}
	return err
}

// serveContent answers GET and HEAD for c: conditionals, ranges, headers,
// the streamed body and its metering.
func (g *Gateway) serveContent(w http.ResponseWriter, r *http.Request, c content) {
	h := w.Header()
	h.Set("ETag", c.etag)
	h.Set("Cache-Control", c.cache)
	h.Set("Accept-Ranges", "bytes")
	h.Set("X-Content-Type-Options", "nosniff")

	if im := r.Header.Get("If-Match"); im != "" && !etagMatch(im, c.etag, false) {
		WriteError(w, withStatus(http.StatusPreconditionFailed, codes.Conflict, "If-Match: the current ETag is %s", c.etag))
		return
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, c.etag, true) {
		w.WriteHeader(http.StatusNotModified)
		return
	}

	var ranges []byteRange
	if rh := r.Header.Get("Range"); rh != "" && r.Method == http.MethodGet && ifRange(r, c.etag) {
		var err error
		if ranges, err = parseRange(rh, c.size, g.cfg.MaxRanges); err != nil {
			h.Set("Content-Range", "bytes */"+strconv.FormatInt(c.size, 10))
			WriteError(w, fmt.Errorf("%w (the content has %d bytes)", err, c.size))
			return
		}
	}

	switch len(ranges) {
	case 0:
		h.Set("Content-Type", c.ctype)
		h.Set("Content-Length", strconv.FormatInt(c.size, 10))
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusOK)
			return
		}
		g.stream(w, r, c, http.StatusOK, func(s *streamer) error {
			return s.copyRange(c.off, c.size, nil)
		})
	case 1:
		rg := ranges[0]
		h.Set("Content-Type", c.ctype)
		h.Set("Content-Length", strconv.FormatInt(rg.length, 10))
		h.Set("Content-Range", contentRange(rg, c.size))
		g.stream(w, r, c, http.StatusPartialContent, func(s *streamer) error {
			return s.copyRange(c.off+rg.start, rg.length, nil)
		})
	default:
		// Parts go out in ascending order, each chunk group read and
		// verified once for the whole response (groups.go).
		slices.SortFunc(ranges, func(a, b byteRange) int { return cmp.Compare(a.start, b.start) })
		mw := multipart.NewWriter(io.Discard) // a random boundary
		boundary := mw.Boundary()
		partHeader := func(rg byteRange) textproto.MIMEHeader {
			return textproto.MIMEHeader{"Content-Type": {c.ctype}, "Content-Range": {contentRange(rg, c.size)}}
		}
		// The exact length: the framing as multipart.Writer writes it, plus the bytes.
		cw := &countWriter{}
		mw = multipart.NewWriter(cw)
		_ = mw.SetBoundary(boundary)
		var n int64
		for _, rg := range ranges {
			_, _ = mw.CreatePart(partHeader(rg))
			n += rg.length
		}
		_ = mw.Close()
		h.Set("Content-Type", "multipart/byteranges; boundary="+boundary)
		h.Set("Content-Length", strconv.FormatInt(cw.n+n, 10))
		g.stream(w, r, c, http.StatusPartialContent, func(s *streamer) error {
			info, err := g.objs.Info(s.ctx, c.obj)
			if err != nil {
				return err
			}
			s.groups = newGroupCache(info.Size)
			mw := multipart.NewWriter(s)
			_ = mw.SetBoundary(boundary)
			for _, rg := range ranges {
				err := s.copyRange(c.off+rg.start, rg.length, func() error {
					_, err := mw.CreatePart(partHeader(rg))
					return err
				})
				if err != nil {
					return err
				}
			}
			return mw.Close()
		})
	}
}

func contentRange(rg byteRange, size int64) string {
	return fmt.Sprintf("bytes %d-%d/%d", rg.start, rg.end()-1, size)
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// etagMatch reports whether the list header (If-Match, If-None-Match)
// names etag: "*" or one of its entity tags, compared weakly (W/ ignored)
// or strongly.
func etagMatch(header, etag string, weak bool) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		if strings.HasPrefix(t, "W/") {
			if !weak {
				continue
			}
			t = t[2:]
		}
		if t == etag {
			return true
		}
	}
	return false
}

// ifRange reports whether a Range header is to be honoured: no If-Range, or
// one naming the current entity tag exactly (strong comparison). A date
// never matches: the gateway sends no Last-Modified.
func ifRange(r *http.Request, etag string) bool {
	ir := strings.TrimSpace(r.Header.Get("If-Range"))
	return ir == "" || ir == etag
}

// stream writes status and the body that body produces. Headers go out with
// the first verified bytes: a failure before them is an ordinary error
// response; a failure after them (a corrupt chunk group, a client gone)
// aborts the response so that the client sees a broken transfer, never a
// complete one. A priced access is metered with the bytes written, also
// when the client stopped early.
func (g *Gateway) stream(w http.ResponseWriter, r *http.Request, c content, status int, body func(*streamer) error) {
	s := &streamer{g: g, ctx: r.Context(), w: w, rc: http.NewResponseController(w), status: status, obj: c.obj,
		rate: newRateWindow(g.cfg.MinReadRate, g.cfg.MinReadWindow, g.cfg.WriteIdle, g.cfg.Now)}
	bp := g.bufs.Get().(*[]byte)
	s.buf = *bp
	err := body(s)
	g.bufs.Put(bp)
	g.metrics.sent.Add(float64(s.sent))
	if err == nil && !s.started { // an empty body
		w.WriteHeader(status)
	}
	if err == nil {
		// The client has every byte before the handler waits on metering.
		err = s.rc.Flush()
	}
	// Verified bytes the client got are an access, also when it stopped
	// early; a transfer cut by corrupt stored bytes is the node's failure.
	if c.meter != nil && (err == nil || s.sent > 0 && !errors.Is(err, store.ErrCorrupt)) {
		a := *c.meter
		a.Bytes = s.sent
		mctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), g.cfg.RequestTimeout)
		if merr := g.be.Meter(mctx, a); merr != nil {
			g.cfg.Logger.WarnContext(mctx, "gateway: metering an access failed", "manifest", a.Manifest, "tld", a.TLD, "bytes", a.Bytes, "err", merr)
		}
		cancel()
	}
	if err == nil {
		return
	}
	if !s.started {
		w.Header().Del("Content-Range") // of the 206 that was to be
		g.fail(w, r, err)
		return
	}
	if r.Context().Err() == nil {
		g.cfg.Logger.WarnContext(r.Context(), "gateway: response aborted mid-body", "path", r.URL.Path, "sent", s.sent, "err", err)
	}
	panic(http.ErrAbortHandler)
}

// streamer writes a response body: the status on the first write, a
// deadline before each write so that a client that reads slower than
// MinReadRate over a MinReadWindow, or stops reading for WriteIdle, is cut
// (rateWindow), and a count of the content bytes written.
type streamer struct {
	g       *Gateway
	ctx     context.Context
	w       http.ResponseWriter
	rc      *http.ResponseController
	status  int
	obj     cid.CID
	buf     []byte
	started bool
	noDL    bool  // the writer has no deadlines (not a network connection)
	sent    int64 // content bytes written (framing excluded)
	rate    *rateWindow
	groups  *groupCache // a multipart response's verified group
}

func (s *streamer) Write(p []byte) (int, error) {
	if !s.started {
		s.started = true
		s.w.WriteHeader(s.status)
	}
	done := 0
	for done < len(p) {
		n, dl := s.rate.next(len(p) - done)
		if !s.noDL {
			if err := s.rc.SetWriteDeadline(dl); errors.Is(err, http.ErrNotSupported) {
				s.noDL = true
			}
		}
		m, err := s.w.Write(p[done : done+n])
		s.rate.wrote(m)
		done += m
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// rangeWriter is copyRange's writer for a source that writes itself
// (io.WriterTo): before runs ahead of the first bytes, at most left bytes
// go out, the rest is an error.
type rangeWriter struct {
	s      *streamer
	left   int64
	before func() error
}

var errTooLong = errors.New("gateway: the object has more bytes than its range")

func (w *rangeWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if w.before != nil {
		if err := w.before(); err != nil {
			return 0, err
		}
		w.before = nil
	}
	var long bool
	if int64(len(p)) > w.left {
		p, long = p[:w.left], true
	}
	n, err := w.s.Write(p)
	w.s.sent += int64(n)
	w.left -= int64(n)
	if err == nil && long {
		err = errTooLong
	}
	return n, err
}

// ReadFrom takes a section of a file (an *io.LimitedReader of an
// *os.File, as an ingest's reader hands over the groups it holds verified)
// and has the connection send it (sendfile) when it can; any other reader
// is copied through Write. As with Write, before runs ahead of the first
// bytes and at most left bytes go out, the rest is an error.
func (w *rangeWriter) ReadFrom(r io.Reader) (int64, error) {
	lr, ok := r.(*io.LimitedReader)
	if !ok {
		return io.CopyBuffer(struct{ io.Writer }{w}, r, w.s.buf)
	}
	if lr.N <= 0 {
		return 0, nil
	}
	if w.before != nil {
		if err := w.before(); err != nil {
			return 0, err
		}
		w.before = nil
	}
	long := lr.N > w.left
	section := &io.LimitedReader{R: lr.R, N: min(lr.N, w.left)}
	n, err := w.s.sendSection(section)
	lr.N -= n
	w.s.sent += n
	w.left -= n
	if err == nil && long {
		err = errTooLong
	}
	return n, err
}

// sendSection writes a section of a file (lr) as Write writes bytes: the
// status first, a deadline before each piece the rate window allows. The
// response takes each piece from the file itself (net/http's ReadFrom: with
// a plain TCP connection, sendfile); a response that cannot is written
// through the buffer.
func (s *streamer) sendSection(lr *io.LimitedReader) (int64, error) {
	rec, ok := s.w.(*recorder)
	var rf io.ReaderFrom
	if ok {
		rf, ok = rec.ResponseWriter.(io.ReaderFrom)
	}
	if !ok {
		return io.CopyBuffer(struct{ io.Writer }{s}, lr, s.buf)
	}
	if !s.started {
		s.started = true
		s.w.WriteHeader(s.status)
	}
	var done int64
	for lr.N > 0 {
		n, dl := s.rate.next(int(min(lr.N, 1<<30)))
		if !s.noDL {
			if err := s.rc.SetWriteDeadline(dl); errors.Is(err, http.ErrNotSupported) {
				s.noDL = true
			}
		}
		piece := &io.LimitedReader{R: lr.R, N: int64(n)}
		m, err := rf.ReadFrom(piece)
		rec.wrote += m
		lr.N -= m
		s.rate.wrote(int(m))
		done += m
		if err != nil {
			return done, err
		}
		if m < int64(n) {
			return done, fmt.Errorf("gateway: object %s: a section of its file ended %d bytes early: %w", s.obj, int64(n)-m, io.ErrUnexpectedEOF)
		}
	}
	return done, nil
}

// copyRange copies n verified bytes of the object from off; before is
// called (if set) once the first of them are read, before they are written.
func (s *streamer) copyRange(off, n int64, before func() error) error {
	if s.groups != nil {
		return s.copyGroups(off, n, before)
	}
	src, err := s.g.objs.ReadRange(s.ctx, s.obj, off, n)
	if err != nil {
		return err
	}
	defer src.Close()
	if wt, ok := src.(io.WriterTo); ok {
		// The store's readers write straight from their verified buffers;
		// an ingest's reader hands over sections of its file (ReadFrom).
		w := &rangeWriter{s: s, left: n, before: before}
		_, err := wt.WriteTo(w)
		if err != nil {
			return err
		}
		if w.left > 0 {
			return fmt.Errorf("gateway: object %s ended %d bytes early: %w", s.obj, w.left, io.ErrUnexpectedEOF)
		}
		if w.before != nil { // an empty range
			return w.before()
		}
		return nil
	}
	var done int64
	for done < n {
		buf := s.buf
		if rest := n - done; rest < int64(len(buf)) {
			buf = buf[:rest]
		}
		nr, rerr := src.Read(buf)
		if nr > 0 {
			if before != nil {
				if err := before(); err != nil {
					return err
				}
				before = nil
			}
			nw, werr := s.Write(buf[:nr])
			s.sent += int64(nw)
			done += int64(nw)
			if werr != nil {
				return werr
			}
		}
		if rerr == io.EOF && done < n {
			return fmt.Errorf("gateway: object %s ended %d bytes early: %w", s.obj, n-done, io.ErrUnexpectedEOF)
		}
		if rerr != nil && rerr != io.EOF {
			return rerr
		}
	}
	if before != nil { // an empty range
		return before()
	}
	return nil
}
