// Package fetch fetches the objects a node's store lacks from peers: a
// request for an object the store does not hold asks the connected peers
// and the providers the DHT lookup finds, as it finds them, and starts on
// the first that proves it has the object (a verified outboard); it starts
// one fetch per CID (every request for it shares that fetch), and reads the
// bytes from the ingest as they are verified (Info, Outboard, ReadRange).
// The fetched object is kept unpinned, as a cache that GC may collect; the
// node does not provide it. A caller that needs the object to stay (a
// replication pins it) joins the fetch as a keeper (HoldOrFetch): the fetch
// commits the object held, and the hold lasts until the fetch ended and
// every keeper took its own hold, so no GC runs in between.
//
// A Fetcher is an explicit struct: New takes its Config (the store, the
// blob protocol's client and the DHT's lookups as small interfaces declared
// here, the store role's location over the bus and the event emitter as
// functions, a logger) and starts nothing; Close ends the fetches in flight
// and waits for every goroutine they started.
//
// It must not import internal/core/node, internal/core/overlay (it reaches
// the DHT through Overlay), internal/core/gateway, internal/plugins/... or
// cmd/...; only internal/core/node imports it.
package fetch
