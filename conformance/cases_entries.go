package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/ronhost/ronhost/internal/plugins"
)

// Split and resolve cases: the case's manifest is validated first (a node
// splits and resolves only normalized manifests), then the entry point is
// called with the normalized manifest.

// normalizeCase validates the case's manifest and returns the normalized
// manifest, or a failed outcome.
func (s *suite) normalizeCase(ctx context.Context, path string, c *caseFile, payloadLen int64) (json.RawMessage, *outcome, error) {
	// The context's payload_size: the case's, else the manifest's [payload]
	// size (as the host sends), else the payload's length.
	size := s.payloadSize(c.Manifest)
	var declared struct {
		Payload struct {
			Size *uint64 `json:"size"`
		} `json:"payload"`
	}
	_ = json.Unmarshal(c.Manifest, &declared)
	switch {
	case c.PayloadSize != nil:
		size = *c.PayloadSize
	case declared.Payload.Size == nil && payloadLen >= 0:
		size = uint64(payloadLen)
	}
	in, err := s.validateInput(c.Manifest, size)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrBadCases, path, err)
	}
	pr := probe{entry: plugins.EntryValidate, label: filepath.Base(path) + " (validated first)", input: in}
	res, err := s.call(ctx, pr, false)
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	if err != nil {
		o := failf("ron_validate failed on the case's manifest: %s%s", faultText(err), inOnly(pr))
		return nil, &o, nil
	}
	if res.Status != 0 {
		o := failf("a %s case needs a manifest validate accepts, and validate rejected it: %s", c.Entry, show(res.Output))
		return nil, &o, nil
	}
	m, err := decodeObject(res.Output)
	if err != nil || m["manifest"] == nil {
		o := failf("ron_validate's output breaks ABI v1: %v%s", err, inOut(pr, res))
		return nil, &o, nil
	}
	return m["manifest"], nil, nil
}

// rejectionOf decodes a status-1 output's (path, code) pairs.
func rejectionOf(pr probe, res plugins.Result) ([]caseError, *outcome) {
	if err := checkRejection(res.Output); err != nil {
		o := failf("%v%s", err, inOut(pr, res))
		return nil, &o
	}
	var doc struct{ Errors []caseError }
	_ = json.Unmarshal(res.Output, &doc)
	return doc.Errors, nil
}

func (s *suite) runSplitCase(ctx context.Context, path string, c *caseFile) (outcome, error) {
	norm, o, err := s.normalizeCase(ctx, path, c, -1)
	if err != nil || o != nil {
		return deref(o), err
	}
	usage := c.Usage
	if usage == nil {
		usage = json.RawMessage(`{"requests":0,"bytes":0,"servers":[]}`)
	}
	epoch := c.Epoch
	if epoch == "" {
		epoch = "cases"
	}
	in, err := json.Marshal(map[string]any{"manifest": norm, "epoch": epoch, "amount": *c.Amount, "usage": usage})
	if err != nil {
		return outcome{}, fmt.Errorf("%w: %s: %v", ErrBadCases, path, err)
	}
	pr := probe{entry: plugins.EntrySplit, label: filepath.Base(path), input: in}
	res, err := s.call(ctx, pr, false)
	if ctx.Err() != nil {
		return outcome{}, ctx.Err()
	}
	if err != nil {
		return failf("ron_split failed: %s%s", faultText(err), inOnly(pr)), nil
	}
	var got caseExpect
	switch res.Status {
	case 0:
		var doc struct {
			Allocations []caseAlloc `json:"allocations"`
		}
		if err := json.Unmarshal(res.Output, &doc); err != nil {
			return failf("ron_split's output breaks ABI v1: %v%s", err, inOut(pr, res)), nil
		}
		if doc.Allocations == nil {
			doc.Allocations = []caseAlloc{}
		}
		sortAllocs(doc.Allocations)
		got.Allocations = &doc.Allocations
	case 1:
		var o *outcome
		if got.Errors, o = rejectionOf(pr, res); o != nil {
			return *o, nil
		}
	}
	if done, o, err := s.updateCase(path, c, &got, res, pr); done {
		return o, err
	}
	want := c.Expect
	switch {
	case want.Allocations != nil && res.Status != 0:
		return failf("expected allocations, but ron_split rejected the input: %s", show(res.Output)), nil
	case want.Allocations != nil:
		w := append([]caseAlloc(nil), *want.Allocations...)
		sortAllocs(w)
		if !slices.Equal(w, *got.Allocations) {
			return failf("the allocations differ (payee/role=amount)\n  want: %s\n  got:  %s", allocList(w), allocList(*got.Allocations)), nil
		}
	default:
		if o := compareErrors(want.Errors, got.Errors, res); o != nil {
			return *o, nil
		}
	}
	return passed(), nil
}

func (s *suite) runResolveCase(ctx context.Context, path string, c *caseFile) (outcome, error) {
	var payload []byte
	switch {
	case c.Payload != nil:
		payload = []byte(*c.Payload)
	case c.PayloadFile != "":
		b, err := os.ReadFile(filepath.Join(filepath.Dir(path), filepath.FromSlash(c.PayloadFile)))
		if err != nil {
			return outcome{}, fmt.Errorf("%w: %s: %w", ErrBadCases, path, err)
		}
		payload = b
	}
	norm, o, err := s.normalizeCase(ctx, path, c, int64(len(payload)))
	if err != nil || o != nil {
		return deref(o), err
	}
	size := uint64(len(payload))
	if c.PayloadSize != nil {
		size = *c.PayloadSize
	}
	in, err := json.Marshal(map[string]any{"manifest": norm, "path": *c.Path, "payload_size": size})
	if err != nil {
		return outcome{}, fmt.Errorf("%w: %s: %v", ErrBadCases, path, err)
	}
	pr := probe{entry: plugins.EntryResolve, label: filepath.Base(path), input: in}
	res, err := s.callWithObject(ctx, pr, bytes.NewReader(payload))
	if ctx.Err() != nil {
		return outcome{}, ctx.Err()
	}
	if err != nil {
		return failf("ron_resolve failed: %s%s", faultText(err), inOnly(pr)), nil
	}
	var got caseExpect
	switch res.Status {
	case 0:
		if _, err := decodeObject(res.Output); err != nil {
			return failf("ron_resolve's output breaks ABI v1: %v%s", err, inOut(pr, res)), nil
		}
		got.Resolved = compact(res.Output)
	case 1:
		var o *outcome
		if got.Errors, o = rejectionOf(pr, res); o != nil {
			return *o, nil
		}
	}
	if done, o, err := s.updateCase(path, c, &got, res, pr); done {
		return o, err
	}
	want := c.Expect
	switch {
	case want.Resolved != nil && res.Status != 0:
		return failf("expected an answer, but ron_resolve rejected the input: %s", show(res.Output)), nil
	case want.Resolved != nil && !jsonEqual(want.Resolved, got.Resolved):
		return failf("the answer differs\n  want: %s\n  got:  %s", show(compact(want.Resolved)), show(got.Resolved)), nil
	case want.Errors != nil:
		if o := compareErrors(want.Errors, got.Errors, res); o != nil {
			return *o, nil
		}
	}
	return passed(), nil
}

// updateCase writes what the plugin answered as the case's expectation in
// Update mode (done), or fails a case without one.
func (s *suite) updateCase(path string, c *caseFile, got *caseExpect, res plugins.Result, pr probe) (bool, outcome, error) {
	if s.opts.Update {
		c.Expect = got
		if err := writeCase(path, c); err != nil {
			return true, outcome{}, err
		}
		return true, passf("updated %s", path), nil
	}
	if c.Expect == nil {
		return true, failf("the case has no \"expect\"; run with Update (ronhost plugin test --update, or Options.Update) to record what the plugin answers:%s", inOut(pr, res)), nil
	}
	return false, outcome{}, nil
}

// compareErrors fails unless a rejection lists exactly the expected
// (path, code) pairs.
func compareErrors(want, got []caseError, res plugins.Result) *outcome {
	if res.Status != 1 {
		o := failf("expected a rejection with %s, but the plugin answered: %s", errList(want), show(res.Output))
		return &o
	}
	if !slices.Equal(errList(want), errList(got)) {
		o := failf("the rejection's errors differ (path:code)\n  want: %s\n  got:  %s\n  output: %s", strings.Join(errList(want), ", "), strings.Join(errList(got), ", "), show(res.Output))
		return &o
	}
	return nil
}

func sortAllocs(as []caseAlloc) {
	sort.Slice(as, func(i, j int) bool {
		if as[i].Payee != as[j].Payee {
			return as[i].Payee < as[j].Payee
		}
		if as[i].Role != as[j].Role {
			return as[i].Role < as[j].Role
		}
		return as[i].Amount < as[j].Amount
	})
}

func allocList(as []caseAlloc) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.String()
	}
	return strings.Join(parts, ", ")
}

func deref(o *outcome) outcome {
	if o == nil {
		return outcome{}
	}
	return *o
}

// callWithObject runs a resolve probe in the pooled instance with a payload
// and records it like s.call.
func (s *suite) callWithObject(ctx context.Context, pr probe, obj io.ReaderAt) (plugins.Result, error) {
	res, err := s.p.Invoke(ctx, pr.entry, pr.input, plugins.CallOptions{Object: obj})
	if err != nil && ctx.Err() != nil {
		return res, ctx.Err()
	}
	if errors.Is(err, plugins.ErrWallClock) {
		s.stalls++
	}
	rec := callRecord{entry: pr.entry, label: pr.label, input: pr.input, res: res}
	var fe *plugins.FaultError
	if errors.As(err, &fe) {
		rec.fault = fe
	} else if err != nil {
		rec.fault = &plugins.FaultError{Entry: pr.entry, Kind: "host", Err: err}
		err = rec.fault
	}
	s.calls = append(s.calls, rec)
	return res, err
}
