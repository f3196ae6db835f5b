package node

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/core/blob"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/overlay"
	"github.com/ronhost/ronhost/internal/core/overlay/dhtsvc"
	"github.com/ronhost/ronhost/internal/core/store"
)

// The node on the overlay: its libp2p identity (DATA/keys/p2p.key), the DHT
// through which it provides the roots it pins (a pinned object and what it
// references: a manifest and its payload), and the blob service that serves
// its store to peers and fetches what it lacks (internal/core/fetch).

// P2PKeyFile is the node's libp2p identity seed under the data directory.
const P2PKeyFile = "keys/p2p.key"

// providing queues roots to announce; one goroutine announces them, so a
// publish never waits for the DHT.
type providing struct {
	mu      sync.Mutex
	pending []cid.CID
	wake    chan struct{}
}

func (p *providing) add(cs ...cid.CID) {
	p.mu.Lock()
	p.pending = append(p.pending, cs...)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *providing) take() []cid.CID {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.pending
	p.pending = nil
	return out
}

// startOverlay joins the overlay and serves the blob protocol.
func (n *Node) startOverlay(ctx context.Context) error {
	cfg := n.opts.Config.Overlay
	if cfg.Mode == "off" {
		return nil
	}
	n.overlay = overlay.New(overlay.Config{
		KeyFile:   filepath.Join(n.opts.DataDir, P2PKeyFile),
		Listen:    cfg.Listen,
		Bootstrap: cfg.Bootstrap,
		ConnLow:   cfg.ConnLow,
		ConnHigh:  cfg.ConnHigh,
		MaxMemory: int64(cfg.MaxMemory),
		Reprovide: cfg.Reprovide.D(),
		Logger:    n.log.With("component", "overlay"),

		Reachability: cfg.Reachability,
		Announce:     cfg.Announce,
		Relays:       cfg.Relays,
		RelayService: cfg.RelayService,
		RelayLimits: overlay.RelayLimits{Reservations: cfg.RelayReservations, Circuits: cfg.RelayCircuits,
			CircuitBytes: int64(cfg.RelayCircuitBytes), CircuitDuration: cfg.RelayCircuitDuration.D()},
		RelayData:      cfg.RelayData,
		NoHolePunching: !cfg.HolePunching,
	})
	if err := n.overlay.Start(ctx); err != nil {
		n.overlay = nil
		return fmt.Errorf("node: %w", err)
	}
	n.closers = append(n.closers, n.overlay.Close)
	src := newServedSource(n.store, int64(cfg.ServeRate))
	n.metrics.MustRegister(src.counter)
	ledger, err := newReplicaLedger(replicasPath(n.opts.DataDir), cfg.TrustedPeers, int64(cfg.ReplicaBytes), cfg.ReplicaObjects, n.storePinned)
	if err != nil {
		return err
	}
	// Bulk data runs on DataHost: off relayed connections unless
	// [overlay] relay_data allows them.
	n.blob = blob.New(n.overlay.DataHost(), src, peerReplicator{n, ledger}, blob.Config{MaxProviders: cfg.Providers,
		Trusted: ledger.Trusted, Logger: n.log.With("component", "blob")})
	n.fetcher = n.newFetcher() // before the blob protocol serves: a peer's replicate request fetches
	if err := n.blob.Start(ctx); err != nil {
		n.blob, n.fetcher = nil, nil
		return fmt.Errorf("node: %w", err)
	}
	n.closers = append(n.closers, n.blob.Close)
	n.log.Info("joined the overlay", "peer", n.overlay.ID(), "addrs", n.overlay.Addrs())
	return nil
}

// provideLoop announces queued roots, starting with every pinned root.
func (n *Node) provideLoop(ctx context.Context) {
	if n.overlay == nil {
		return
	}
	if pins, err := n.store.Pins(ctx); err == nil {
		n.provideRoots(ctx, pins...)
	} else {
		n.log.Warn("listing pins to provide", "err", err)
	}
	for {
		for _, c := range n.provide.take() {
			if err := n.overlay.Provide(ctx, c); err != nil && ctx.Err() == nil {
				n.log.Warn("providing", "cid", c, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-n.provide.wake:
		}
	}
}

// provideRoots queues pinned objects and what they reference.
func (n *Node) provideRoots(ctx context.Context, pins ...cid.CID) {
	if n.overlay == nil {
		return
	}
	var roots []cid.CID
	for _, c := range pins {
		roots = append(roots, c)
		if refs, err := n.store.Refs(ctx, c); err == nil {
			roots = append(roots, refs...)
		}
	}
	n.provide.add(roots...)
}

// replicate fetches c (from the asking peer first, then the DHT's
// providers), pins it and provides it. Callers decided that `from` may ask:
// a trusted peer within its quota (peerReplicator), or this macronode's
// gateway over the bus.
func (n *Node) replicate(ctx context.Context, c cid.CID, from peer.ID) error {
	// Held from its fetch's commit to its pin: no GC in between.
	release, err := n.fetcher.HoldOrFetch(ctx, c, []peer.AddrInfo{{ID: from, Addrs: n.overlay.Host().Peerstore().Addrs(from)}}, time.Minute)
	if err != nil {
		return err
	}
	defer release()
	if err := n.store.Pin(ctx, c); err != nil && !errors.Is(err, store.ErrNotPinned) {
		return err
	}
	n.provideRoots(ctx, c)
	n.log.Info("holding a replica", "cid", c, "for", from)
	return nil
}

// Copy is the bus contract's (contract.Copy).
type Copy = contract.Copy

// ObjectStat is the bus contract's (contract.ObjectStat).
type ObjectStat = contract.ObjectStat

// Replica is the bus contract's (contract.Replica).
type Replica = contract.Replica

// PinResult is the bus contract's (contract.PinResult).
type PinResult = contract.PinResult

// OverlayInfo is this node on the overlay.
type OverlayInfo struct {
	On    bool     `json:"on"`
	Peer  string   `json:"peer,omitempty"`
	Addrs []string `json:"addrs"`
	Peers int      `json:"peers"`
	// Status is the node's reachability, relays and connections (absent
	// when the overlay is off).
	Status *overlay.Status `json:"status,omitempty"`
}

// dhtService is the dht role over this process's store and overlay
// (internal/core/overlay/dhtsvc).
func (n *Node) dhtService() *dhtsvc.Service {
	return &dhtsvc.Service{Store: n.store, Overlay: n.overlay, Blob: n.blob, Provide: n.provideRoots, Node: n.id,
		FindTimeout: n.opts.Config.Overlay.FetchTimeout.D()}
}
