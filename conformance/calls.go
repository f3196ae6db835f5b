package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ronhost/ronhost/internal/plugins"
)

// probe is one input the suite sends, with a label that tells the author
// which input it was without dumping all of it.
type probe struct {
	entry  plugins.Entry
	label  string
	input  []byte
	strict bool // validate probes: status 1 required (else: only no fault)
}

// callRecord is what the limits checks need of every call.
type callRecord struct {
	entry   plugins.Entry
	label   string
	input   []byte
	fresh   bool
	res     plugins.Result
	fault   *plugins.FaultError
	elapsed time.Duration
	wall    bool // elapsed is wall time around a typed host call, not the host's measure
}

// errSkipProbe marks a probe the host would not run (an input over a
// tighter InputBytes limit): it tests nothing and is left out.
var errSkipProbe = errors.New("conformance: input over the host's limit")

// call runs one probe in the pooled instance (fresh=false) or in a new one,
// and records it. The error is a fault (*plugins.FaultError), errSkipProbe,
// or the context's error.
//
// Time is judged by fuel, the same on every machine (ABI v1.1). Only a call
// stopped by the host's wall-clock safety net, which a stalled machine can
// reach, is retried once; limits.time reports retries. Such a stop is
// counted (s.stalls), and Run redoes the run: the stopped call's instance
// was discarded, so the calls after it ran in an instance with another
// history, and their fuel and memory are not the module's alone.
func (s *suite) call(ctx context.Context, pr probe, fresh bool) (plugins.Result, error) {
	do := func() (plugins.Result, error) {
		if fresh {
			return s.p.CallFresh(ctx, pr.entry, pr.input)
		}
		return s.p.Call(ctx, pr.entry, pr.input)
	}
	var res plugins.Result
	var err error
	if s.stall != nil && s.stall(len(s.calls)) {
		res, err = s.stalled(ctx, pr, fresh)
	} else {
		res, err = do()
	}
	var first *plugins.FaultError
	if errors.As(err, &first) && errors.Is(err, plugins.ErrWallClock) && ctx.Err() == nil {
		s.stalls++
		res, err = do()
		if err == nil {
			s.retried = append(s.retried, callRecord{entry: pr.entry, label: pr.label, input: pr.input, fresh: fresh, res: res, elapsed: res.Elapsed, fault: first})
		}
	}
	if err != nil && ctx.Err() != nil {
		return res, ctx.Err()
	}
	if errors.Is(err, plugins.ErrInputTooLarge) {
		return res, errSkipProbe
	}
	rec := callRecord{entry: pr.entry, label: pr.label, input: pr.input, fresh: fresh, res: res, elapsed: res.Elapsed}
	var fe *plugins.FaultError
	if errors.As(err, &fe) {
		rec.fault = fe
	} else if err != nil {
		// Quarantine or a closed plugin: the suite cannot go on testing
		// this plugin, which is a failure of the check in progress.
		rec.fault = &plugins.FaultError{Entry: pr.entry, Kind: "host", Err: err}
		err = rec.fault
	}
	s.calls = append(s.calls, rec)
	return res, err
}

// faultText describes a failed call for a message.
func faultText(err error) string {
	var fe *plugins.FaultError
	if errors.As(err, &fe) {
		if fe.Kind == "host" {
			return fe.Err.Error()
		}
		return fmt.Sprintf("%s fault in %s: %v", fe.Kind, fe.Entry, fe.Err)
	}
	return err.Error()
}

// show renders bytes for a message: at most about 300 characters, invalid
// UTF-8 and control characters escaped, and the full length when trimmed.
func show(b []byte) string {
	const head, tail = 220, 60
	var sb strings.Builder
	if len(b) > head+tail+20 {
		esc(&sb, b[:head])
		fmt.Fprintf(&sb, " …[%d bytes]… ", len(b)-head-tail)
		esc(&sb, b[len(b)-tail:])
		return sb.String()
	}
	esc(&sb, b)
	if sb.Len() == 0 {
		return "(empty)"
	}
	return sb.String()
}

func esc(sb *strings.Builder, b []byte) {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(sb, `\x%02x`, b[0])
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(sb, `\x%02x`, r)
		default:
			sb.Write(b[:n])
		}
		b = b[n:]
	}
}

// inOut is the "input/output" part of most failure messages.
func inOut(pr probe, res plugins.Result) string {
	return fmt.Sprintf("\n  input (%s): %s\n  output: %s", pr.label, show(pr.input), show(res.Output))
}

func inOnly(pr probe) string {
	return fmt.Sprintf("\n  input (%s): %s", pr.label, show(pr.input))
}

// jsonEqual reports whether a and b are the same JSON value (object key
// order and insignificant whitespace aside; numbers compared as written).
func jsonEqual(a, b []byte) bool {
	va, err1 := decodeValue(a)
	vb, err2 := decodeValue(b)
	return err1 == nil && err2 == nil && reflect.DeepEqual(va, vb)
}

// decodeValue decodes one JSON value with numbers kept as json.Number and
// rejects trailing data.
func decodeValue(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

// decodeObject decodes a JSON object into its members.
func decodeObject(b []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("not valid UTF-8")
	}
	if _, err := decodeValue(b); err != nil {
		return nil, err
	}
	t := bytes.TrimSpace(b)
	if len(t) == 0 || t[0] != '{' {
		return nil, errors.New("not a JSON object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(t, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func isJSONObject(b json.RawMessage) bool {
	t := bytes.TrimSpace(b)
	return len(t) > 0 && t[0] == '{'
}

// checkRejection checks the output of a status-1 answer:
// {"errors":[{"path":"...","code":"...","message":"..."}...]} with at least
// one error and a non-empty code in each.
func checkRejection(out []byte) error {
	var doc struct {
		Errors []struct {
			Path    *string `json:"path"`
			Code    *string `json:"code"`
			Message *string `json:"message"`
		} `json:"errors"`
	}
	m, err := decodeObject(out)
	if err != nil {
		return fmt.Errorf(`a rejection's output must be {"errors":[{"path","code","message"}...]}: %v`, err)
	}
	if _, ok := m["errors"]; !ok {
		return errors.New(`a rejection's output must be {"errors":[...]}: no "errors" member`)
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return fmt.Errorf(`a rejection's output must be {"errors":[{"path","code","message"}...]}: %v`, err)
	}
	if len(doc.Errors) == 0 {
		return errors.New(`a rejection must list at least one error in "errors"`)
	}
	for i, e := range doc.Errors {
		switch {
		case e.Path == nil:
			return fmt.Errorf(`errors[%d] has no "path" (use "" for the whole input)`, i)
		case e.Code == nil || *e.Code == "":
			return fmt.Errorf(`errors[%d] has no "code" (a short machine-readable word such as "range" or "type")`, i)
		case e.Message == nil:
			return fmt.Errorf(`errors[%d] has no "message"`, i)
		}
	}
	return nil
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// validateInput builds the input of ron_validate.
func (s *suite) validateInput(manifest json.RawMessage, payloadSize uint64) ([]byte, error) {
	return json.Marshal(struct {
		Manifest json.RawMessage `json:"manifest"`
		Context  struct {
			TLD         string `json:"tld"`
			PayloadSize uint64 `json:"payload_size"`
		} `json:"context"`
	}{Manifest: manifest, Context: struct {
		TLD         string `json:"tld"`
		PayloadSize uint64 `json:"payload_size"`
	}{s.p.Info().TLD, payloadSize}})
}

// payloadSize is the payload_size to validate manifest with: its
// [payload] size when it has one (as the host does), else the default.
func (s *suite) payloadSize(manifest []byte) uint64 {
	var m struct {
		Payload struct {
			Size *uint64 `json:"size"`
		} `json:"payload"`
	}
	if json.Unmarshal(manifest, &m) == nil && m.Payload.Size != nil {
		return *m.Payload.Size
	}
	return s.opts.PayloadSize
}

// baseSize is the payload_size of baseManifest.
func (s *suite) baseSize() uint64 {
	if len(s.examples) > 0 {
		return s.examples[0].size
	}
	return s.payloadSize(s.baseManifest())
}

// validateRaw builds a validate input around manifest bytes spliced in as
// they are (for garbage that json.Marshal would refuse).
func (s *suite) validateRaw(manifest []byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"manifest":`)
	b.Write(manifest)
	fmt.Fprintf(&b, `,"context":{"tld":%q,"payload_size":%d}}`, s.p.Info().TLD, s.baseSize())
	return b.Bytes()
}

// stalled is what a call stopped by the host's wall-clock safety net gives,
// without waiting for one: a pooled call's instance is discarded, as the
// host discards the instance of any faulted call (Plugin.ReleaseAll: the
// suite makes one call at a time, so the pooled instance is idle), and the
// answer is a timeout fault. Only tests make calls stall (suite.stall).
func (s *suite) stalled(ctx context.Context, pr probe, fresh bool) (plugins.Result, error) {
	if !fresh {
		s.p.ReleaseAll(ctx)
	}
	return plugins.Result{}, &plugins.FaultError{Plugin: s.p.Hash(), TLD: s.p.Info().TLD, Entry: pr.entry, Kind: plugins.FaultTimeout,
		Err: fmt.Errorf("%w: injected by a test", plugins.ErrWallClock)}
}
