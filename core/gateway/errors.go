package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"regexp"

	"github.com/ronhost/ronhost/bus"
	"github.com/ronhost/ronhost/core/cid"
	"github.com/ronhost/ronhost/core/manifest"
	"github.com/ronhost/ronhost/core/store"
)

// Status is the HTTP status of a bus error code: the one table from codes to
// statuses. An unknown code is 500.
func Status(c bus.Code) int {
	switch c {
	case bus.CodeInvalid:
		return http.StatusBadRequest
	case bus.CodeUnauthorized:
		return http.StatusUnauthorized
	case bus.CodeForbidden:
		return http.StatusForbidden
	case bus.CodeNotFound:
		return http.StatusNotFound
	case bus.CodeConflict:
		return http.StatusConflict
	case bus.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case bus.CodeRange:
		return http.StatusRequestedRangeNotSatisfiable
	case bus.CodeRejected, bus.CodeContentFault:
		return http.StatusUnprocessableEntity
	case bus.CodeOverloaded:
		return http.StatusTooManyRequests
	case bus.CodePluginFault:
		return http.StatusBadGateway
	case bus.CodeUnavailable:
		return http.StatusServiceUnavailable
	case bus.CodeTimeout:
		return http.StatusGatewayTimeout
	case bus.CodeQuota, bus.CodeDiskFull:
		return http.StatusInsufficientStorage
	}
	return http.StatusInternalServerError
}

// statusError refines the status of a bus error where HTTP has a more
// precise one than the code's (405, 408, 412, 414, 415, 421, 431); the JSON code
// stays one of bus's codes.
type statusError struct {
	status int
	err    *bus.Error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

func withStatus(status int, c bus.Code, format string, args ...any) error {
	return &statusError{status: status, err: bus.Errorf(c, format, args...)}
}

// codeOf is the bus code that best names an HTTP error status (for errors
// written by the ops handler with http.Error).
func codeOf(status int) bus.Code {
	switch status {
	case http.StatusUnauthorized:
		return bus.CodeUnauthorized
	case http.StatusForbidden:
		return bus.CodeForbidden
	case http.StatusNotFound:
		return bus.CodeNotFound
	case http.StatusConflict, http.StatusPreconditionFailed:
		return bus.CodeConflict
	case http.StatusRequestEntityTooLarge, http.StatusRequestURITooLong, http.StatusRequestHeaderFieldsTooLarge:
		return bus.CodeTooLarge
	case http.StatusRequestedRangeNotSatisfiable:
		return bus.CodeRange
	case http.StatusUnprocessableEntity:
		return bus.CodeRejected
	case http.StatusTooManyRequests:
		return bus.CodeOverloaded
	case http.StatusBadGateway:
		return bus.CodePluginFault
	case http.StatusServiceUnavailable:
		return bus.CodeUnavailable
	case http.StatusGatewayTimeout, http.StatusRequestTimeout:
		return bus.CodeTimeout
	case http.StatusInsufficientStorage:
		return bus.CodeQuota
	}
	if status >= 500 {
		return bus.CodeInternal
	}
	return bus.CodeInvalid
}

// classify maps any error to its HTTP status and the one error shape.
func classify(err error) (int, *bus.Error) {
	var se *statusError
	if errors.As(err, &se) {
		return se.status, se.err
	}
	var be *bus.Error
	if errors.As(err, &be) {
		return Status(be.Code), be
	}
	var mbe *http.MaxBytesError
	var me *manifest.Error
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, bus.Errorf(bus.CodeTooLarge, "the request body is over its cap of %d bytes", mbe.Limit)
	case errors.As(err, &me):
		// A manifest refused for what it says is 422 wherever it is
		// refused (here, before the payload, or by the index or its
		// plugin), with its field errors; one over a limit is 413.
		code, status := bus.CodeRejected, http.StatusUnprocessableEntity
		if errors.Is(err, manifest.ErrTooLarge) {
			code, status = bus.CodeTooLarge, http.StatusRequestEntityTooLarge
		}
		e := bus.Errorf(code, "%v", err)
		if b, jerr := json.Marshal(me.Errors); jerr == nil {
			e.Errors = b
		}
		return status, e
	case errors.Is(err, ErrMisdirected):
		return http.StatusMisdirectedRequest, bus.Errorf(bus.CodeNotFound, "%v", err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		// An idle read deadline passed: the client stopped sending its body.
		return http.StatusRequestTimeout, bus.Errorf(bus.CodeTimeout, "the request body stalled")
	}
	var c bus.Code
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		c = bus.CodeTimeout
	case errors.Is(err, context.Canceled):
		c = bus.CodeUnavailable
	case errors.Is(err, manifest.ErrTooLarge):
		c = bus.CodeTooLarge
	case errors.Is(err, manifest.ErrInvalid):
		c = bus.CodeRejected
	case errors.Is(err, cid.ErrInvalidCID), errors.Is(err, cid.ErrInvalidAddress),
		errors.Is(err, store.ErrSizeMismatch):
		c = bus.CodeInvalid
	case errors.Is(err, store.ErrNotFound):
		c = bus.CodeNotFound
	case errors.Is(err, store.ErrRange):
		c = bus.CodeRange
	case errors.Is(err, store.ErrDiskFull): // every role's database wraps this sentinel
		c = bus.CodeDiskFull
	case errors.Is(err, store.ErrQuotaExceeded):
		c = bus.CodeQuota
	case errors.Is(err, store.ErrClosed):
		c = bus.CodeUnavailable
	default: // store.ErrCorrupt included: the node cannot serve what it holds
		c = bus.CodeInternal
	}
	return Status(c), bus.Errorf(c, "%v", err)
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
// with the status of its code (see Status) or of the sentinel it wraps:
// store.ErrNotFound 404, store.ErrRange 416, store.ErrQuotaExceeded and
// store.ErrDiskFull (a full disk, from any role's database) 507,
// store.ErrCorrupt 500, store.ErrClosed 503, ErrMisdirected 421 (code
// not_found: a host this node does not serve), cid.ErrInvalidCID,
// cid.ErrInvalidAddress and store.ErrSizeMismatch 400, manifest.ErrInvalid
// 400 with its field errors (413 for manifest.ErrTooLarge: over the
// manifest's bytes, keys or depth), context.DeadlineExceeded 504, an
// *http.MaxBytesError 413; anything else is 500. Messages of 5xx errors have
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
