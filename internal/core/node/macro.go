package node

import (
	"context"
	"errors"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/objects"
	"github.com/ronhost/ronhost/internal/core/store"
	"github.com/ronhost/ronhost/internal/core/store/storesvc"
)

// A macronode runs the roles in separate processes. They reach each other
// only through the bus, and bulk bytes only through the blob protocol:
//
//   - a process with the store role uses its store directly (objects.Local);
//   - a gateway without it keeps a store of its own as a cache (objects.Cache):
//     a published payload is put there (held), then the store role is asked
//     over the bus to replicate it (it fetches it from the gateway over the
//     blob protocol, verifies it and holds it for the publish, holds.go)
//     before the index stores the manifest's pinned reference to it there; a
//     missing object is fetched from the store role's instances (located
//     over the bus, then through the DHT);
//   - the other roles (index, plugins) read and write small objects over the
//     bus (objects.Bus): manifests, and a plugin's reads of a payload, each
//     capped at contract.MaxObject.

// storeProviders asks the store role over the bus which instance holds c
// (a process without the store role fetches from it).
func (n *Node) storeProviders(ctx context.Context, c cid.CID) []peer.AddrInfo {
	if n.has("store") || n.bus == nil {
		return nil
	}
	r, err := bus.Call(ctx, n.bus, contract.StoreLocate, contract.CID{CID: c})
	if err != nil {
		if !errors.Is(objects.StoreErr(err), store.ErrNotFound) {
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
