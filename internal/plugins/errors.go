package plugins

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors callers test with errors.Is.
var (
	ErrModuleTooLarge = errors.New("plugins: module too large")
	ErrInvalidModule  = errors.New("plugins: invalid WebAssembly module")
	// ErrModuleLimit: the module is over one of the compile limits of
	// docs/ABI.md §1 (br_table targets, function size, locals, ...); it
	// comes with ErrInvalidModule.
	ErrModuleLimit = errors.New("plugins: module over a compile limit")
	// ErrOutOfFuel: a call spent its entry point's fuel budget (a timeout
	// fault; the same on every machine).
	ErrOutOfFuel = errors.New("plugins: out of fuel")
	// ErrWallClock: a call passed the wall-clock safety net (a timeout
	// fault that depends on the machine: it was stalled, or the budgets
	// are set far above the ABI's).
	ErrWallClock       = errors.New("plugins: past the wall-clock safety net")
	ErrForbiddenImport = errors.New("plugins: forbidden import")
	ErrNoABI           = errors.New("plugins: no supported ABI marker")
	ErrMissingExport   = errors.New("plugins: missing export")
	ErrBadDescribe     = errors.New("plugins: bad describe output")
	// ErrLoad: the plugin registered for a TLD could not be loaded (it does
	// not compile, or its describe fails or names another TLD); it comes
	// with the cause. Calls for that TLD fail with it for a while
	// (Config.QuarantineFor), without loading again.
	ErrLoad            = errors.New("plugins: the plugin could not be loaded")
	ErrFault           = errors.New("plugins: plugin fault")
	ErrContentFault    = errors.New("plugins: the plugin faults on this content")
	ErrRejected        = errors.New("plugins: rejected by plugin")
	ErrQuarantined     = errors.New("plugins: plugin quarantined")
	ErrClosed          = errors.New("plugins: plugin closed")
	ErrInputTooLarge   = errors.New("plugins: input too large")
	ErrUnknownTLD      = errors.New("plugins: unknown TLD")
	ErrTLDMismatch     = errors.New("plugins: TLD mismatch")
	ErrNotSupported    = errors.New("plugins: entry point not supported by plugin")
	ErrUnsigned        = errors.New("plugins: plugin is not signed")
	ErrUntrusted       = errors.New("plugins: publisher not trusted")
	ErrBadSignature    = errors.New("plugins: bad signature")
	ErrReplacesBuiltin = errors.New("plugins: would replace a built-in plugin")
)

// SupportedABIs lists the ABI versions this host runs, by marker export.
var supportedABIs = []string{"ron_abi_v1"}

// ImportError names an import the host refuses.
type ImportError struct {
	Module, Name string
	Reason       string
}

func (e *ImportError) Error() string {
	return fmt.Sprintf("plugins: forbidden import %s.%s: %s", e.Module, e.Name, e.Reason)
}

func (e *ImportError) Unwrap() error { return ErrForbiddenImport }

// FaultKind classifies a plugin fault.
type FaultKind string

// The kinds of plugin fault.
const (
	FaultTrap           FaultKind = "trap"             // a WebAssembly trap or a bad pointer
	FaultTimeout        FaultKind = "timeout"          // the entry point's deadline passed
	FaultMemory         FaultKind = "memory"           // the memory cap was reached
	FaultExit           FaultKind = "exit"             // the module exited (e.g. a Go panic)
	FaultStatus         FaultKind = "status"           // a status code other than 0 or 1
	FaultOutputTooLarge FaultKind = "output-too-large" // output_set over the output cap
	FaultBadOutput      FaultKind = "bad-output"       // output that breaks the ABI (shape, money)
)

// FaultError is a plugin fault: the instance was discarded (or the output
// refused) and the call failed. Other calls and other plugins are unaffected.
type FaultError struct {
	Plugin string // the plugin's hash
	TLD    string
	Entry  Entry
	Kind   FaultKind
	Err    error
	// Content: the fault is attributed to what the call was about (its
	// manifest): that content is marked, the plugin serves other content.
	// errors.Is(err, ErrContentFault) tests it.
	Content bool
	// Since is set when the call did not run: its content was marked by
	// this fault at Since.
	Since time.Time
	// objectFailed: a payload read failed during the call, so the fault may
	// be the store's as much as the content's (see environmental).
	objectFailed bool
}

func (e *FaultError) Error() string {
	if !e.Since.IsZero() {
		return fmt.Sprintf("plugins: %s plugin %s: this content made it fault in %s at %s (%s: %v); it is not run again for a while",
			e.TLD, shortHash(e.Plugin), e.Entry, e.Since.UTC().Format(time.RFC3339), e.Kind, e.Err)
	}
	return fmt.Sprintf("plugins: %s plugin %s: %s fault in %s: %v", e.TLD, shortHash(e.Plugin), e.Kind, e.Entry, e.Err)
}

// Unwrap lets errors.Is match ErrFault (and ErrContentFault for a fault
// attributed to the content) and the underlying cause.
func (e *FaultError) Unwrap() []error {
	if e.Content {
		return []error{ErrFault, ErrContentFault, e.Err}
	}
	return []error{ErrFault, e.Err}
}

// FieldError is one reason a plugin rejected its input.
type FieldError struct {
	Path    string `json:"path"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// RejectedError carries the field errors of a status-1 answer.
type RejectedError struct {
	TLD    string
	Errors []FieldError
}

func (e *RejectedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "plugins: %s plugin rejected the input", e.TLD)
	for i, fe := range e.Errors {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Errors)-3)
			break
		}
		sep := ": "
		if i > 0 {
			sep = "; "
		}
		fmt.Fprintf(&b, "%s%s %s (%s)", sep, fe.Path, fe.Code, fe.Message)
	}
	return b.String()
}

func (e *RejectedError) Unwrap() error { return ErrRejected }

func shortHash(h string) string {
	if len(h) > 15 {
		return h[:15]
	}
	return h
}
