package node

import (
	"context"
	"encoding/json"
	"errors"
	"io"

	"github.com/ronhost/ronhost/bus"
	"github.com/ronhost/ronhost/bus/contract"
	"github.com/ronhost/ronhost/core/cid"
	"github.com/ronhost/ronhost/core/manifest"
	"github.com/ronhost/ronhost/core/store"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/plugins"
)

// The roles' services on the bus. Each handler decodes its request, calls
// the role's package and maps that package's errors to the bus's codes
// (roleError); docs/BUS.md is the contract.

func (n *Node) storeService() []bus.Endpoint {
	return append([]bus.Endpoint{
		bus.Handle(contract.StoreInfo, func(ctx context.Context, r contract.CID) (contract.ObjectInfo, error) {
			o, err := n.store.Info(ctx, r.CID)
			if err != nil {
				return contract.ObjectInfo{}, roleError(err)
			}
			return contract.ObjectInfo{CID: o.CID, Size: o.Size, Inline: o.Inline, Pinned: o.Pinned}, nil
		}),
		bus.Handle(contract.StoreStat, func(ctx context.Context, _ contract.Empty) (contract.StoreUsage, error) {
			u, err := n.store.Stat(ctx)
			return contract.StoreUsage(u), roleError(err)
		}),
		bus.Handle(contract.StorePin, func(ctx context.Context, r contract.CID) (contract.Empty, error) {
			if err := n.store.Pin(ctx, r.CID); err != nil {
				return contract.Empty{}, roleError(err)
			}
			n.provideRoots(ctx, r.CID)
			return contract.Empty{}, nil
		}),
		bus.Handle(contract.StoreUnpin, func(ctx context.Context, r contract.CID) (contract.Empty, error) {
			return contract.Empty{}, roleError(n.store.Unpin(ctx, r.CID))
		}),
		bus.Handle(contract.StoreGC, func(ctx context.Context, _ contract.Empty) (contract.GCResult, error) {
			res, err := n.store.GC(ctx)
			return contract.GCResult(res), roleError(err)
		}),
		bus.Handle(contract.StoreScrub, func(ctx context.Context, r contract.ScrubReq) (contract.ScrubReport, error) {
			rep, err := n.store.Scrub(ctx, store.ScrubOptions{Repair: r.Repair})
			if err != nil {
				return contract.ScrubReport{}, roleError(err)
			}
			out := contract.ScrubReport{Objects: rep.Objects, Bytes: rep.Bytes, Damage: []contract.Damage{}}
			for _, d := range rep.Damage {
				out.Damage = append(out.Damage, contract.Damage(d))
			}
			return out, nil
		}),
	}, n.macroStoreVerbs()...)
}

// manifestOf reads a stored canonical manifest, checked against its CID.
func (n *Node) manifestOf(ctx context.Context, c cid.CID) (*manifest.Manifest, error) {
	info, err := n.objs.Info(ctx, c)
	if err != nil {
		return nil, err
	}
	if info.Size > manifest.MaxSize {
		return nil, bus.Errorf(codes.Invalid, "%s is not a manifest", c)
	}
	rc, err := n.objs.Get(ctx, c)
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

func (n *Node) pluginsService() []bus.Endpoint {
	return []bus.Endpoint{
		bus.Handle(contract.PluginsList, func(ctx context.Context, _ contract.Empty) (contract.PluginList, error) {
			ps, err := json.Marshal(n.Plugins())
			return contract.PluginList{Plugins: ps}, err
		}),
		bus.Handle(contract.PluginsValidate, func(ctx context.Context, r contract.ValidateReq) (contract.Validated, error) {
			if r.PayloadSize < 0 {
				return contract.Validated{}, bus.Errorf(codes.Invalid, "payload_size is negative")
			}
			v, err := n.router.Validate(ctx, r.TLD, r.Manifest, uint64(r.PayloadSize))
			if err != nil {
				return contract.Validated{}, n.pluginError(r.TLD, err)
			}
			return contract.Validated(*v), nil
		}),
		bus.Handle(contract.PluginsResolve, func(ctx context.Context, r contract.ResolveReq) (contract.Resolved, error) {
			m, err := n.manifestOf(ctx, r.Manifest)
			if err != nil {
				return contract.Resolved{}, roleError(err)
			}
			obj := &objectReader{ctx: ctx, s: n.objs, c: m.Payload.CID, size: m.Payload.Size}
			res, err := n.router.Resolve(ctx, m.Meta.TLD, plugins.ResolveInput{Manifest: m.Canonical(),
				Path: r.Path, PayloadSize: uint64(m.Payload.Size)}, obj)
			if err != nil {
				return contract.Resolved{}, n.pluginError(m.Meta.TLD, err)
			}
			return contract.Resolved{Status: res.Status, ContentType: res.ContentType, Offset: int64(res.Offset), Length: int64(res.Length)}, nil
		}),
		bus.Handle(contract.PluginsSplit, func(ctx context.Context, r contract.SplitReq) (contract.Allocations, error) {
			m, err := n.manifestOf(ctx, r.Manifest)
			if err != nil {
				return contract.Allocations{}, roleError(err)
			}
			u := plugins.Usage{Requests: r.Usage.Requests, Bytes: r.Usage.Bytes, Servers: make([]plugins.Server, 0, len(r.Usage.Servers))}
			for _, s := range r.Usage.Servers {
				u.Servers = append(u.Servers, plugins.Server(s))
			}
			allocs, err := n.router.Split(ctx, m.Meta.TLD, plugins.SplitInput{Manifest: m.Canonical(),
				Epoch: r.Epoch, Amount: r.Amount, Usage: u})
			if err != nil {
				return contract.Allocations{}, n.pluginError(m.Meta.TLD, err)
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
	s    objectStore
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

// pluginError maps the plugin host's errors, and reports faults on the bus.
func (n *Node) pluginError(tld string, err error) error {
	var rej *plugins.RejectedError
	var fault *plugins.FaultError
	switch {
	case errors.As(err, &rej):
		b, _ := json.Marshal(rej.Errors)
		e := bus.Errorf(codes.Rejected, "the .%s plugin rejected the manifest", tld)
		e.Errors = b
		return e
	case errors.As(err, &fault):
		if fault.Since.IsZero() { // a call that ran and faulted, not one refused for marked content
			n.emit(bus.KindPluginFaulted, bus.PluginFaulted{TLD: tld, Plugin: fault.Plugin, Entry: string(fault.Entry),
				Kind: string(fault.Kind), Message: fault.Error()})
		}
		if fault.Content {
			return bus.Errorf(codes.ContentFault, "%v", err)
		}
		return bus.Errorf(codes.PluginFault, "%v", err)
	case errors.Is(err, plugins.ErrUnknownTLD):
		if why := n.blockedTLD(tld); why != "" {
			return bus.Errorf(codes.Unavailable, "%s", why)
		}
		return bus.Errorf(codes.NotFound, "no plugin owns .%s on this node", tld)
	case errors.Is(err, plugins.ErrNotSupported):
		return bus.Errorf(codes.NotFound, "the .%s plugin serves no sub-paths", tld)
	case errors.Is(err, plugins.ErrQuarantined), errors.Is(err, plugins.ErrClosed):
		return bus.Errorf(codes.Unavailable, "%v", err)
	case errors.Is(err, plugins.ErrInputTooLarge):
		return bus.Errorf(codes.TooLarge, "%v", err)
	}
	return roleError(err)
}

// roleError is the bus's error of a role's: a *bus.Error as it is, else
// with the code of the sentinel it wraps (bus.AsError, codes.Of), and a
// manifest's field errors.
func roleError(err error) error {
	if err == nil {
		return nil
	}
	return bus.AsError(err)
}

// objects is the store as the gateway and the index use it: every commit
// of a new object is reported on the bus.
type objects struct {
	*store.Store
	n *Node
}

// Put stores an object; a pinned one (a published manifest) is provided.
func (o objects) Put(ctx context.Context, r io.Reader, opts store.PutOptions) (store.PutResult, error) {
	res, err := o.Store.Put(ctx, r, opts)
	if err == nil && !res.Deduplicated {
		o.n.emit(bus.KindObjectStored, bus.ObjectStored{CID: res.CID.String(), Size: res.Size, Inline: res.Inline})
	}
	if err == nil && opts.Pin {
		o.n.provideRoots(ctx, res.CID)
	}
	return res, err
}

// Info, ReadRange and Get fetch an object the store lacks from the overlay
// (fetch.go) when the node is configured to.
func (o objects) Info(ctx context.Context, c cid.CID) (store.Object, error) {
	info, err := o.Store.Info(ctx, c)
	if errors.Is(err, store.ErrNotFound) && o.n.fetchOn() {
		return o.n.remoteInfo(ctx, c)
	}
	return info, err
}

func (o objects) ReadRange(ctx context.Context, c cid.CID, off, length int64) (io.ReadCloser, error) {
	rc, err := o.Store.ReadRange(ctx, c, off, length)
	if errors.Is(err, store.ErrNotFound) && o.n.fetchOn() {
		return o.n.remoteRange(ctx, c, off, length)
	}
	return rc, err
}

// Outboard returns c's outboard, from the fetch that brings it when the
// store lacks it.
func (o objects) Outboard(ctx context.Context, c cid.CID) (int64, []byte, error) {
	size, ob, err := o.Store.Outboard(ctx, c)
	if errors.Is(err, store.ErrNotFound) && o.n.fetchOn() {
		return o.n.remoteOutboard(ctx, c)
	}
	return size, ob, err
}

func (o objects) Get(ctx context.Context, c cid.CID) (io.ReadCloser, error) {
	return o.ReadRange(ctx, c, 0, -1)
}

// BusAPIVersion is the version of the roles' contract on the bus
// (docs/BUS.md), announced by every service through $SRV.
const BusAPIVersion = "1.0.0"
