package overlay

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// Reachability: whether other nodes can dial this one.
//
// go-libp2p's own machinery does the work: AutoNAT v2 asks peers to dial
// each public address back and confirms it reachable or unreachable
// (EvtHostReachableAddrsChanged), identify tells a node the address its
// peers see (observed addresses, which hole punching uses), autorelay
// reserves relay slots while the node is not public, the relay service runs
// while it is, and kad-dht in ModeAuto serves the DHT only while it is.
// Those three follow event.EvtLocalReachabilityChanged, which go-libp2p
// has AutoNAT v1 emit; AutoNAT v1 is pinned to "unknown" here (it needs v1
// servers, which ronhost nodes do not run, and would only ever say
// unknown), and the reach tracker below emits the verdict instead:
//
//   - an address confirmed reachable by AutoNAT v2: public;
//   - a node on a local network only (no public listen address, no
//     public bootstrap peer or relay, never connected to a public
//     address; loopback tests, `make run`, a LAN): public, since every peer
//     it can know of can dial it;
//   - on the internet without a public listen address (it reaches public
//     peers from a private address: a NAT): private, unless AutoNAT v2
//     confirms an address (a forwarded port seen by enough peers);
//   - with public listen addresses that AutoNAT v2 found all unreachable
//     (a firewall): private;
//   - otherwise unknown (waiting for AutoNAT v2), which autorelay and the
//     DHT treat as private.
//
// The operator may instead fix the verdict (Config.Reachability "public"
// or "private"); AutoNAT v1 then emits it once and the tracker stays out.
//
// The addresses a node announces (its peer record, identify, DHT provider
// records) follow the same facts: on the internet, only public addresses
// that AutoNAT v2 confirmed (or all public ones when the operator says
// "public"), relay addresses while no direct address is confirmed, and
// Config.Announce; on a local network, every address it listens on.

// Reachability values of Config.Reachability.
const (
	ReachAuto    = "auto"
	ReachPublic  = "public"
	ReachPrivate = "private"
)

// reach is the reach tracker's state, shared with the host's address
// factory (called from go-libp2p's goroutines).
type reach struct {
	mode     string         // ReachAuto, ReachPublic or ReachPrivate
	announce []ma.Multiaddr // Config.Announce

	mu          sync.Mutex
	verdict     network.Reachability
	internet    bool // sticky: the node has seen the internet
	reachable   []ma.Multiaddr
	unreachable []ma.Multiaddr
}

func newReach(mode string, announce []ma.Multiaddr, internet bool) *reach {
	r := &reach{mode: mode, announce: announce, internet: internet, verdict: network.ReachabilityUnknown}
	switch mode {
	case ReachPublic:
		r.verdict = network.ReachabilityPublic
	case ReachPrivate:
		r.verdict = network.ReachabilityPrivate
	}
	return r
}

// anyPublic says whether one of addrs is a public IP or DNS address.
func anyPublic(addrs []ma.Multiaddr) bool {
	return slices.ContainsFunc(addrs, func(a ma.Multiaddr) bool { return !isRelayAddr(a) && manet.IsPublicAddr(a) })
}

// isRelayAddr says whether a is a circuit (relayed) address.
func isRelayAddr(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

// hasIP says whether a starts with an IP address (not a DNS name).
func hasIP(a ma.Multiaddr) bool {
	if len(a) == 0 {
		return false
	}
	switch a[0].Protocol().Code {
	case ma.P_IP4, ma.P_IP6, ma.P_IP6ZONE:
		return true
	}
	return false
}

// factory is the host's AddrsFactory: what this node announces, out of the
// addresses go-libp2p would (its listen, interface and observed addresses
// minus those AutoNAT v2 found unreachable, plus relay addresses while none
// is confirmed reachable).
func (r *reach) factory(in []ma.Multiaddr) []ma.Multiaddr {
	r.mu.Lock()
	internet, reachable, mode := r.internet, r.reachable, r.mode
	r.mu.Unlock()
	out := make([]ma.Multiaddr, 0, len(in)+len(r.announce))
	for _, a := range in {
		switch {
		case isRelayAddr(a):
			if mode != ReachPublic {
				out = append(out, a)
			}
		case !hasIP(a):
			out = append(out, a) // a DNS name the operator listens on
		case !manet.IsPublicAddr(a):
			if !internet {
				out = append(out, a) // a local network: loopback and LAN addresses work
			}
		case mode == ReachPublic:
			out = append(out, a)
		case mode == ReachAuto && slices.ContainsFunc(reachable, a.Equal):
			out = append(out, a)
		}
	}
	return append(out, r.announce...)
}

// snapshot returns the verdict and AutoNAT v2's confirmed addresses.
func (r *reach) snapshot() (network.Reachability, bool, []ma.Multiaddr, []ma.Multiaddr) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.verdict, r.internet, slices.Clone(r.reachable), slices.Clone(r.unreachable)
}

// evaluate recomputes the verdict from h's listen addresses and
// connections; it returns the verdict and whether it changed.
func (r *reach) evaluate(h host.Host) (network.Reachability, bool) {
	listen := publicListenAddrs(h)
	seen := false
	for _, c := range h.Network().Conns() {
		if ra := c.RemoteMultiaddr(); !isRelayAddr(ra) && manet.IsPublicAddr(ra) {
			seen = true
			break
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.internet = r.internet || seen || len(listen) > 0
	if r.mode != ReachAuto {
		return r.verdict, false
	}
	v := network.ReachabilityUnknown
	switch {
	case len(r.reachable) > 0:
		v = network.ReachabilityPublic
	case !r.internet:
		v = network.ReachabilityPublic
	case len(listen) == 0:
		v = network.ReachabilityPrivate
	case !slices.ContainsFunc(listen, func(a ma.Multiaddr) bool { return !slices.ContainsFunc(r.unreachable, a.Equal) }):
		v = network.ReachabilityPrivate
	}
	changed := v != r.verdict
	r.verdict = v
	return v, changed
}

// publicListenAddrs returns h's listen addresses, unspecified ones resolved
// to the interfaces' addresses, that are public.
func publicListenAddrs(h host.Host) []ma.Multiaddr {
	listen := h.Network().ListenAddresses()
	if ifaces, err := manet.InterfaceMultiaddrs(); err == nil {
		if res, err := manet.ResolveUnspecifiedAddresses(listen, ifaces); err == nil {
			listen = res
		}
	}
	return slices.DeleteFunc(listen, func(a ma.Multiaddr) bool { return isRelayAddr(a) || !manet.IsPublicAddr(a) })
}

// reachLoop keeps the verdict current until ctx ends, emitting
// EvtLocalReachabilityChanged when it changes. The first evaluation and
// emission are done by startReach before it returns.
func (o *Overlay) reachLoop(ctx context.Context, h host.Host, sub event.Subscription, em event.Emitter) {
	defer sub.Close()
	defer em.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-sub.Out():
			if !ok {
				return
			}
			if ev, ok := e.(event.EvtHostReachableAddrsChanged); ok {
				o.reach.mu.Lock()
				o.reach.reachable, o.reach.unreachable = ev.Reachable, ev.Unreachable
				o.reach.mu.Unlock()
				o.log.Info("AutoNAT v2", "reachable", ev.Reachable, "unreachable", ev.Unreachable, "unknown", ev.Unknown)
			}
		}
		if v, changed := o.reach.evaluate(h); changed {
			o.log.Info("reachability", "verdict", reachString(v))
			if err := em.Emit(event.EvtLocalReachabilityChanged{Reachability: v}); err != nil {
				o.log.Warn("emitting reachability", "err", err)
			}
		}
	}
}

// startReach subscribes the reach tracker to h's events and emits the
// first verdict, before the DHT starts (so that it starts in the right
// mode). It returns the loop to run (which closes the subscription and
// the emitter when it returns) and a function that closes them if the loop
// is never run; both are nil when the verdict is fixed.
func (o *Overlay) startReach(h host.Host) (loop func(ctx context.Context), abort func(), err error) {
	if o.reach.mode != ReachAuto {
		o.reach.evaluate(h)
		return nil, nil, nil
	}
	sub, err := h.EventBus().Subscribe([]any{
		new(event.EvtHostReachableAddrsChanged),
		new(event.EvtLocalAddressesUpdated),
		new(event.EvtPeerConnectednessChanged),
	}, eventbus.Name("ronhost reach"), eventbus.BufSize(256))
	if err != nil {
		return nil, nil, fmt.Errorf("overlay: reachability: %w", err)
	}
	em, err := h.EventBus().Emitter(new(event.EvtLocalReachabilityChanged), eventbus.Stateful)
	if err != nil {
		sub.Close()
		return nil, nil, fmt.Errorf("overlay: reachability: %w", err)
	}
	abort = func() { sub.Close(); em.Close() }
	v, _ := o.reach.evaluate(h)
	if err := em.Emit(event.EvtLocalReachabilityChanged{Reachability: v}); err != nil {
		abort()
		return nil, nil, fmt.Errorf("overlay: reachability: %w", err)
	}
	o.log.Info("reachability", "verdict", reachString(v))
	return func(ctx context.Context) { o.reachLoop(ctx, h, sub, em) }, abort, nil
}

func reachString(v network.Reachability) string {
	switch v {
	case network.ReachabilityPublic:
		return ReachPublic
	case network.ReachabilityPrivate:
		return ReachPrivate
	}
	return "unknown"
}
