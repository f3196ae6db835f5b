package rontest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	ron "github.com/ronhost/ronhost/sdk-wasm"
)

// Caller runs one ABI call: entry is an export name (ron.EntryValidate...),
// input the input document, obj the payload for ron_resolve (nil otherwise).
// status and output are what the plugin returned; err is reserved for the
// caller failing to make the call at all (a cancelled context, a fault in a
// real host), never for status 1.
type Caller interface {
	Call(ctx context.Context, entry string, input []byte, obj io.ReaderAt) (status int32, output []byte, err error)
}

// Host is the native fake host. The zero value is not usable; call New.
type Host struct {
	*Client
	plugin ron.Plugin
}

// New returns a fake host running p.
func New(p ron.Plugin) *Host {
	h := &Host{plugin: p}
	h.Client = Use(h)
	return h
}

// Call runs ron.Dispatch on a private copy of input. It returns ctx.Err() if
// ctx is already done.
func (h *Host) Call(ctx context.Context, entry string, input []byte, obj io.ReaderAt) (int32, []byte, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	status, out := ron.Dispatch(h.plugin, entry, append([]byte(nil), input...), obj)
	return status, out, nil
}

// StatusError is returned by the typed helpers for a status other than 0
// and 1 (a plugin fault).
type StatusError struct {
	Entry  string
	Status int32
	Output []byte
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("rontest: %s returned status %d: %s", e.Entry, e.Status, e.Output)
}

// Client makes typed calls through any Caller.
type Client struct {
	Caller Caller
	// Host is sent in ron_describe's input.
	Host ron.HostInfo
}

// Use returns a Client over c.
func Use(c Caller) *Client {
	return &Client{Caller: c, Host: ron.HostInfo{Name: "rontest", Version: "0"}}
}

// CallJSON encodes in, calls entry, and decodes a status 0 output into out.
// Status 1 is returned as a *ron.Rejection, other statuses as *StatusError.
func (c *Client) CallJSON(ctx context.Context, entry string, in any, obj io.ReaderAt, out any) error {
	input, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("rontest: encoding %s input: %w", entry, err)
	}
	status, output, err := c.Caller.Call(ctx, entry, input, obj)
	if err != nil {
		return err
	}
	return decodeResult(entry, status, output, out)
}

func decodeResult(entry string, status int32, output []byte, out any) error {
	switch status {
	case ron.StatusOK:
		if err := json.Unmarshal(output, out); err != nil {
			return fmt.Errorf("rontest: %s output %q: %w", entry, output, err)
		}
		return nil
	case ron.StatusRejected:
		var r ron.Rejection
		if err := json.Unmarshal(output, &r); err != nil {
			return fmt.Errorf("rontest: %s rejection %q: %w", entry, output, err)
		}
		return &r
	}
	return &StatusError{Entry: entry, Status: status, Output: output}
}

// Describe calls ron_describe.
func (c *Client) Describe(ctx context.Context) (ron.Description, error) {
	var d ron.Description
	err := c.CallJSON(ctx, ron.EntryDescribe, ron.DescribeInput{ABI: ron.ABIVersion, Host: c.Host}, nil, &d)
	return d, err
}

// Validate calls ron_validate.
func (c *Client) Validate(ctx context.Context, m *ron.Manifest, vc ron.Context) (ron.ValidateOutput, error) {
	var out ron.ValidateOutput
	err := c.CallJSON(ctx, ron.EntryValidate, ron.ValidateInput{Manifest: m, Context: vc}, nil, &out)
	return out, err
}

// Split calls ron_split.
func (c *Client) Split(ctx context.Context, in ron.SplitInput) ([]ron.Allocation, error) {
	var out ron.SplitOutput
	err := c.CallJSON(ctx, ron.EntrySplit, in, nil, &out)
	return out.Allocations, err
}

// Resolve calls ron_resolve with obj as the payload.
func (c *Client) Resolve(ctx context.Context, in ron.ResolveInput, obj io.ReaderAt) (ron.ResolveOutput, error) {
	var out ron.ResolveOutput
	err := c.CallJSON(ctx, ron.EntryResolve, in, obj, &out)
	return out, err
}
