// Package index is the node's index role: which manifests the node has
// published, by the hash of their address, and the signed name records that
// point names at addresses.
//
// Publishing a manifest (Publish) checks the host-owned tables
// (core/manifest), asks the TLD's plugin to validate and normalize it (through
// a Validator, which the node implements over the bus), refuses a plugin that
// changed the host-owned tables, stores the canonical manifest pinned with a
// reference to its payload (so pinning keeps both), and records an Entry in
// the index's own Pebble database (DATA/index). An Entry is everything the
// gateway needs to serve an address without parsing the manifest again: its
// TLD, payload, size, media type and price.
//
// Lookup only reads: a manifest that is stored but was never indexed (put
// offline with `ronhost put --manifest`, or fetched from a peer) is not
// found until Adopt, the fetch path's explicit step (the gateway's backend
// takes it after a lookup's not_found), validates it through its plugin and
// indexes it, so nothing stored is lost to the gateway.
//
// Errors that cross the bus are *bus.Error values: codes.Rejected with the
// field errors of a refused manifest (the host's or the plugin's),
// codes.NotFound for an unknown address, payload or TLD.
//
// This package imports core/cid, core/manifest, core/names, core/store (types)
// bus (errors) and internal/pebbledb. It must not import the plugin host, the gateway or nats.
package index
