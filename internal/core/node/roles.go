package node

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
	"github.com/ronhost/ronhost/internal/core/store/storesvc"
)

// storeService is the store role over this process's store
// (internal/core/store/storesvc); on the overlay, peers fetch from it and
// it fetches what it is asked to replicate (internal/core/fetch).
func (n *Node) storeService() *storesvc.Service {
	s := &storesvc.Service{Store: n.store, Emit: n.emit, Provide: n.provideRoots}
	if n.overlay != nil {
		s.Overlay = storeOverlay{n}
	}
	return s
}

// storeOverlay is the store role's place on the overlay.
type storeOverlay struct{ n *Node }

func (o storeOverlay) Self() contract.PeerAddr {
	return contract.PeerAddr{Peer: o.n.overlay.ID().String(), Addrs: o.n.overlay.Addrs()}
}

func (o storeOverlay) Fetch(ctx context.Context, c cid.CID, from peer.AddrInfo, d time.Duration) (func(), error) {
	o.n.overlay.Host().Peerstore().AddAddrs(from.ID, from.Addrs, peerstore.TempAddrTTL)
	return o.n.fetcher.HoldOrFetch(ctx, c, []peer.AddrInfo{from}, d)
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
// (internal/core/fetch) when the node is configured to.
func (o objects) Info(ctx context.Context, c cid.CID) (store.Object, error) {
	info, err := o.Store.Info(ctx, c)
	if errors.Is(err, store.ErrNotFound) && o.n.fetchOn() {
		return o.n.fetcher.Info(ctx, c)
	}
	return info, err
}

func (o objects) ReadRange(ctx context.Context, c cid.CID, off, length int64) (io.ReadCloser, error) {
	rc, err := o.Store.ReadRange(ctx, c, off, length)
	if errors.Is(err, store.ErrNotFound) && o.n.fetchOn() {
		return o.n.fetcher.ReadRange(ctx, c, off, length)
	}
	return rc, err
}

// Outboard returns c's outboard, from the fetch that brings it when the
// store lacks it.
func (o objects) Outboard(ctx context.Context, c cid.CID) (int64, []byte, error) {
	size, ob, err := o.Store.Outboard(ctx, c)
	if errors.Is(err, store.ErrNotFound) && o.n.fetchOn() {
		return o.n.fetcher.Outboard(ctx, c)
	}
	return size, ob, err
}

func (o objects) Get(ctx context.Context, c cid.CID) (io.ReadCloser, error) {
	return o.ReadRange(ctx, c, 0, -1)
}

// BusAPIVersion is the version of the roles' contract on the bus
// (docs/BUS.md), announced by every service through $SRV.
const BusAPIVersion = "1.0.0"
