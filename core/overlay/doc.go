// Package overlay owns a node's place on the ronhost network: its libp2p
// host (an ed25519 identity kept in the data directory, TCP and QUIC, Noise
// and TLS, a connection manager and a resource manager with finite limits)
// and go-libp2p-kad-dht run in server mode under the protocol prefix
// "/ronhost" (so the DHT protocol is /ronhost/kad/1.0.0 and ronhost nodes
// form their own network, never the IPFS one).
//
// Through the DHT it announces the roots a node pins (Provide; a reprovider
// goroutine re-announces every remembered root each Config.Reprovide period,
// well inside kad-dht's 48 h provider record lifetime, and retries a failed
// announcement sooner) and finds the providers of a CID (FindProviders). A
// ronhost CID is mapped to the DHT key of an IPFS CIDv1 with codec raw (0x55)
// and a BLAKE3 multihash (0x1e, 32 bytes); see Key.
//
// It moves no content: the blob protocol (core/blob) runs on Host(). It
// imports core/cid and internal/secretfile of ronhost's packages and no
// other; it must not import core/store, core/blob or core/node.
package overlay
