package overlay

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/host/autorelay"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	relayv2 "github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	"github.com/libp2p/go-libp2p/p2p/protocol/holepunch"
	noise "github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ronhost/ronhost/internal/secretfile"
)

// SeedSize is the size of the identity file: an ed25519 seed.
const SeedSize = ed25519.SeedSize

// loadKey returns cfg.Key, or the key whose seed is kept in cfg.KeyFile
// (created on first use).
func loadKey(cfg Config) (crypto.PrivKey, error) {
	if cfg.Key != nil {
		return cfg.Key, nil
	}
	if cfg.KeyFile == "" {
		return nil, ErrNoIdentity
	}
	seed, err := secretfile.LoadOrCreate(cfg.KeyFile, SeedSize, func() ([]byte, error) {
		b := make([]byte, SeedSize)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, fmt.Errorf("overlay: identity: %w", err)
	}
	return KeyFromSeed(seed)
}

// KeyFromSeed returns the libp2p ed25519 key of a 32-byte seed (the content
// of Config.KeyFile).
func KeyFromSeed(seed []byte) (crypto.PrivKey, error) {
	if len(seed) != SeedSize {
		return nil, fmt.Errorf("overlay: identity seed is %d bytes, want %d", len(seed), SeedSize)
	}
	k, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		return nil, fmt.Errorf("overlay: identity: %w", err)
	}
	return k, nil
}

// limits returns the resource manager's limits for cfg: libp2p's default
// scaling limits (with its bundled services' limits) scaled to
// cfg.MaxMemory and 4*ConnHigh file descriptors, the system scope's memory
// capped at MaxMemory and its connection limits raised to ConnHigh when the
// scaled ones are lower (so the connection manager can reach its high
// watermark). Every limit is finite.
func limits(cfg Config) rcmgr.ConcreteLimitConfig {
	scaling := rcmgr.DefaultLimits // a copy; its maps are nil, so the Adds below do not share state
	libp2p.SetDefaultServiceLimits(&scaling)
	scaled := scaling.Scale(cfg.MaxMemory, 4*cfg.ConnHigh)
	sys := scaled.ToPartialLimitConfig().System
	over := rcmgr.PartialLimitConfig{System: rcmgr.ResourceLimits{Memory: rcmgr.LimitVal64(cfg.MaxMemory)}}
	if int(sys.Conns) < cfg.ConnHigh {
		over.System.Conns = rcmgr.LimitVal(cfg.ConnHigh)
	}
	if int(sys.ConnsInbound) < cfg.ConnHigh {
		over.System.ConnsInbound = rcmgr.LimitVal(cfg.ConnHigh)
	}
	if int(sys.ConnsOutbound) < cfg.ConnHigh {
		over.System.ConnsOutbound = rcmgr.LimitVal(cfg.ConnHigh)
	}
	if int(sys.FD) < cfg.ConnHigh {
		over.System.FD = rcmgr.LimitVal(cfg.ConnHigh)
	}
	return over.Build(scaled)
}

// preferTCP ranks a peer's addresses TCP first, the rest (QUIC) after
// quicDelay and relay addresses after relayDelay when the peer has direct
// ones: libp2p's default ranker prefers QUIC, whose per-packet crypto made
// a bulk fetch three times slower than TCP+TLS here (core/blob's benchmark:
// 370 vs 1106 MB/s); QUIC still connects when TCP does not, and a relay
// only when neither does.
func preferTCP(addrs []ma.Multiaddr) []network.AddrDelay {
	direct := slices.ContainsFunc(addrs, func(a ma.Multiaddr) bool { return !isRelayAddr(a) })
	out := make([]network.AddrDelay, 0, len(addrs))
	for _, a := range addrs {
		d := quicDelay
		if _, err := a.ValueForProtocol(ma.P_TCP); err == nil {
			d = 0
		}
		if isRelayAddr(a) && direct {
			d += relayDelay
		}
		out = append(out, network.AddrDelay{Addr: a, Delay: d})
	}
	return out
}

const (
	// quicDelay is how long a dial waits for TCP before trying QUIC too.
	quicDelay = 250 * time.Millisecond
	// relayDelay is how long a dial waits for direct addresses before
	// trying the peer's relay addresses too.
	relayDelay = 500 * time.Millisecond
)

// relayResources are the relay service's bounds for cfg.
func relayResources(l RelayLimits) relayv2.Resources {
	rc := relayv2.DefaultResources()
	rc.MaxReservations = l.Reservations
	rc.MaxCircuits = l.Circuits
	rc.Limit = &relayv2.RelayLimit{Duration: l.CircuitDuration, Data: l.CircuitBytes}
	return rc
}

// pinAutoNATv1 fixes AutoNAT v1's verdict at v: it emits it once and never
// probes (see reach.go: the reach tracker emits the verdict instead).
func pinAutoNATv1(v network.Reachability) libp2p.Option {
	return func(c *libp2p.Config) error {
		c.AutoNATConfig.ForceReachability = &v
		return nil
	}
}

// buildHost makes the libp2p host: TCP and QUIC, Noise and TLS, the
// connection manager and the resource manager, AutoNAT v2, identify's
// observed addresses, the relay transport, autorelay (unless the node is
// public by configuration), hole punching (DCUtR), the relay service when
// configured, the address factory of the reach tracker, and no metrics on
// the global Prometheus registry (two nodes may run in one process).
func (o *Overlay) buildHost(key crypto.PrivKey, cfg Config) (host.Host, error) {
	cm, err := connmgr.NewConnManager(cfg.ConnLow, cfg.ConnHigh)
	if err != nil {
		return nil, fmt.Errorf("overlay: connection manager: %w", err)
	}
	var rm network.ResourceManager
	rm, err = rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits(cfg)))
	if err != nil {
		cm.Close()
		return nil, fmt.Errorf("overlay: resource manager: %w", err)
	}
	opts := []libp2p.Option{
		libp2p.Identity(key),
		libp2p.ListenAddrStrings(cfg.Listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		// TLS first: measured here (core/blob's Fetch1GiB benchmark), a
		// Noise stream costs 38% more CPU per byte than TLS with AES-GCM.
		// TLS is libp2p's, with its records written and read in batches
		// (tlsconn.go).
		libp2p.Security(libp2ptls.ID, TLS),
		libp2p.Security(noise.ID, noise.New),
		libp2p.SwarmOpts(swarm.WithDialRanker(preferTCP)),
		libp2p.ConnectionManager(cm),
		libp2p.ResourceManager(rm),
		libp2p.DisableMetrics(),
		libp2p.UserAgent("ronhost"),
		libp2p.EnableRelay(),
		libp2p.EnableAutoNATv2(),
		libp2p.AddrsFactory(o.reach.factory),
	}
	switch cfg.Reachability {
	case ReachPublic:
		opts = append(opts, libp2p.ForceReachabilityPublic())
	case ReachPrivate:
		opts = append(opts, libp2p.ForceReachabilityPrivate())
	default:
		opts = append(opts, pinAutoNATv1(network.ReachabilityUnknown))
	}
	if cfg.Reachability != ReachPublic {
		opts = append(opts, libp2p.EnableAutoRelayWithPeerSource(o.relayCandidates,
			autorelay.WithMinCandidates(1),
			autorelay.WithBootDelay(0),
			autorelay.WithMinInterval(relayRetry),
			autorelay.WithBackoff(relayBackoff)))
	}
	if !cfg.NoHolePunching {
		opts = append(opts, libp2p.EnableHolePunching(holepunch.WithTracer(o.punches)))
	}
	if cfg.RelayService {
		opts = append(opts, libp2p.EnableRelayService(relayv2.WithResources(relayResources(cfg.RelayLimits))))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		rm.Close()
		cm.Close()
		return nil, fmt.Errorf("overlay: starting the libp2p host: %w", err)
	}
	return h, nil
}
