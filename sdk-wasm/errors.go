package ron

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Common field error codes. Plugins may use others; codes are short
// lowercase words that a program can match.
const (
	CodeRequired    = "required"    // a needed key is missing
	CodeType        = "type"        // the value has the wrong JSON type
	CodeRange       = "range"       // a number is out of range
	CodeFormat      = "format"      // a string does not have the required form
	CodeUnknown     = "unknown"     // a key the plugin does not know
	CodeDuplicate   = "duplicate"   // a value that must be unique is repeated
	CodeInvalid     = "invalid"     // anything else (also used for plain errors)
	CodeSyntax      = "syntax"      // the input is not acceptable JSON
	CodeTooLarge    = "too-large"   // the input exceeds a limit
	CodeUnsupported = "unsupported" // the plugin does not support this call or version
	CodeSum         = "sum"         // basis points that do not total 10000
)

// Codes Dispatch uses with [StatusFault].
const (
	CodePanic    = "panic"    // a handler panicked
	CodeContract = "contract" // a handler's result breaks the ABI
)

// FieldError is one problem with an input, located by a dotted path into the
// manifest or input document (e.g. "notes.authors[1].share"; "" for the whole
// input).
type FieldError struct {
	Path    string `json:"path"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e FieldError) String() string {
	if e.Path == "" {
		return e.Code + ": " + e.Message
	}
	return e.Path + ": " + e.Code + ": " + e.Message
}

// Rejection is the error a handler returns to reject its input (status 1).
type Rejection struct {
	Errors []FieldError `json:"errors"`
}

// Error joins the field errors.
func (r *Rejection) Error() string {
	if r == nil || len(r.Errors) == 0 {
		return "ron: rejected"
	}
	parts := make([]string, len(r.Errors))
	for i, e := range r.Errors {
		parts[i] = e.String()
	}
	return "ron: rejected: " + strings.Join(parts, "; ")
}

// Reject returns a [*Rejection] with one field error.
func Reject(path, code, message string) error {
	return &Rejection{Errors: []FieldError{{Path: path, Code: code, Message: message}}}
}

// Rejectf is [Reject] with a formatted message.
func Rejectf(path, code, format string, args ...any) error {
	return Reject(path, code, fmt.Sprintf(format, args...))
}

// AsRejection reports whether err is or wraps a [*Rejection] and returns it.
func AsRejection(err error) (*Rejection, bool) {
	var r *Rejection
	if errors.As(err, &r) && r != nil {
		return r, true
	}
	return nil, false
}

// Errors accumulates field errors so a validator can report every problem at
// once. The zero value is ready to use.
//
//	var errs ron.Errors
//	if n.Title == "" { errs.Add("notes.title", ron.CodeRequired, "a title is required") }
//	...
//	if err := errs.Err(); err != nil { return ron.ValidateOutput{}, err }
type Errors struct {
	list []FieldError
}

// Add records a field error.
func (e *Errors) Add(path, code, message string) {
	e.list = append(e.list, FieldError{Path: path, Code: code, Message: message})
}

// Addf records a field error with a formatted message.
func (e *Errors) Addf(path, code, format string, args ...any) {
	e.Add(path, code, fmt.Sprintf(format, args...))
}

// AddErr records err: the field errors of a [*Rejection], or one field error
// at path with code [CodeInvalid] for any other error. A nil err is ignored.
func (e *Errors) AddErr(path string, err error) {
	if err == nil {
		return
	}
	if r, ok := AsRejection(err); ok {
		e.list = append(e.list, r.Errors...)
		return
	}
	e.Add(path, CodeInvalid, err.Error())
}

// Len is the number of recorded errors.
func (e *Errors) Len() int { return len(e.list) }

// Err returns nil when nothing was recorded, else a [*Rejection] holding the
// errors sorted by (path, code, message), so the output does not depend on
// the order they were found in (map iteration, for instance).
func (e *Errors) Err() error {
	if len(e.list) == 0 {
		return nil
	}
	list := append([]FieldError(nil), e.list...)
	sortFieldErrors(list)
	return &Rejection{Errors: list}
}

func sortFieldErrors(list []FieldError) {
	slices.SortStableFunc(list, func(a, b FieldError) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Code, b.Code), cmp.Compare(a.Message, b.Message))
	})
}
