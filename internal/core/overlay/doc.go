// Package overlay owns a node's place on the ronhost network: its libp2p
// host (an ed25519 identity kept in the data directory, TCP and QUIC, Noise
// and TLS, a connection manager and a resource manager with finite limits)
// and go-libp2p-kad-dht under the protocol prefix "/ronhost" (so the DHT
// protocol is /ronhost/kad/1.0.0 and ronhost nodes form their own network,
// never the IPFS one).
//
// Through the DHT it announces the roots a node pins (Provide; a reprovider
// goroutine re-announces every remembered root each Config.Reprovide period,
// well inside kad-dht's 48 h provider record lifetime, and retries a failed
// announcement sooner) and finds the providers of a CID (FindProviders,
// those this node can reach directly first). A ronhost CID is mapped to the
// DHT key of an IPFS CIDv1 with codec raw (0x55) and a BLAKE3 multihash
// (0x1e, 32 bytes); see Key.
//
// The DHT keeps the records other peers store here (ADD_PROVIDER,
// PUT_VALUE) in memory within a budget, a quarter of Config.MaxMemory, of
// which one provider peer's records take at most an eighth; records over
// it are dropped, this node's own always kept (dhtstore.go). Without it,
// one peer announcing random keys grew the node's memory without bound.
//
// # Reachability
//
// go-libp2p's own machinery does the NAT work (reach.go, relay.go): AutoNAT
// v2 confirms which public addresses peers can dial back; identify's
// observed addresses feed hole punching; a node that is not public reserves
// a slot on a relay (Config.Relays, or a connected peer that relays) and
// announces its relay address; relayed connections are upgraded to direct
// ones by hole punching (DCUtR); a public node with Config.RelayService
// relays for others within RelayLimits. The reach tracker turns AutoNAT v2's
// results and the node's addresses into one verdict (public, private,
// unknown) that drives autorelay, the relay service and the DHT's mode
// (server only while public), and the host announces only addresses that
// work. Status reports all of it.
//
// It moves no content: the blob protocol (core/blob) runs on DataHost(),
// which keeps bulk streams off relayed connections unless
// Config.RelayData allows them (data.go). It imports core/cid and
// internal/secretfile of ronhost's packages and no other; it must not
// import core/store, core/blob or core/node.
package overlay
