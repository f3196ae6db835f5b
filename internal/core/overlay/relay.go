package overlay

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/proto"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
)

// Relays and hole punching.
//
// A node that is not public keeps a reservation on up to two relays
// (go-libp2p's autorelay): the static ones of Config.Relays first, then any
// connected peer that offers the circuit relay v2 hop protocol (a public
// node with RelayService on). Its relay addresses
// (/ip4/R/tcp/P/p2p/<relay>/p2p-circuit/p2p/<node>) are then what it
// announces. A peer that dials such an address gets a relayed connection;
// the node that receives it starts DCUtR (hole punching: both sides dial
// each other's observed address at once) and, when that works, the two
// have a direct connection as well, which every new stream then uses.

// RelayLimits bound what a relay service gives to others.
type RelayLimits struct {
	// Reservations is how many peers may hold a slot at once.
	Reservations int
	// Circuits is how many relayed connections one peer may have open.
	Circuits int
	// CircuitBytes is how many bytes one relayed connection may carry in
	// each direction before the relay resets it.
	CircuitBytes int64
	// CircuitDuration is how long one relayed connection may last.
	CircuitDuration time.Duration
}

// Defaults of RelayLimits (go-libp2p's own).
const (
	DefaultRelayReservations    = 128
	DefaultRelayCircuits        = 16
	DefaultRelayCircuitBytes    = 128 << 10
	DefaultRelayCircuitDuration = 2 * time.Minute
)

const (
	// relayRetry is how often autorelay asks for candidates while it has
	// none (a static relay that is not serving yet is asked again then).
	relayRetry = 10 * time.Second
	// relayBackoff is how long a relay that refused a reservation is left
	// alone.
	relayBackoff = 10 * time.Minute
)

func (l *RelayLimits) defaults() {
	if l.Reservations <= 0 {
		l.Reservations = DefaultRelayReservations
	}
	if l.Circuits <= 0 {
		l.Circuits = DefaultRelayCircuits
	}
	if l.CircuitBytes <= 0 {
		l.CircuitBytes = DefaultRelayCircuitBytes
	}
	if l.CircuitDuration <= 0 {
		l.CircuitDuration = DefaultRelayCircuitDuration
	}
}

// hostRef holds the host for callbacks that go-libp2p may call while the
// host is still being built (it is nil then).
type hostRef struct{ p atomic.Pointer[host.Host] }

func (r *hostRef) get() host.Host {
	if h := r.p.Load(); h != nil {
		return *h
	}
	return nil
}

func (r *hostRef) set(h host.Host) { r.p.Store(&h) }

// relayCandidates is autorelay's peer source: the static relays, then the
// connected peers that offer the hop protocol, at most num.
func (o *Overlay) relayCandidates(_ context.Context, num int) <-chan peer.AddrInfo {
	out := make([]peer.AddrInfo, 0, num)
	h := o.hostRef.get()
	for _, ai := range o.relays {
		if len(out) < num && (h == nil || ai.ID != h.ID()) {
			out = append(out, ai)
		}
	}
	if h != nil {
		for _, p := range h.Network().Peers() {
			if len(out) >= num || p == h.ID() || slices.ContainsFunc(out, func(ai peer.AddrInfo) bool { return ai.ID == p }) {
				continue
			}
			if ok, err := h.Peerstore().SupportsProtocols(p, proto.ProtoIDv2Hop); err == nil && len(ok) > 0 {
				out = append(out, peer.AddrInfo{ID: p, Addrs: h.Peerstore().Addrs(p)})
			}
		}
	}
	ch := make(chan peer.AddrInfo, len(out))
	for _, ai := range out {
		ch <- ai
	}
	close(ch)
	return ch
}

// punchTracer counts hole punches (holepunch.EventTracer).
type punchTracer struct {
	started, succeeded, failed, directDials atomic.Int64
}

// Trace implements holepunch.EventTracer.
func (t *punchTracer) Trace(evt *holepunch.Event) {
	switch e := evt.Evt.(type) {
	case *holepunch.StartHolePunchEvt:
		t.started.Add(1)
	case *holepunch.EndHolePunchEvt:
		if e.Success {
			t.succeeded.Add(1)
		} else {
			t.failed.Add(1)
		}
	case *holepunch.DirectDialEvt:
		if e.Success {
			t.directDials.Add(1)
		}
	}
}

// HolePunches counts this node's hole punching attempts since Start.
type HolePunches struct {
	Started     int64 `json:"started"`
	Succeeded   int64 `json:"succeeded"`
	Failed      int64 `json:"failed"`
	DirectDials int64 `json:"direct_dials"` // direct connections made without punching (the peer was dialable)
}
