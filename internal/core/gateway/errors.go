package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"regexp"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/codes"
)

// statusError refines the status of a bus error where HTTP has a more
// precise one than the code's (405, 408, 412, 414, 415, 421, 431); the JSON code
// stays one of bus's codes.
type statusError struct {
	status int
	err    *bus.Error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

func withStatus(status int, c codes.Code, format string, args ...any) error {
	return &statusError{status: status, err: bus.Errorf(c, format, args...)}
}

// classify maps any error to its HTTP status and the one error shape: the
// status of its code (codes.Code.Status; the code from the sentinel it
// wraps, bus.AsError), or a more precise one for the errors only HTTP has.
func classify(err error) (int, *bus.Error) {
	var se *statusError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &se):
		return se.status, se.err
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, bus.Errorf(codes.TooLarge, "the request body is over its cap of %d bytes", mbe.Limit)
	case errors.Is(err, ErrMisdirected):
		return http.StatusMisdirectedRequest, bus.Errorf(codes.NotFound, "%v", err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		// An idle read deadline passed: the client stopped sending its body.
		return http.StatusRequestTimeout, bus.Errorf(codes.Timeout, "the request body stalled")
	}
	e := bus.AsError(err)
	return e.Code.Status(), e
}

// pathRE matches file-system paths of two or more elements (and Windows
// drive paths) in an error message.
var pathRE = regexp.MustCompile(`(?:[A-Za-z]:)?(?:[/\\][^/\\\s:;,"'()\[\]]+){2,}[/\\]?`)

// scrubPaths hides file paths from a message that leaves the node.
func scrubPaths(s string) string { return pathRE.ReplaceAllString(s, "<path>") }

// WriteError writes err as the one error shape of the HTTP API,
//
//	{"code": "...", "message": "...", "retryable": false, "errors": [...]}
//
// with the status of its code: a *bus.Error's, or that of the sentinel it
// wraps (codes.Of: store.ErrNotFound 404, store.ErrRange 416,
// store.ErrQuotaExceeded and a full disk 507, store.ErrClosed 503,
// cid.ErrInvalidCID 400, a *manifest.Error 422 with its field errors, 413
// over the manifest's limits, context.DeadlineExceeded 504; anything else
// 500), or HTTP's own: ErrMisdirected 421 (code not_found: a host this
// node does not serve), an *http.MaxBytesError 413, a stalled body 408. Messages of 5xx errors have
// file paths removed. Retryable errors (429, 503, 504) carry Retry-After: 1
// unless the caller set one. Headers of a success already set on w (ETag,
// Content-Length, caching) are removed; others (Allow, Content-Range) stay.
func WriteError(w http.ResponseWriter, err error) {
	status, e := classify(err)
	if status >= 500 {
		cp := *e
		cp.Message = scrubPaths(cp.Message)
		e = &cp
	}
	h := w.Header()
	for _, k := range []string{"Content-Length", "Content-Encoding", "Content-Disposition", "ETag", "Last-Modified", "Accept-Ranges"} {
		h.Del(k)
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if e.Retryable && h.Get("Retry-After") == "" {
		h.Set("Retry-After", "1")
	}
	b, jerr := json.Marshal(e)
	if jerr != nil { // only Errors can fail (invalid raw JSON from a backend)
		cp := *e
		cp.Errors = nil
		b, _ = json.Marshal(&cp)
	}
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
