package bus

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ronhost/ronhost/internal/codes"
)

// Error is the one error shape of the node: on the bus, in the HTTP API and in
// the CLI's --json output. Code is one of package codes (its HTTP status is
// Code.Status); Errors, when present, is the field error list of a rejected
// manifest (the host's or its plugin's).
type Error struct {
	Code      codes.Code      `json:"code"`
	Message   string          `json:"message"`
	Retryable bool            `json:"retryable"`
	Errors    json.RawMessage `json:"errors,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// ErrorCode makes an *Error a codes.Coder.
func (e *Error) ErrorCode() codes.Code { return e.Code }

// Is makes errors.Is(err, &Error{Code: c}) match any *Error with code c.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == ""
}

// Errorf returns an *Error with code c.
func Errorf(c codes.Code, format string, args ...any) *Error {
	return &Error{Code: c, Message: fmt.Sprintf(format, args...), Retryable: c.Retryable()}
}

// fielder is an error that lists field errors (a manifest's: see
// manifest.Error), sent as Error.Errors.
type fielder interface {
	FieldErrors() any
}

// AsError returns err as an *Error: itself if it is one (or wraps one), else
// one with err's code (codes.Of: the sentinel it wraps; internal when none),
// its text and its field errors, if it lists any. nil stays nil.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	c := codes.Of(err)
	e = &Error{Code: c, Message: err.Error(), Retryable: c.Retryable()}
	var f fielder
	if errors.As(err, &f) {
		if b, jerr := json.Marshal(f.FieldErrors()); jerr == nil {
			e.Errors = b
		}
	}
	return e
}
