package node

import (
	"context"
	"errors"
	"io"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
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
