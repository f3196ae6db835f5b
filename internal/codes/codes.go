package codes

import (
	"context"
	"errors"
	"net/http"
)

// Code is the machine-readable kind of an error.
type Code string

// The codes, each with its HTTP status (Status). Add one only with its
// status, and document it in docs/BUS.md.
const (
	Invalid      Code = "invalid"      // the request is malformed (400)
	Unauthorized Code = "unauthorized" // no or bad capability token (401)
	Forbidden    Code = "forbidden"    // the token does not allow this (403)
	NotFound     Code = "not_found"    // no such object, address, name, TLD (404)
	Conflict     Code = "conflict"     // a stale or conflicting write, e.g. an older name record (409)
	TooLarge     Code = "too_large"    // a body or message over its cap (413)
	Range        Code = "range"        // an unsatisfiable byte range (416)
	Rejected     Code = "rejected"     // a manifest refused for what it says, by the host or its plugin; the field errors say why (422)
	// ContentFault: the plugin faults (traps, runs past its limits, answers
	// what the ABI refuses) on this piece of content; the content is marked
	// and refused for a while, the plugin goes on serving other content (422).
	ContentFault Code = "content_fault"
	Overloaded   Code = "overloaded"   // too many requests in flight (429)
	Internal     Code = "internal"     // a bug or an unexpected failure (500)
	PluginFault  Code = "plugin_fault" // a plugin trapped, timed out or misbehaved (502)
	Unavailable  Code = "unavailable"  // a role is not ready or not reachable, or the node is stopping (503)
	Timeout      Code = "timeout"      // the request ran past its deadline (504)
	Quota        Code = "quota"        // the store is full (507)
	DiskFull     Code = "disk_full"    // the node's disk is full: writes are refused until space is freed, reads work (507)
)

// statuses is the one table from codes to HTTP statuses.
var statuses = [...]struct {
	code   Code
	status int
}{
	{Invalid, http.StatusBadRequest},
	{Unauthorized, http.StatusUnauthorized},
	{Forbidden, http.StatusForbidden},
	{NotFound, http.StatusNotFound},
	{Conflict, http.StatusConflict},
	{TooLarge, http.StatusRequestEntityTooLarge},
	{Range, http.StatusRequestedRangeNotSatisfiable},
	{Rejected, http.StatusUnprocessableEntity},
	{ContentFault, http.StatusUnprocessableEntity},
	{Overloaded, http.StatusTooManyRequests},
	{Internal, http.StatusInternalServerError},
	{PluginFault, http.StatusBadGateway},
	{Unavailable, http.StatusServiceUnavailable},
	{Timeout, http.StatusGatewayTimeout},
	{Quota, http.StatusInsufficientStorage},
	{DiskFull, http.StatusInsufficientStorage},
}

// Status is c's HTTP status; an unknown code's is 500.
func (c Code) Status() int {
	for _, s := range statuses {
		if s.code == c {
			return s.status
		}
	}
	return http.StatusInternalServerError
}

// Known says whether c is one of the codes.
func (c Code) Known() bool {
	for _, s := range statuses {
		if s.code == c {
			return true
		}
	}
	return false
}

// Retryable says whether a request that failed with c may succeed if
// repeated.
func (c Code) Retryable() bool {
	switch c {
	case Overloaded, Unavailable, Timeout:
		return true
	}
	return false
}

// FromStatus is the code that best names an HTTP status (a status written
// without a code, or a foreign service's numeric error code): the first code
// of that status in the table, or the nearest kind: 405, 408, 412, 414, 415,
// 421 and 431 name the codes their statuses refine; another 4xx is Invalid,
// another 5xx Internal. A status under 400 is not an error: Internal.
func FromStatus(status int) Code {
	switch status {
	case http.StatusMethodNotAllowed, http.StatusUnsupportedMediaType:
		return Invalid
	case http.StatusRequestTimeout:
		return Timeout
	case http.StatusPreconditionFailed:
		return Conflict
	case http.StatusRequestURITooLong, http.StatusRequestHeaderFieldsTooLarge:
		return TooLarge
	case http.StatusMisdirectedRequest:
		return NotFound
	}
	for _, s := range statuses {
		if s.status == status {
			return s.code
		}
	}
	if status >= 400 && status < 500 {
		return Invalid
	}
	return Internal
}

// Coder is an error that names its code: the sentinels of New, and error
// types that choose their code (a manifest's field errors, the bus's
// errors).
type Coder interface {
	error
	ErrorCode() Code
}

// sentinel is an error of New.
type sentinel struct {
	code Code
	msg  string
}

func (e *sentinel) Error() string   { return e.msg }
func (e *sentinel) ErrorCode() Code { return e.code }

// New returns a sentinel error with text msg (as errors.New) and code c:
// every error that wraps it is answered with c (Of).
func New(c Code, msg string) error { return &sentinel{code: c, msg: msg} }

// Of is the code of err: that of the first Coder in its chain; Timeout for
// a context's deadline, Unavailable for a canceled context (the node or the
// caller is going away); Internal for anything else (nil included: Of is
// for errors).
func Of(err error) Code {
	var c Coder
	switch {
	case errors.As(err, &c):
		return c.ErrorCode()
	case errors.Is(err, context.DeadlineExceeded):
		return Timeout
	case errors.Is(err, context.Canceled):
		return Unavailable
	}
	return Internal
}
