package node

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/core/cid"
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

// BusAPIVersion is the version of the roles' contract on the bus
// (docs/BUS.md), announced by every service through $SRV.
const BusAPIVersion = "1.0.0"
