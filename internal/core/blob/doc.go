// Package blob is the ronhost blob protocol on libp2p streams: a node asks
// its peers for an object's Bao outboard and for byte ranges of it, and
// serves the same from its own verified store; a node asks a peer to hold a
// copy of an object (replication).
//
// The wire format and its limits are written down in docs/PROTOCOL.md. In
// short, on "/ronhost/blob/1.0.0" a client sends requests one after another
// on a stream ({"op":"outboard"|"read","cid":..,"off":..,"len":..}, each a
// uvarint length and a JSON header of at most MaxHeader bytes) and the server
// answers each in order with a header ({"size":..,"len":..} or
// {"error":{"code":..,"message":..}}) followed by exactly "len" raw bytes.
// Reads are aligned to store.GroupSize and at most MaxRead bytes.
//
// # Verification
//
// The server reads every byte it sends through its Source (the store's
// verified reads). The client trusts nothing it receives: Service.Outboard
// checks an outboard's tree against the CID, node by node as it arrives (a
// peer claiming a huge object is caught at its first node that does not
// fit, before its claimed bytes are held), and then fetches and verifies
// the object's last chunk group, which proves the size; Service.Fetch hands
// the bytes to its Sink (a store Ingest) in batches of whole chunk groups,
// and the Sink verifies each group before it writes it. A peer whose bytes
// fail verification is a liar: it is scored down, its connection closed, it
// is banned for Config.BanFor, and what it was asked for is asked of another
// provider. A peer that stalls (no progress for Config.RequestTimeout),
// trickles (a read's bytes slower than Config.MinRate on average, after
// RequestTimeout's grace) or whose stream dies loses its work to the other
// providers the same way.
//
// # Imports
//
// This package imports core/cid, core/store (the group size, the outboard
// check and the error sentinels its interfaces speak) and go-libp2p's core
// interfaces. It must not import core/overlay, core/node, core/gateway or
// anything above them: it takes a host.Host and the providers to ask, and
// it finds no peers itself.
package blob
