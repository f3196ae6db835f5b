package overlay

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
)

// Bulk data and relays.
//
// A relay carries other nodes' bytes on its own bandwidth, so ronhost moves
// bulk data (core/blob's streams) over a relayed connection only when the
// operator allows it (Config.RelayData), and even then prefers a direct
// connection. DataHost is the host core/blob runs on: its NewStream opens a
// stream on a direct connection, waiting for hole punching to give one when
// the peer is so far reachable only through a relay. Without RelayData a
// peer that stays relay-only fails with ErrRelayOnly; with it the stream
// goes over the relay (within the relay's limits) after DirectWait, and the
// peer is not waited for again for relayOnlyFor.

// ErrRelayOnly: the peer is reachable only through a relay, and bulk data
// over relays is not allowed (Config.RelayData).
var ErrRelayOnly = errors.New("overlay: the peer is reachable only through a relay and [overlay] relay_data is off (hole punching gave no direct connection)")

const (
	// DirectWait is how long a stream with RelayData waits for hole
	// punching before it goes over the relay.
	DirectWait = 5 * time.Second
	// relayOnlyFor is how long a peer whose hole punching failed is not
	// waited for again.
	relayOnlyFor = 10 * time.Minute
)

// dataHost is DataHost's host.
type dataHost struct {
	host.Host
	o *Overlay
}

// DataHost returns the host for bulk data: Host, whose NewStream keeps
// streams off relayed connections unless Config.RelayData allows them (nil
// before Start).
func (o *Overlay) DataHost() host.Host {
	h := o.Host()
	if h == nil {
		return nil
	}
	return dataHost{Host: h, o: o}
}

// isRelayedConn says whether c runs through a relay.
func isRelayedConn(c network.Conn) bool { return isRelayAddr(c.RemoteMultiaddr()) }

// directConn returns a live direct connection to p, or nil.
func directConn(h host.Host, p peer.ID) network.Conn {
	for _, c := range h.Network().ConnsToPeer(p) {
		if !c.IsClosed() && !isRelayedConn(c) {
			return c
		}
	}
	return nil
}

// relayedOnly says whether h is connected to p through relays only.
func relayedOnly(h host.Host, p peer.ID) bool {
	cs := h.Network().ConnsToPeer(p)
	return len(cs) > 0 && directConn(h, p) == nil
}

// NewStream opens a stream to p over a direct connection; see DataHost.
func (d dataHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	h, o := d.Host, d.o
	if o.cfg.RelayData {
		if relayedOnly(h, p) && !o.relayOnly.recent(p) {
			wait := DirectWait
			if o.directWait > 0 {
				wait = o.directWait
			}
			wctx, cancel := context.WithTimeout(ctx, wait)
			ok := waitDirect(wctx, h, p)
			cancel()
			if !ok {
				o.relayOnly.mark(p)
				o.log.Info("no direct connection: bulk data goes over the relay", "peer", p)
			}
		}
		return h.NewStream(network.WithAllowLimitedConn(ctx, "ronhost relay_data"), p, pids...)
	}
	// go-libp2p waits for a direct connection itself when the relay set a
	// limit on its circuits (a limited connection); an unlimited relayed
	// connection it would use at once, so that case is checked here.
	s, err := h.NewStream(ctx, p, pids...)
	if err != nil {
		if relayedOnly(h, p) {
			return nil, fmt.Errorf("%w: peer %s: %v", ErrRelayOnly, p, err)
		}
		return nil, err
	}
	if !isRelayedConn(s.Conn()) {
		return s, nil
	}
	s.Reset()
	if !waitDirect(ctx, h, p) {
		return nil, fmt.Errorf("%w: peer %s", ErrRelayOnly, p)
	}
	s, err = h.NewStream(ctx, p, pids...)
	if err != nil {
		return nil, err
	}
	if isRelayedConn(s.Conn()) {
		s.Reset()
		return nil, fmt.Errorf("%w: peer %s", ErrRelayOnly, p)
	}
	return s, nil
}

// waitDirect waits until h has a direct connection to p or ctx ends.
func waitDirect(ctx context.Context, h host.Host, p peer.ID) bool {
	got := make(chan struct{})
	var once sync.Once
	nb := &network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) {
		if c.RemotePeer() == p && !isRelayedConn(c) {
			once.Do(func() { close(got) })
		}
	}}
	h.Network().Notify(nb)
	defer h.Network().StopNotify(nb)
	if directConn(h, p) != nil {
		return true
	}
	select {
	case <-got:
		return true
	case <-ctx.Done():
		return directConn(h, p) != nil
	}
}

// relayOnlyPeers remembers peers that hole punching could not reach.
type relayOnlyPeers struct {
	mu    sync.Mutex
	until map[peer.ID]time.Time
}

func (r *relayOnlyPeers) mark(p peer.ID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.until == nil {
		r.until = make(map[peer.ID]time.Time)
	}
	now := time.Now()
	for q, t := range r.until { // bounded by the peers seen within relayOnlyFor
		if now.After(t) {
			delete(r.until, q)
		}
	}
	r.until[p] = now.Add(relayOnlyFor)
}

func (r *relayOnlyPeers) recent(p peer.ID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return time.Now().Before(r.until[p])
}

// directness ranks a provider for a fetch: 0 with a direct connection now,
// 1 with a direct address this node can use, 2 reachable only through a
// relay.
func directness(h host.Host, internet bool, ai peer.AddrInfo) int {
	if directConn(h, ai.ID) != nil {
		return 0
	}
	for _, a := range ai.Addrs {
		if isRelayAddr(a) {
			continue
		}
		if !internet || isPublicOrName(a) {
			return 1
		}
	}
	return 2
}

// isPublicOrName says whether a is a public IP address or a DNS name.
func isPublicOrName(a ma.Multiaddr) bool {
	if !hasIP(a) {
		return true
	}
	return anyPublic([]ma.Multiaddr{a})
}
