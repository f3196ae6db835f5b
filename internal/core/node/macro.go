package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
	"github.com/ronhost/ronhost/internal/core/store/storesvc"
)

// A macronode runs the roles in separate processes. They reach each other
// only through the bus, and bulk bytes only through the blob protocol:
//
//   - a process with the store role uses its store directly (objects);
//   - a gateway without it keeps a store of its own as a cache (cacheObjects):
//     a published payload is put there (held), then the store role is asked
//     over the bus to replicate it (it fetches it from the gateway over the
//     blob protocol, verifies it and holds it for the publish, holds.go)
//     before the index stores the manifest's pinned reference to it there; a
//     missing object is fetched from the store role's instances (located
//     over the bus, then through the DHT);
//   - the other roles (index, plugins) read and write small objects over the
//     bus (busObjects): manifests, and a plugin's reads of a payload, each
//     capped at maxBusObject.

// objectStore is how the roles of this process reach objects.
type objectStore interface {
	Info(ctx context.Context, c cid.CID) (store.Object, error)
	ReadRange(ctx context.Context, c cid.CID, off, length int64) (io.ReadCloser, error)
	Get(ctx context.Context, c cid.CID) (io.ReadCloser, error)
	Put(ctx context.Context, r io.Reader, o store.PutOptions) (store.PutResult, error)
}

// busObjects reaches the store role over the bus, for small objects only.
type busObjects struct{ n *Node }

func (b busObjects) Info(ctx context.Context, c cid.CID) (store.Object, error) {
	o, err := bus.Call(ctx, b.n.bus, contract.StoreInfo, contract.CID{CID: c})
	if err != nil {
		return store.Object{}, storeErr(err)
	}
	return store.Object{CID: o.CID, Size: o.Size, Inline: o.Inline, Pinned: o.Pinned}, nil
}

func (b busObjects) ReadRange(ctx context.Context, c cid.CID, off, length int64) (io.ReadCloser, error) {
	if length < 0 {
		info, err := b.Info(ctx, c)
		if err != nil {
			return nil, err
		}
		length = info.Size - off
	}
	if length > contract.MaxObject {
		return nil, bus.Errorf(codes.TooLarge, "node: %d bytes of %s is over the bus's %d-byte object cap: bulk bytes go through the blob protocol", length, c, contract.MaxObject)
	}
	out, err := bus.Call(ctx, b.n.bus, contract.StoreRead, contract.ReadReq{CID: c, Off: off, Len: length})
	if err != nil {
		return nil, storeErr(err)
	}
	return io.NopCloser(bytes.NewReader(out.Data)), nil
}

func (b busObjects) Get(ctx context.Context, c cid.CID) (io.ReadCloser, error) {
	return b.ReadRange(ctx, c, 0, -1)
}

func (b busObjects) Put(ctx context.Context, r io.Reader, o store.PutOptions) (store.PutResult, error) {
	data, err := io.ReadAll(io.LimitReader(r, contract.MaxObject+1))
	if err != nil {
		return store.PutResult{}, err
	}
	if len(data) > contract.MaxObject {
		return store.PutResult{}, bus.Errorf(codes.TooLarge, "node: an object over %d bytes cannot be put over the bus", contract.MaxObject)
	}
	res, err := bus.Call(ctx, b.n.bus, contract.StorePut, contract.PutReq{Data: data, Pin: o.Pin, Refs: o.Refs, Hold: holdSeconds(o.Hold)})
	if err != nil {
		return store.PutResult{}, storeErr(err)
	}
	return store.PutResult{CID: res.CID, Size: res.Size, Inline: res.Inline, Deduplicated: res.Deduplicated,
		Release: b.n.remoteRelease(res.Lease)}, nil
}

// storeErr turns the store role's not_found back into store.ErrNotFound, so
// callers (the index's adoption, the gateway's 404) test it as for a local
// store.
func storeErr(err error) error {
	if be := bus.AsError(err); be != nil && be.Code == codes.NotFound {
		return fmt.Errorf("%w: %s", store.ErrNotFound, be.Message)
	}
	return err
}

// cacheObjects is a gateway's store without the store role: what it puts
// is replicated to the store role before the put returns (pinned there if
// opts.Pin, held there for opts.Hold; the cache's copy is held as long, so
// the store role can fetch it); what it lacks is fetched (objects' miss
// path, with the store role's instances as providers). An object with
// references (a manifest, from an index in this process) goes to the store
// role whole over the bus, which records them.
type cacheObjects struct{ objects }

func (o cacheObjects) Put(ctx context.Context, r io.Reader, opts store.PutOptions) (store.PutResult, error) {
	n := o.n
	if len(opts.Refs) > 0 {
		return busObjects{n}.Put(ctx, r, opts)
	}
	res, err := o.Store.Put(ctx, r, opts)
	if err != nil {
		return res, err
	}
	req := contract.ReplicateReq{PeerAddr: contract.PeerAddr{CID: res.CID, Peer: n.overlay.ID().String(), Addrs: n.overlay.Addrs()},
		Pin: opts.Pin, Hold: holdSeconds(opts.Hold)}
	rep, err := bus.Call(ctx, n.bus, contract.StoreReplicate, req)
	if err != nil {
		res.Release()
		return store.PutResult{}, fmt.Errorf("node: the store role did not take %s: %w", res.CID, err)
	}
	local, remote := res.Release, n.remoteRelease(rep.Lease)
	res.Release = func() { remote(); local() }
	return res, nil
}

// storeProviders asks the store role over the bus which instance holds c
// (a process without the store role fetches from it).
func (n *Node) storeProviders(ctx context.Context, c cid.CID) []peer.AddrInfo {
	if n.has("store") || n.bus == nil {
		return nil
	}
	r, err := bus.Call(ctx, n.bus, contract.StoreLocate, contract.CID{CID: c})
	if err != nil {
		if !errors.Is(storeErr(err), store.ErrNotFound) {
			n.log.Warn("locating a store instance", "cid", c, "err", err)
		}
		return nil
	}
	ai, err := storesvc.AddrInfo(r)
	if err != nil || ai.ID == n.overlay.ID() {
		return nil
	}
	return []peer.AddrInfo{ai}
}
