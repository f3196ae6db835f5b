package pluginsvc

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/manifest"
	"github.com/ronhost/ronhost/internal/core/store"
	"github.com/ronhost/ronhost/internal/plugins"
)

// Objects is the part of the store the plugins role reads: a manifest, and
// a plugin's reads of a payload (verified by the store).
type Objects interface {
	Info(ctx context.Context, c cid.CID) (store.Object, error)
	ReadRange(ctx context.Context, c cid.CID, off, length int64) (io.ReadCloser, error)
	Get(ctx context.Context, c cid.CID) (io.ReadCloser, error)
}

// Service is the plugins role on a bus. Every field is required.
type Service struct {
	Router  *plugins.Router
	Objects Objects
	List    func() any               // the plugins.list reply's plugins
	Emit    func(kind string, v any) // events (plugin.faulted); logs its own failures
	Blocked func(tld string) string  // why tld has no plugin, when a registry revoked it ("" otherwise)
}

// manifestOf reads a stored canonical manifest, checked against its CID.
func (s *Service) manifestOf(ctx context.Context, c cid.CID) (*manifest.Manifest, error) {
	info, err := s.Objects.Info(ctx, c)
	if err != nil {
		return nil, err
	}
	if info.Size > manifest.MaxSize {
		return nil, bus.Errorf(codes.Invalid, "%s is not a manifest", c)
	}
	rc, err := s.Objects.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, manifest.MaxSize+1))
	if err != nil {
		return nil, err
	}
	// Over the bus (store.read), the bytes are the store role's word:
	// they must be the object c names.
	if cid.Sum(b) != c {
		return nil, bus.Errorf(codes.Internal, "the store answered for the manifest %s bytes that do not hash to it", c)
	}
	return manifest.ParseJSON(b)
}

// Endpoints are the plugins role's verbs.
func (s *Service) Endpoints() []bus.Endpoint {
	return []bus.Endpoint{
		bus.Handle(contract.PluginsList, func(ctx context.Context, _ contract.Empty) (contract.PluginList, error) {
			ps, err := json.Marshal(s.List())
			return contract.PluginList{Plugins: ps}, err
		}),
		bus.Handle(contract.PluginsValidate, func(ctx context.Context, r contract.ValidateReq) (contract.Validated, error) {
			if r.PayloadSize < 0 {
				return contract.Validated{}, bus.Errorf(codes.Invalid, "payload_size is negative")
			}
			v, err := s.Router.Validate(ctx, r.TLD, r.Manifest, uint64(r.PayloadSize))
			if err != nil {
				return contract.Validated{}, s.pluginError(r.TLD, err)
			}
			return contract.Validated(*v), nil
		}),
		bus.Handle(contract.PluginsResolve, func(ctx context.Context, r contract.ResolveReq) (contract.Resolved, error) {
			m, err := s.manifestOf(ctx, r.Manifest)
			if err != nil {
				return contract.Resolved{}, err
			}
			obj := &objectReader{ctx: ctx, s: s.Objects, c: m.Payload.CID, size: m.Payload.Size}
			res, err := s.Router.Resolve(ctx, m.Meta.TLD, plugins.ResolveInput{Manifest: m.Canonical(),
				Path: r.Path, PayloadSize: uint64(m.Payload.Size)}, obj)
			if err != nil {
				return contract.Resolved{}, s.pluginError(m.Meta.TLD, err)
			}
			return contract.Resolved{Status: res.Status, ContentType: res.ContentType, Offset: int64(res.Offset), Length: int64(res.Length)}, nil
		}),
		bus.Handle(contract.PluginsSplit, func(ctx context.Context, r contract.SplitReq) (contract.Allocations, error) {
			m, err := s.manifestOf(ctx, r.Manifest)
			if err != nil {
				return contract.Allocations{}, err
			}
			u := plugins.Usage{Requests: r.Usage.Requests, Bytes: r.Usage.Bytes, Servers: make([]plugins.Server, 0, len(r.Usage.Servers))}
			for _, s := range r.Usage.Servers {
				u.Servers = append(u.Servers, plugins.Server(s))
			}
			allocs, err := s.Router.Split(ctx, m.Meta.TLD, plugins.SplitInput{Manifest: m.Canonical(),
				Epoch: r.Epoch, Amount: r.Amount, Usage: u})
			if err != nil {
				return contract.Allocations{}, s.pluginError(m.Meta.TLD, err)
			}
			out := contract.Allocations{Allocations: make([]contract.Allocation, 0, len(allocs))}
			for _, a := range allocs {
				out.Allocations = append(out.Allocations, contract.Allocation(a))
			}
			return out, nil
		}),
	}
}

// objectReader gives a plugin's ron_resolve random access to a payload,
// verified by the store.
type objectReader struct {
	ctx  context.Context
	s    Objects
	c    cid.CID
	size int64
}

func (o *objectReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= o.size {
		return 0, io.EOF
	}
	n := int64(len(p))
	if off+n > o.size {
		n = o.size - off
	}
	rc, err := o.s.ReadRange(o.ctx, o.c, off, n)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	got, err := io.ReadFull(rc, p[:n])
	if err == nil && got < len(p) {
		err = io.EOF
	}
	return got, err
}

// pluginError maps the plugin host's errors (Err), reports faults on the
// bus, and says why a TLD whose plugin is blocked has none.
func (s *Service) pluginError(tld string, err error) error {
	var fault *plugins.FaultError
	if errors.As(err, &fault) && fault.Since.IsZero() { // a call that ran and faulted, not one refused for marked content
		s.Emit(bus.KindPluginFaulted, bus.PluginFaulted{TLD: tld, Plugin: fault.Plugin, Entry: string(fault.Entry),
			Kind: string(fault.Kind), Message: fault.Error()})
	}
	if errors.Is(err, plugins.ErrUnknownTLD) {
		if why := s.Blocked(tld); why != "" {
			return bus.Errorf(codes.Unavailable, "%s", why)
		}
	}
	return Err(tld, err)
}

// Err maps an error of the plugin host, from a call to the plugin that owns
// tld, to the node's codes: a rejection with its field errors, a fault on
// the content or on the plugin, no plugin, a plugin out of service, an input
// over the limits. Other errors are returned as they are. The CLI's offline
// commands use it too, so they answer as a node does.
func Err(tld string, err error) error {
	var rej *plugins.RejectedError
	var fault *plugins.FaultError
	switch {
	case errors.Is(err, plugins.ErrLoad):
		// The module does not load (it should have been checked at
		// install): the TLD is unavailable on this node, not the content.
		return bus.Errorf(codes.Unavailable, "%v", err)
	case errors.As(err, &rej):
		b, _ := json.Marshal(rej.Errors)
		e := bus.Errorf(codes.Rejected, "the .%s plugin rejected the manifest", tld)
		e.Errors = b
		return e
	case errors.As(err, &fault) && fault.Content:
		return bus.Errorf(codes.ContentFault, "%v", err)
	case errors.As(err, &fault):
		return bus.Errorf(codes.PluginFault, "%v", err)
	case errors.Is(err, plugins.ErrUnknownTLD):
		return bus.Errorf(codes.NotFound, "no plugin owns .%s on this node", tld)
	case errors.Is(err, plugins.ErrNotSupported):
		return bus.Errorf(codes.NotFound, "the .%s plugin serves no sub-paths", tld)
	case errors.Is(err, plugins.ErrQuarantined), errors.Is(err, plugins.ErrClosed):
		return bus.Errorf(codes.Unavailable, "%v", err)
	case errors.Is(err, plugins.ErrInputTooLarge):
		return bus.Errorf(codes.TooLarge, "%v", err)
	}
	return err
}
