package bus

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Code is the machine-readable kind of an Error. The same codes appear on the
// bus (in micro error headers and bodies) and in the HTTP API's error JSON;
// the gateway maps them to HTTP statuses in one place.
type Code string

// The codes. Add one only with its HTTP status in core/gateway.
const (
	CodeInvalid      Code = "invalid"      // the request is malformed (400)
	CodeUnauthorized Code = "unauthorized" // no or bad capability token (401)
	CodeForbidden    Code = "forbidden"    // the token does not allow this (403)
	CodeNotFound     Code = "not_found"    // no such object, address, name, TLD (404)
	CodeConflict     Code = "conflict"     // a stale or conflicting write, e.g. an older name record (409)
	CodeTooLarge     Code = "too_large"    // a body or message over its cap (413)
	CodeRange        Code = "range"        // an unsatisfiable byte range (416)
	CodeRejected     Code = "rejected"     // a plugin rejected a manifest; Errors lists why (422)
	CodeOverloaded   Code = "overloaded"   // too many requests in flight (429)
	CodeInternal     Code = "internal"     // a bug or an unexpected failure (500)
	CodePluginFault  Code = "plugin_fault" // a plugin trapped, timed out or misbehaved (502)
	// CodeContentFault: the plugin faults (traps, runs past its limits, answers
	// what the ABI refuses) on this piece of content; the content is marked and
	// refused for a while, the plugin goes on serving other content (422).
	CodeContentFault Code = "content_fault"
	CodeUnavailable  Code = "unavailable" // a role is not ready or not reachable (503)
	CodeTimeout      Code = "timeout"     // the request ran past its deadline (504)
	CodeQuota        Code = "quota"       // the store is full (507)
	CodeDiskFull     Code = "disk_full"   // the node's disk is full: writes are refused until space is freed, reads work (507)
)

// Error is the one error shape of the node: on the bus, in the HTTP API and in
// the CLI's --json output. Errors, when present, is the plugin's field error
// list of a rejected manifest.
type Error struct {
	Code      Code            `json:"code"`
	Message   string          `json:"message"`
	Retryable bool            `json:"retryable"`
	Errors    json.RawMessage `json:"errors,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Is makes errors.Is(err, &Error{Code: c}) match any *Error with code c.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == ""
}

// Errorf returns an *Error with code c.
func Errorf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Message: fmt.Sprintf(format, args...), Retryable: c.Retryable()}
}

// Retryable says whether a request that failed with c may succeed if repeated.
func (c Code) Retryable() bool {
	switch c {
	case CodeOverloaded, CodeUnavailable, CodeTimeout:
		return true
	}
	return false
}

// AsError returns err as an *Error: itself if it is one (or wraps one), else
// an internal error carrying err's text.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: err.Error()}
}
