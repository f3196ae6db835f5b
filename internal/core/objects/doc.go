// Package objects is how the roles of a node's process reach objects
// (Objects), in one of three kinds the node chooses by its roles:
//
//   - Local, a process with the store role: its store, where every commit
//     of a new object is reported (object.stored), a pinned put's roots
//     are provided, and a miss is fetched from peers (the fetcher, when the
//     node fetches);
//   - Cache, a gateway without the store role: a store of its own as a
//     cache; what it puts is replicated to the store role over the bus
//     before the put returns (it fetches it from the gateway over the blob
//     protocol, pinned or held there as asked; the cache's copy is held as
//     long), an object with references (a manifest) goes to the store role
//     whole over the bus, and a miss is fetched as Local's is;
//   - Bus, the other roles (index, plugins): small objects read and put
//     over the bus (manifests, a plugin's reads of a payload), each capped
//     at contract.MaxObject; bulk bytes go through the blob protocol.
//
// The store role's not_found comes back as store.ErrNotFound (StoreErr),
// so callers test it as for a local store.
//
// Each kind is made from a Config: the store, the fetcher, the bus and the
// overlay's own address as small interfaces and functions declared here
// (read at each call: the node makes its objects before its bus, overlay
// and fetcher start), the event emitter, the provider of roots, the
// release of a hold the store role keeps and the hold's conversion to the
// bus's seconds as functions. It starts nothing and owns no goroutine.
//
// It must not import internal/core/node, internal/core/fetch (it reaches
// the fetcher through Fetcher), internal/core/overlay, internal/core/blob,
// internal/core/gateway, internal/plugins/... or cmd/...; only
// internal/core/node imports it.
package objects
