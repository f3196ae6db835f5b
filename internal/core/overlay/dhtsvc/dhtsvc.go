package dhtsvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/blob"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/overlay"
	"github.com/ronhost/ronhost/internal/core/store"
)

// MaxReplicas caps the replicas one pin asks for.
const MaxReplicas = 64

// Service is the dht role over a process's store and overlay.
type Service struct {
	Store *store.Store
	// Overlay and Blob are nil when the node does not join the overlay:
	// stat then lists only this node, and a pin with replicas is
	// unavailable.
	Overlay *overlay.Overlay
	Blob    *blob.Service
	// Provide queues pinned objects, and what they reference, for
	// announcing on the DHT.
	Provide func(ctx context.Context, pins ...cid.CID)
	// Node is this node's id: the copy stat lists off the overlay.
	Node string
	// FindTimeout bounds stat's search for providers.
	FindTimeout time.Duration
}

// Endpoints are the dht role's verbs.
func (s *Service) Endpoints() []bus.Endpoint {
	return []bus.Endpoint{
		bus.Handle(contract.DHTPeers, func(ctx context.Context, _ contract.Empty) (contract.OverlayInfo, error) {
			if s.Overlay == nil {
				return contract.OverlayInfo{Addrs: []string{}}, nil
			}
			st, err := json.Marshal(s.Overlay.Status())
			if err != nil {
				return contract.OverlayInfo{}, err
			}
			return contract.OverlayInfo{On: true, Peer: s.Overlay.ID().String(), Addrs: s.Overlay.Addrs(), Peers: s.Overlay.Peers(), Status: st}, nil
		}),
		bus.Handle(contract.DHTStat, func(ctx context.Context, r contract.CID) (contract.ObjectStat, error) {
			return s.Stat(ctx, r.CID)
		}),
		bus.Handle(contract.DHTPin, func(ctx context.Context, r contract.PinReq) (contract.PinResult, error) {
			if r.Replicas < 0 || r.Replicas > MaxReplicas {
				return contract.PinResult{}, bus.Errorf(codes.Invalid, "replicas %d is outside 0..%d", r.Replicas, MaxReplicas)
			}
			res, err := s.Pin(ctx, r.CID, r.Replicas)
			if err != nil {
				return contract.PinResult{}, err
			}
			return res, nil
		}),
	}
}

// Stat says whether this node holds c and which nodes provide it.
func (s *Service) Stat(ctx context.Context, c cid.CID) (contract.ObjectStat, error) {
	st := contract.ObjectStat{CID: c, Refs: []cid.CID{}, Copies: []contract.Copy{}, Overlay: s.Overlay != nil}
	info, err := s.Store.Info(ctx, c)
	switch {
	case err == nil:
		st.Stored, st.Size, st.Pinned = true, info.Size, info.Pinned
		if st.Refs, err = s.Store.Refs(ctx, c); err != nil {
			return st, err
		}
		if st.Refs == nil {
			st.Refs = []cid.CID{}
		}
	case !errors.Is(err, store.ErrNotFound):
		return st, err
	}
	if s.Overlay == nil {
		if st.Stored {
			st.Copies = append(st.Copies, contract.Copy{Peer: s.Node, Self: true})
		}
		return st, nil
	}
	if st.Stored && st.Pinned {
		st.Copies = append(st.Copies, contract.Copy{Peer: s.Overlay.ID().String(), Addrs: s.Overlay.Addrs(), Self: true})
	}
	fctx, cancel := context.WithTimeout(ctx, s.FindTimeout)
	defer cancel()
	provs, err := s.Overlay.FindProviders(fctx, c, 64)
	if err != nil && len(provs) == 0 && !st.Stored {
		return st, fmt.Errorf("dhtsvc: looking for providers of %s: %w", c, err)
	}
	for _, p := range provs {
		cp := contract.Copy{Peer: p.ID.String()}
		for _, a := range p.Addrs {
			cp.Addrs = append(cp.Addrs, a.String())
		}
		st.Copies = append(st.Copies, cp)
	}
	return st, nil
}

// Pin pins c here and, with replicas > 0, asks that many other peers to
// hold c and what it references. Peers already providing c count first; the
// others are asked in order of XOR distance to c's DHT key (the peers that
// a lookup reaches first), until enough say yes or none are left.
func (s *Service) Pin(ctx context.Context, c cid.CID, replicas int) (contract.PinResult, error) {
	res := contract.PinResult{CID: c, Roots: []cid.CID{}, Replicas: []contract.Replica{}}
	if err := s.Store.Pin(ctx, c); err != nil {
		return res, err
	}
	res.Pinned = true
	refs, err := s.Store.Refs(ctx, c)
	if err != nil {
		return res, err
	}
	res.Roots = append(append(res.Roots, c), refs...)
	s.Provide(ctx, c)
	if replicas <= 0 {
		return res, nil
	}
	if s.Overlay == nil {
		return res, bus.Errorf(codes.Unavailable, "dhtsvc: replicas need the overlay ([overlay] mode = on)")
	}
	self := s.Overlay.ID()
	var candidates []peer.ID
	for _, p := range s.Overlay.ClosestPeers(ctx, c) {
		if p != self && !slices.Contains(candidates, p) {
			candidates = append(candidates, p)
		}
	}
	for _, p := range candidates {
		if res.Held >= replicas {
			break
		}
		if s.Blob.Banned(p) {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		var rerr error
		for _, root := range res.Roots {
			if rerr = s.Blob.AskReplicate(rctx, p, root); rerr != nil {
				break
			}
		}
		cancel()
		r := contract.Replica{Peer: p.String(), OK: rerr == nil}
		if rerr != nil {
			r.Error = rerr.Error()
		} else {
			res.Held++
		}
		res.Replicas = append(res.Replicas, r)
	}
	if res.Held < replicas {
		return res, bus.Errorf(codes.Unavailable, "dhtsvc: %d of %d replicas of %s placed (%d peers asked)", res.Held, replicas, c, len(res.Replicas))
	}
	return res, nil
}
