package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/ronhost/ronhost/internal/plugins"
)

// PluginCaller runs raw ABI calls on a plugin loaded in the real host. It
// satisfies the Go SDK's rontest.Caller, so a plugin author's native tests
// (rontest.CheckPlugin and their own) run unchanged against the built .wasm:
//
//	wasm := wasmbuild.ForTest(t, ".")
//	c, err := conformance.LoadCaller(t.Context(), wasm, conformance.Options{})
//	if err != nil { t.Fatal(err) }
//	defer c.Close(context.Background())
//	rontest.CheckPlugin(t, c)
type PluginCaller struct {
	p *plugins.Plugin
	// Fresh runs every call in a brand-new instance (Plugin.CallFresh)
	// instead of the pool.
	Fresh bool
	// close frees what LoadCaller created; nil for Caller.
	close func(context.Context) error
}

// Caller adapts a loaded plugin. Status 0 and 1 come back as they are; a
// fault, a quarantined or closed plugin or an input over the limit is the
// error. The caller's host decides memoization: load the plugin in a host
// with MemoEntries < 0 to see every call reach the module.
func Caller(p *plugins.Plugin) *PluginCaller { return &PluginCaller{p: p} }

// LoadCaller loads wasm in a host of its own configured as Run's (no memo,
// one pooled instance, opts' limits and logger) and adapts it. Close it.
func LoadCaller(ctx context.Context, wasm []byte, opts Options) (*PluginCaller, error) {
	s := newSuite(wasm, opts)
	h := s.newHost()
	p, err := h.Load(ctx, wasm)
	if err != nil {
		_ = h.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("conformance: loading the plugin: %w", err)
	}
	return &PluginCaller{p: p, close: func(ctx context.Context) error {
		return errors.Join(p.Close(ctx), h.Close(ctx))
	}}, nil
}

// Plugin returns the adapted plugin.
func (c *PluginCaller) Plugin() *plugins.Plugin { return c.p }

// Close frees the host LoadCaller made; for Caller it does nothing (the
// plugin belongs to whoever loaded it).
func (c *PluginCaller) Close(ctx context.Context) error {
	if c.close == nil {
		return nil
	}
	return c.close(ctx)
}

// Call runs entry on input. obj is the payload of ron_resolve and must be
// nil for the other entry points.
func (c *PluginCaller) Call(ctx context.Context, entry string, input []byte, obj io.ReaderAt) (int32, []byte, error) {
	e := plugins.Entry(entry)
	if e == plugins.EntryResolve && obj == nil {
		obj = emptyObject{}
	}
	if e != plugins.EntryResolve && obj != nil {
		return 0, nil, fmt.Errorf("conformance: %s takes no payload object", entry)
	}
	res, err := c.p.Invoke(ctx, e, input, plugins.CallOptions{Object: obj, Fresh: c.Fresh})
	if errors.Is(err, plugins.ErrNotSupported) {
		// A module without ron_resolve: answer as the SDK's dispatcher does
		// for a plugin that does not resolve.
		out, _ := json.Marshal(map[string]any{"errors": []plugins.FieldError{{Path: "", Code: "unsupported", Message: "this plugin does not resolve paths"}}})
		return 1, out, nil
	}
	if err != nil {
		return 0, nil, err
	}
	return res.Status, res.Output, nil
}

type emptyObject struct{}

func (emptyObject) ReadAt([]byte, int64) (int, error) { return 0, io.EOF }
