package objects

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

// Objects is how the roles of a process reach objects.
type Objects interface {
	Info(ctx context.Context, c cid.CID) (store.Object, error)
	ReadRange(ctx context.Context, c cid.CID, off, length int64) (io.ReadCloser, error)
	Get(ctx context.Context, c cid.CID) (io.ReadCloser, error)
	Put(ctx context.Context, r io.Reader, o store.PutOptions) (store.PutResult, error)
}

// Store is the local store (*store.Store).
type Store interface {
	Info(ctx context.Context, c cid.CID) (store.Object, error)
	ReadRange(ctx context.Context, c cid.CID, off, length int64) (io.ReadCloser, error)
	Outboard(ctx context.Context, c cid.CID) (int64, []byte, error)
	Put(ctx context.Context, r io.Reader, o store.PutOptions) (store.PutResult, error)
}

// Fetcher brings an object the store lacks from peers
// (internal/core/fetch's Fetcher).
type Fetcher interface {
	Info(ctx context.Context, c cid.CID) (store.Object, error)
	ReadRange(ctx context.Context, c cid.CID, off, length int64) (io.ReadCloser, error)
	Outboard(ctx context.Context, c cid.CID) (int64, []byte, error)
}

// Caller makes a request of a role on the bus (*bus.Bus).
type Caller interface {
	Request(ctx context.Context, v bus.Spec, req, resp any) error
}

// Config is what the three kinds use. Local uses Store, Fetcher, Emit and
// Provide; Cache all; Bus uses Bus, Release and HoldSeconds.
type Config struct {
	Store Store
	// Fetcher returns the fetcher of missing objects, or nil when the node
	// does not fetch; it is asked at each miss.
	Fetcher func() Fetcher
	// Bus reaches the store role.
	Bus Caller
	// Emit reports events (object.stored); it logs its own failures.
	Emit func(kind string, v any)
	// Provide announces the roots of pinned objects.
	Provide func(ctx context.Context, pins ...cid.CID)
	// Release returns the release of a hold the store role keeps as lease
	// (best effort: it expires anyway).
	Release func(lease string) func()
	// HoldSeconds is a hold's duration as the bus carries it.
	HoldSeconds func(time.Duration) int64
	// Self is this process's address on the overlay (Peer and Addrs), from
	// which the store role fetches what the cache puts.
	Self func() contract.PeerAddr
}

// call is bus.Call over a Caller.
func call[Req, Resp any](ctx context.Context, b Caller, v bus.Verb[Req, Resp], req Req) (Resp, error) {
	var r Resp
	err := b.Request(ctx, v.Spec, req, &r)
	return r, err
}

// Local is the store as the gateway and the index use it: every commit of
// a new object is reported on the bus.
type Local struct{ cfg Config }

// NewLocal returns the objects of a process with the store role.
func NewLocal(cfg Config) *Local { return &Local{cfg} }

// Put stores an object; a pinned one (a published manifest) is provided.
func (o *Local) Put(ctx context.Context, r io.Reader, opts store.PutOptions) (store.PutResult, error) {
	res, err := o.cfg.Store.Put(ctx, r, opts)
	if err == nil && !res.Deduplicated {
		o.cfg.Emit(bus.KindObjectStored, bus.ObjectStored{CID: res.CID.String(), Size: res.Size, Inline: res.Inline})
	}
	if err == nil && opts.Pin {
		o.cfg.Provide(ctx, res.CID)
	}
	return res, err
}

// fetcher is the fetcher of a miss, or nil.
func (o *Local) fetcher() Fetcher {
	if o.cfg.Fetcher == nil {
		return nil
	}
	return o.cfg.Fetcher()
}

// Info, ReadRange and Get fetch an object the store lacks from the overlay
// (the fetcher) when the node is configured to.
func (o *Local) Info(ctx context.Context, c cid.CID) (store.Object, error) {
	info, err := o.cfg.Store.Info(ctx, c)
	if errors.Is(err, store.ErrNotFound) {
		if f := o.fetcher(); f != nil {
			return f.Info(ctx, c)
		}
	}
	return info, err
}

func (o *Local) ReadRange(ctx context.Context, c cid.CID, off, length int64) (io.ReadCloser, error) {
	rc, err := o.cfg.Store.ReadRange(ctx, c, off, length)
	if errors.Is(err, store.ErrNotFound) {
		if f := o.fetcher(); f != nil {
			return f.ReadRange(ctx, c, off, length)
		}
	}
	return rc, err
}

// Outboard returns c's outboard, from the fetch that brings it when the
// store lacks it.
func (o *Local) Outboard(ctx context.Context, c cid.CID) (int64, []byte, error) {
	size, ob, err := o.cfg.Store.Outboard(ctx, c)
	if errors.Is(err, store.ErrNotFound) {
		if f := o.fetcher(); f != nil {
			return f.Outboard(ctx, c)
		}
	}
	return size, ob, err
}

func (o *Local) Get(ctx context.Context, c cid.CID) (io.ReadCloser, error) {
	return o.ReadRange(ctx, c, 0, -1)
}

// Bus reaches the store role over the bus, for small objects only.
type Bus struct{ cfg Config }

// NewBus returns the objects of a process without the store role or the
// gateway.
func NewBus(cfg Config) *Bus { return &Bus{cfg} }

func (b *Bus) Info(ctx context.Context, c cid.CID) (store.Object, error) {
	o, err := call(ctx, b.cfg.Bus, contract.StoreInfo, contract.CID{CID: c})
	if err != nil {
		return store.Object{}, StoreErr(err)
	}
	return store.Object{CID: o.CID, Size: o.Size, Inline: o.Inline, Pinned: o.Pinned}, nil
}

func (b *Bus) ReadRange(ctx context.Context, c cid.CID, off, length int64) (io.ReadCloser, error) {
	if length < 0 {
		info, err := b.Info(ctx, c)
		if err != nil {
			return nil, err
		}
		length = info.Size - off
	}
	if length > contract.MaxObject {
		return nil, bus.Errorf(codes.TooLarge, "objects: %d bytes of %s is over the bus's %d-byte object cap: bulk bytes go through the blob protocol", length, c, contract.MaxObject)
	}
	out, err := call(ctx, b.cfg.Bus, contract.StoreRead, contract.ReadReq{CID: c, Off: off, Len: length})
	if err != nil {
		return nil, StoreErr(err)
	}
	return io.NopCloser(bytes.NewReader(out.Data)), nil
}

func (b *Bus) Get(ctx context.Context, c cid.CID) (io.ReadCloser, error) {
	return b.ReadRange(ctx, c, 0, -1)
}

func (b *Bus) Put(ctx context.Context, r io.Reader, o store.PutOptions) (store.PutResult, error) {
	data, err := io.ReadAll(io.LimitReader(r, contract.MaxObject+1))
	if err != nil {
		return store.PutResult{}, err
	}
	if len(data) > contract.MaxObject {
		return store.PutResult{}, bus.Errorf(codes.TooLarge, "objects: an object over %d bytes cannot be put over the bus", contract.MaxObject)
	}
	res, err := call(ctx, b.cfg.Bus, contract.StorePut, contract.PutReq{Data: data, Pin: o.Pin, Refs: o.Refs, Hold: b.cfg.HoldSeconds(o.Hold)})
	if err != nil {
		return store.PutResult{}, StoreErr(err)
	}
	return store.PutResult{CID: res.CID, Size: res.Size, Inline: res.Inline, Deduplicated: res.Deduplicated,
		Release: b.cfg.Release(res.Lease)}, nil
}

// StoreErr turns the store role's not_found back into store.ErrNotFound,
// so callers (the index's adoption, the gateway's 404) test it as for a
// local store.
func StoreErr(err error) error {
	if be := bus.AsError(err); be != nil && be.Code == codes.NotFound {
		return fmt.Errorf("%w: %s", store.ErrNotFound, be.Message)
	}
	return err
}

// Cache is a gateway's store without the store role: what it puts is
// replicated to the store role before the put returns (pinned there if
// opts.Pin, held there for opts.Hold; the cache's copy is held as long, so
// the store role can fetch it); what it lacks is fetched (Local's miss
// path, with the store role's instances as providers). An object with
// references (a manifest, from an index in this process) goes to the store
// role whole over the bus, which records them.
type Cache struct{ *Local }

// NewCache returns the objects of a gateway without the store role.
func NewCache(cfg Config) *Cache { return &Cache{NewLocal(cfg)} }

func (o *Cache) Put(ctx context.Context, r io.Reader, opts store.PutOptions) (store.PutResult, error) {
	cfg := o.cfg
	if len(opts.Refs) > 0 {
		return NewBus(cfg).Put(ctx, r, opts)
	}
	res, err := cfg.Store.Put(ctx, r, opts)
	if err != nil {
		return res, err
	}
	self := cfg.Self()
	req := contract.ReplicateReq{PeerAddr: contract.PeerAddr{CID: res.CID, Peer: self.Peer, Addrs: self.Addrs},
		Pin: opts.Pin, Hold: cfg.HoldSeconds(opts.Hold)}
	rep, err := call(ctx, cfg.Bus, contract.StoreReplicate, req)
	if err != nil {
		res.Release()
		return store.PutResult{}, fmt.Errorf("objects: the store role did not take %s: %w", res.CID, err)
	}
	local, remote := res.Release, cfg.Release(rep.Lease)
	res.Release = func() { remote(); local() }
	return res, nil
}
