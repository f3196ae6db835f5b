package overlay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ronhost/ronhost/internal/core/cid"
)

// ProtocolPrefix is the prefix of the DHT's protocol: ronhost nodes speak
// /ronhost/kad/1.0.0 and never join the IPFS DHT.
const ProtocolPrefix = "/ronhost"

// Sentinel errors.
var (
	// ErrNotStarted: the method needs a started Overlay.
	ErrNotStarted = errors.New("overlay: not started")
	// ErrClosed: Close was called.
	ErrClosed = errors.New("overlay: closed")
	// ErrNotReady: the routing table is empty (no peer reached yet).
	ErrNotReady = errors.New("overlay: not ready: no DHT peer yet")
	// ErrNoAddress: the node has no address to announce yet (behind a NAT,
	// before it holds a relay slot), so a provider record would be dropped.
	ErrNoAddress = errors.New("overlay: not ready: no address to announce yet (waiting for a relay slot)")
	// ErrInvalidAddr: a multiaddr does not parse or lacks /p2p/<id>.
	ErrInvalidAddr = errors.New("overlay: invalid multiaddr")
	// ErrNoIdentity: neither Config.KeyFile nor Config.Key nor Config.Host is set.
	ErrNoIdentity = errors.New("overlay: no identity (set KeyFile or Key)")
)

// Defaults applied to zero Config fields.
const (
	DefaultConnLow   = 64
	DefaultConnHigh  = 128
	DefaultReprovide = 12 * time.Hour
	// DefaultMaxMemory is the resource manager's memory budget when
	// Config.MaxMemory is 0.
	DefaultMaxMemory = 256 << 20
	// retryAfter bounds how long a root whose announcement failed waits
	// before it is tried again (Reprovide if that is shorter).
	retryAfter = time.Minute
	// provideTimeout bounds one announcement by the reprovider.
	provideTimeout = 2 * time.Minute
	// reprovideWorkers announce roots concurrently.
	reprovideWorkers = 4
	// dialTimeout bounds one bootstrap dial in Start.
	dialTimeout = 10 * time.Second
	// defaultMaxProviders is FindProviders' max when it is given <= 0.
	defaultMaxProviders = 20
)

// Config configures an Overlay. The zero value with a KeyFile is a node
// listening on loopback that joins nobody.
type Config struct {
	// KeyFile holds the node's ed25519 seed (32 bytes, mode 0600), created on
	// first start (internal/secretfile); the peer ID derives from it. Its
	// directory must exist.
	KeyFile string
	// Key is used instead of KeyFile (tests).
	Key crypto.PrivKey
	// Listen are the multiaddrs to listen on; empty: /ip4/127.0.0.1/tcp/0 and
	// /ip4/127.0.0.1/udp/0/quic-v1.
	Listen []string
	// Bootstrap are peers to join through: multiaddrs ending in /p2p/<id>
	// (this node's own entry, if listed, is skipped).
	Bootstrap []string
	// Host is a prebuilt host (tests: mocknet). Key, KeyFile, Listen,
	// ConnLow, ConnHigh and MaxMemory are then ignored, and Close leaves it open.
	Host host.Host
	// ConnLow and ConnHigh are the connection manager's watermarks; 0: 64, 128.
	ConnLow, ConnHigh int
	// MaxMemory is the resource manager's memory budget in bytes (its limits
	// are scaled from it and the system scope's memory is capped at it);
	// 0: DefaultMaxMemory. The limits are never unlimited. A quarter of it
	// more bounds the DHT records other peers store here (dhtstore.go),
	// also with Host.
	MaxMemory int64
	// Reprovide is how often every root is announced again; 0: 12h (kad-dht
	// provider records expire after 48h).
	Reprovide time.Duration

	// Reachability is ReachAuto (""), ReachPublic or ReachPrivate: whether
	// AutoNAT v2 and the node's addresses decide if other nodes can dial
	// it, or the operator does (see reach.go). A public node serves the
	// DHT (kad-dht server mode) and, with RelayService, relays; any other
	// is a DHT client that reserves relay slots. Ignored with Host.
	Reachability string
	// Announce are multiaddrs announced besides the confirmed ones (a
	// forwarded port, a DNS name), without /p2p/.
	Announce []string
	// Relays are static relays (multiaddrs ending in /p2p/<id>) a node that
	// is not public reserves a slot on; connected peers that offer the
	// relay protocol are candidates too.
	Relays []string
	// RelayService makes this node a circuit relay v2 for others while it is
	// public, within RelayLimits.
	RelayService bool
	// RelayLimits bound the relay service; zero fields: go-libp2p's defaults.
	RelayLimits RelayLimits
	// RelayData lets bulk data (streams opened on DataHost) run over a
	// relayed connection when hole punching gives no direct one.
	RelayData bool
	// NoHolePunching turns DCUtR (hole punching) off.
	NoHolePunching bool
	// Logger receives the overlay's log lines; nil discards them.
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.ConnLow <= 0 {
		c.ConnLow = DefaultConnLow
	}
	if c.ConnHigh <= 0 {
		c.ConnHigh = DefaultConnHigh
	}
	if c.ConnHigh < c.ConnLow {
		c.ConnHigh = c.ConnLow
	}
	if c.MaxMemory <= 0 {
		c.MaxMemory = DefaultMaxMemory
	}
	if c.Reprovide <= 0 {
		c.Reprovide = DefaultReprovide
	}
	if len(c.Listen) == 0 {
		c.Listen = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Reachability == "" {
		c.Reachability = ReachAuto
	}
	c.RelayLimits.defaults()
}

type state int

const (
	stateNew state = iota
	stateStarted
	stateClosed
)

// Overlay is a node's libp2p host and DHT. Its methods are safe for
// concurrent use.
type Overlay struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex // guards the fields below; held through Start
	state   state
	host    host.Host
	ownHost bool
	dht     *dht.IpfsDHT
	nboot   int // bootstrap peers other than this node
	cancel  context.CancelFunc
	wg      sync.WaitGroup // the reprovider and the reach tracker

	reach     *reach          // the reachability verdict and the address factory (own hosts)
	hostRef   hostRef         // the host, for go-libp2p's callbacks
	relays    []peer.AddrInfo // Config.Relays
	punches   *punchTracer
	relayOnly relayOnlyPeers

	rootsMu  sync.Mutex
	roots    map[cid.CID]*root
	notReady atomic.Bool // an announcement found the routing table empty
	// wake tells the reprovider that a peer was identified or the
	// addresses changed (providing.go).
	wake chan struct{}
	// retry is how long a failed announcement waits (retryAfter; tests
	// set it to hours so that only wake can make the reprovider act).
	retry time.Duration

	// onAnnounce, if set before Start, is called after every announcement
	// (tests).
	onAnnounce func(c cid.CID, err error)
	// directWait, if set before Start, replaces DirectWait (tests).
	directWait time.Duration
	// records is the DHT's datastore, bounded (dhtstore.go).
	records *dhtStore
	// dhtBudget, if set before Start, replaces the records' budget
	// (MaxMemory/4; tests).
	dhtBudget int64
	// dhtOpts, if set before Start, are added to the DHT's options (the
	// simulation's time scale).
	dhtOpts []dht.Option
}

// root is a remembered CID to announce again.
type root struct {
	tried time.Time // last announcement attempt
	done  time.Time // last successful announcement; zero if none
}

// New returns an Overlay configured by cfg. It does no I/O.
func New(cfg Config) *Overlay {
	cfg.defaults()
	return &Overlay{cfg: cfg, log: cfg.Logger, roots: make(map[cid.CID]*root), wake: make(chan struct{}, 1), retry: retryAfter}
}

// Start builds the host (unless Config.Host is set), starts the reach
// tracker and the DHT under ProtocolPrefix without any IPFS bootstrap peer
// (in server mode while the node is public, client mode otherwise; always
// server mode on a prebuilt host), dials
// the bootstrap peers (in parallel, each bounded by ctx and 10s; a peer that
// cannot be reached is logged, not fatal: the DHT keeps retrying the
// bootstrap peers while its routing table is empty), asks the DHT to refresh
// its routing table and starts the reprovider. If ctx ends meanwhile, all
// is undone and the error wraps ctx.Err(). See Ready for when the node can
// find anything.
func (o *Overlay) Start(ctx context.Context) (err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch o.state {
	case stateStarted:
		return errors.New("overlay: already started")
	case stateClosed:
		return ErrClosed
	}
	boot, err := parseAddrs(o.cfg.Bootstrap)
	if err != nil {
		return err
	}
	if o.relays, err = parseAddrs(o.cfg.Relays); err != nil {
		return err
	}
	announce, err := parseAnnounce(o.cfg.Announce)
	if err != nil {
		return err
	}
	switch o.cfg.Reachability {
	case ReachAuto, ReachPublic, ReachPrivate:
	default:
		return fmt.Errorf("overlay: reachability %q is not auto, public or private", o.cfg.Reachability)
	}
	var known []ma.Multiaddr
	for _, ai := range append(slices.Clone(boot), o.relays...) {
		known = append(known, ai.Addrs...)
	}
	o.reach = newReach(o.cfg.Reachability, announce, anyPublic(known))
	o.punches = &punchTracer{}
	h, own := o.cfg.Host, false
	mode := dht.ModeServer // a prebuilt host (tests, the simulation) always serves
	if h == nil {
		key, err := loadKey(o.cfg)
		if err != nil {
			return err
		}
		if h, err = o.buildHost(key, o.cfg); err != nil {
			return err
		}
		own, mode = true, dht.ModeAuto
	}
	o.hostRef.set(h)
	defer func() {
		if err != nil && own {
			h.Close()
		}
	}()
	var reachLoop func(context.Context)
	if own {
		var abort func()
		if reachLoop, abort, err = o.startReach(h); err != nil {
			return err
		}
		if abort != nil {
			defer func() {
				if err != nil {
					abort()
				}
			}()
		}
	}
	boot = slices.DeleteFunc(boot, func(ai peer.AddrInfo) bool { return ai.ID == h.ID() })
	budget := o.cfg.MaxMemory / 4
	if o.dhtBudget > 0 {
		budget = o.dhtBudget
	}
	o.records = newDHTStore(h.ID(), budget)
	d, err := dht.New(h, append([]dht.Option{
		dht.Datastore(o.records), // bounded (dhtstore.go)
		dht.Mode(mode),
		dht.ProtocolPrefix(ProtocolPrefix),
		dht.BootstrapPeers(boot...),
	}, o.dhtOpts...)...)
	if err != nil {
		return fmt.Errorf("overlay: starting the DHT: %w", err)
	}
	// The wakes are forwarded from now on: identify waits for its event's
	// subscribers, and connecting to the bootstrap peers waits for identify.
	rctx, cancel := context.WithCancel(context.Background())
	wakes, err := o.watchForProviding(h)
	if err != nil {
		cancel()
		d.Close()
		return err
	}
	o.wg.Go(func() { o.forwardWakes(rctx, wakes) })
	defer func() {
		if err != nil {
			cancel()
			o.wg.Wait()
		}
	}()
	o.connectAll(ctx, h, boot)
	if err := ctx.Err(); err != nil {
		d.Close()
		return fmt.Errorf("overlay: starting: %w", err)
	}
	if err := d.Bootstrap(ctx); err != nil {
		d.Close()
		return fmt.Errorf("overlay: bootstrapping the DHT: %w", err)
	}
	o.host, o.ownHost, o.dht, o.cancel, o.nboot = h, own, d, cancel, len(boot)
	o.state = stateStarted
	o.wg.Go(func() { o.reprovideLoop(rctx, d) })
	if reachLoop != nil {
		o.wg.Go(func() { reachLoop(rctx) })
	}
	o.log.Info("overlay started", "peer", h.ID(), "addrs", o.addrsLocked(), "bootstrap", len(boot))
	return nil
}

// connectAll dials the bootstrap peers in parallel and waits for the dials.
func (o *Overlay) connectAll(ctx context.Context, h host.Host, boot []peer.AddrInfo) {
	var wg sync.WaitGroup
	for _, ai := range boot {
		wg.Go(func() {
			dctx, cancel := context.WithTimeout(ctx, dialTimeout)
			defer cancel()
			if err := h.Connect(dctx, ai); err != nil {
				o.log.Warn("bootstrap peer unreachable", "peer", ai.ID, "err", err)
			}
		})
	}
	wg.Wait()
}

// Close stops the reprovider, closes the DHT and, unless it was given in
// Config.Host, the host. It waits for every goroutine the Overlay started.
// Closing twice, or before Start, is fine.
func (o *Overlay) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.state != stateStarted {
		o.state = stateClosed
		return nil
	}
	o.state = stateClosed
	o.cancel()
	o.wg.Wait()
	err := o.dht.Close()
	if o.ownHost {
		err = errors.Join(err, o.host.Close())
	}
	if err != nil {
		return fmt.Errorf("overlay: closing: %w", err)
	}
	return nil
}

// running returns the host and the DHT of a started Overlay.
func (o *Overlay) running() (host.Host, *dht.IpfsDHT, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch o.state {
	case stateNew:
		return nil, nil, ErrNotStarted
	case stateClosed:
		return nil, nil, ErrClosed
	}
	return o.host, o.dht, nil
}

// Host returns the libp2p host (nil before Start). core/blob serves on it.
func (o *Overlay) Host() host.Host {
	h, _, _ := o.running()
	return h
}

// ID returns the node's peer ID ("" before Start).
func (o *Overlay) ID() peer.ID {
	h, _, _ := o.running()
	if h == nil {
		return ""
	}
	return h.ID()
}

// Addrs returns the node's listen addresses as full multiaddrs ending in
// /p2p/<id>, for other nodes' Bootstrap or Connect (nil before Start).
func (o *Overlay) Addrs() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.state != stateStarted {
		return nil
	}
	return o.addrsLocked()
}

func (o *Overlay) addrsLocked() []string {
	full, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: o.host.ID(), Addrs: o.host.Addrs()})
	if err != nil {
		return nil
	}
	out := make([]string, len(full))
	for i, a := range full {
		out[i] = a.String()
	}
	return out
}

// Connect dials the peer at addr (a multiaddr ending in /p2p/<id>); the DHT
// adds it to its routing table once identify tells it the peer speaks the
// ronhost DHT protocol.
func (o *Overlay) Connect(ctx context.Context, addr string) error {
	h, _, err := o.running()
	if err != nil {
		return err
	}
	ais, err := parseAddrs([]string{addr})
	if err != nil {
		return err
	}
	if err := h.Connect(ctx, ais[0]); err != nil {
		return fmt.Errorf("overlay: connecting to %s: %w", addr, err)
	}
	return nil
}

// Ready returns nil once the DHT's routing table holds a peer, or at once
// when no bootstrap peer other than this node is configured (the first
// node of a network);
// ErrNotReady before that, ErrNotStarted or ErrClosed outside Start..Close.
func (o *Overlay) Ready() error {
	_, d, err := o.running()
	if err != nil {
		return err
	}
	if o.nboot == 0 || d.RoutingTable().Size() > 0 {
		return nil
	}
	return ErrNotReady
}

// Peers returns how many peers the DHT's routing table holds.
func (o *Overlay) Peers() int {
	_, d, err := o.running()
	if err != nil {
		return 0
	}
	return d.RoutingTable().Size()
}

// parseAnnounce parses addresses to announce: multiaddrs without /p2p/.
func parseAnnounce(addrs []string) ([]ma.Multiaddr, error) {
	var out []ma.Multiaddr
	for _, s := range addrs {
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %v", ErrInvalidAddr, s, err)
		}
		if _, err := m.ValueForProtocol(ma.P_P2P); err == nil {
			return nil, fmt.Errorf("%w %q: an address to announce has no /p2p/<peer id>", ErrInvalidAddr, s)
		}
		out = append(out, m)
	}
	return out, nil
}

// parseAddrs parses multiaddrs ending in /p2p/<id>, merging the addresses
// of a peer given several times.
func parseAddrs(addrs []string) ([]peer.AddrInfo, error) {
	var out []peer.AddrInfo
	idx := make(map[peer.ID]int)
	for _, s := range addrs {
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %v", ErrInvalidAddr, s, err)
		}
		ai, err := peer.AddrInfoFromP2pAddr(m)
		if err != nil {
			return nil, fmt.Errorf("%w %q (it must end in /p2p/<peer id>): %v", ErrInvalidAddr, s, err)
		}
		if i, ok := idx[ai.ID]; ok {
			out[i].Addrs = append(out[i].Addrs, ai.Addrs...)
			continue
		}
		idx[ai.ID] = len(out)
		out = append(out, *ai)
	}
	return out, nil
}
