package storesvc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

// Overlay is where this store is on the overlay.
type Overlay interface {
	// Self is this instance's peer and its addresses (CID unset).
	Self() contract.PeerAddr
	// Fetch holds c in the store for d, fetching it first (from the peer
	// from, then the DHT's providers) when the store lacks it; the fetch
	// commits the object held.
	Fetch(ctx context.Context, c cid.CID, from peer.AddrInfo, d time.Duration) (release func(), err error)
}

// Service is the store role over a store. Store, Emit and Provide are
// required.
type Service struct {
	Store *store.Store
	// Emit reports events (object.stored); it logs its own failures.
	Emit func(kind string, v any)
	// Provide queues pinned objects, and what they reference, for
	// announcing on the DHT.
	Provide func(ctx context.Context, pins ...cid.CID)
	// Overlay is nil when this instance is not on the overlay: locate and
	// replicate are then unavailable.
	Overlay Overlay

	holds holds
}

// Endpoints are the store role's verbs.
func (s *Service) Endpoints() []bus.Endpoint {
	return []bus.Endpoint{
		bus.Handle(contract.StoreInfo, func(ctx context.Context, r contract.CID) (contract.ObjectInfo, error) {
			o, err := s.Store.Info(ctx, r.CID)
			if err != nil {
				return contract.ObjectInfo{}, err
			}
			return contract.ObjectInfo{CID: o.CID, Size: o.Size, Inline: o.Inline, Pinned: o.Pinned}, nil
		}),
		bus.Handle(contract.StoreStat, func(ctx context.Context, _ contract.Empty) (contract.StoreUsage, error) {
			u, err := s.Store.Stat(ctx)
			return contract.StoreUsage(u), err
		}),
		bus.Handle(contract.StorePin, func(ctx context.Context, r contract.CID) (contract.Empty, error) {
			if err := s.Store.Pin(ctx, r.CID); err != nil {
				return contract.Empty{}, err
			}
			s.Provide(ctx, r.CID)
			return contract.Empty{}, nil
		}),
		bus.Handle(contract.StoreUnpin, func(ctx context.Context, r contract.CID) (contract.Empty, error) {
			return contract.Empty{}, s.Store.Unpin(ctx, r.CID)
		}),
		bus.Handle(contract.StoreGC, func(ctx context.Context, _ contract.Empty) (contract.GCResult, error) {
			res, err := s.Store.GC(ctx)
			return contract.GCResult(res), err
		}),
		bus.Handle(contract.StoreScrub, func(ctx context.Context, r contract.ScrubReq) (contract.ScrubReport, error) {
			rep, err := s.Store.Scrub(ctx, store.ScrubOptions{Repair: r.Repair})
			if err != nil {
				return contract.ScrubReport{}, err
			}
			if rep.Damage == nil {
				rep.Damage = []contract.Damage{}
			}
			return rep, nil
		}),
		bus.Handle(contract.StoreRead, s.read),
		bus.Handle(contract.StorePut, s.put),
		bus.Handle(contract.StoreLocate, func(ctx context.Context, r contract.CID) (contract.PeerAddr, error) {
			if _, err := s.Store.Info(ctx, r.CID); err != nil {
				return contract.PeerAddr{}, err
			}
			if s.Overlay == nil {
				return contract.PeerAddr{}, bus.Errorf(codes.Unavailable, "this store is not on the overlay")
			}
			me := s.Overlay.Self()
			me.CID = r.CID
			return me, nil
		}),
		bus.Handle(contract.StoreReplicate, s.replicate),
		bus.Handle(contract.StoreRelease, func(ctx context.Context, r contract.ReleaseReq) (contract.Empty, error) {
			s.holds.end(r.Lease)
			return contract.Empty{}, nil
		}),
	}
}

// read answers store.read: verified bytes, at most contract.MaxObject.
func (s *Service) read(ctx context.Context, r contract.ReadReq) (contract.ReadReply, error) {
	if r.Len < 0 || r.Len > contract.MaxObject {
		return contract.ReadReply{}, bus.Errorf(codes.TooLarge, "read of %d bytes: at most %d over the bus", r.Len, contract.MaxObject)
	}
	rc, err := s.Store.ReadRange(ctx, r.CID, r.Off, r.Len)
	if err != nil {
		return contract.ReadReply{}, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return contract.ReadReply{}, err
	}
	return contract.ReadReply{Data: data}, nil
}

// put answers store.put: a small object (a manifest of an index in
// another process), held for that process when it asks.
func (s *Service) put(ctx context.Context, r contract.PutReq) (contract.PutReply, error) {
	if len(r.Data) > contract.MaxObject {
		return contract.PutReply{}, bus.Errorf(codes.TooLarge, "an object of %d bytes: at most %d over the bus", len(r.Data), contract.MaxObject)
	}
	hold, err := holdOf(r.Hold)
	if err != nil {
		return contract.PutReply{}, err
	}
	res, err := s.Store.Put(ctx, bytes.NewReader(r.Data), store.PutOptions{Size: int64(len(r.Data)), Pin: r.Pin, Refs: r.Refs, Hold: hold})
	if err != nil {
		return contract.PutReply{}, err
	}
	if !res.Deduplicated {
		s.Emit(bus.KindObjectStored, bus.ObjectStored{CID: res.CID.String(), Size: res.Size, Inline: res.Inline})
	}
	if r.Pin {
		s.Provide(ctx, res.CID)
	}
	rep := contract.PutReply{CID: res.CID, Size: res.Size, Inline: res.Inline, Deduplicated: res.Deduplicated}
	if hold > 0 {
		if rep.Lease, err = s.holds.keep(res.Release, hold); err != nil {
			return contract.PutReply{}, err
		}
	}
	return rep, nil
}

// replicate answers store.replicate: the object fetched from the peer
// named (verified), then pinned and provided, or held, or both.
func (s *Service) replicate(ctx context.Context, r contract.ReplicateReq) (contract.ReplicateReply, error) {
	var rep contract.ReplicateReply
	hold, err := holdOf(r.Hold)
	if err != nil {
		return rep, err
	}
	if s.Overlay == nil {
		return rep, bus.Errorf(codes.Unavailable, "this store is not on the overlay")
	}
	ai, err := AddrInfo(r.PeerAddr)
	if err != nil {
		return rep, bus.Errorf(codes.Invalid, "%v", err)
	}
	// Held from the fetch's commit on: no GC before the pin, or before the
	// publish that asked for the hold has referenced it.
	release, err := s.Overlay.Fetch(ctx, r.CID, ai, max(hold, time.Minute))
	if err != nil {
		return rep, err
	}
	if r.Pin {
		if err := s.Store.Pin(ctx, r.CID); err != nil {
			release()
			return rep, err
		}
		s.Provide(ctx, r.CID)
	}
	if hold > 0 {
		if rep.Lease, err = s.holds.keep(release, hold); err != nil {
			return contract.ReplicateReply{}, err
		}
	} else {
		release()
	}
	return rep, nil
}

// holdOf is a hold asked for in seconds, capped at MaxHold.
func holdOf(seconds int64) (time.Duration, error) {
	if seconds < 0 {
		return 0, bus.Errorf(codes.Invalid, "a hold of %d seconds", seconds)
	}
	return time.Duration(min(seconds, int64(MaxHold/time.Second))) * time.Second, nil
}

// AddrInfo is the peer a PeerAddr names, with its addresses.
func AddrInfo(r contract.PeerAddr) (peer.AddrInfo, error) {
	id, err := peer.Decode(r.Peer)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("bad peer %q: %v", r.Peer, err)
	}
	ai := peer.AddrInfo{ID: id}
	for _, a := range r.Addrs {
		m, err := ma.NewMultiaddr(a)
		if err != nil {
			return peer.AddrInfo{}, fmt.Errorf("bad address %q: %v", a, err)
		}
		if t, _ := peer.SplitAddr(m); t != nil {
			m = t
		}
		ai.Addrs = append(ai.Addrs, m)
	}
	return ai, nil
}
