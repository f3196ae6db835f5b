package overlay

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	ipfscid "github.com/ipfs/go-cid"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/host/eventbus"
	mh "github.com/multiformats/go-multihash"

	"github.com/ronhost/ronhost/internal/core/cid"
)

// Multicodec and multihash codes of the DHT key.
const (
	codecRaw   = 0x55
	hashBLAKE3 = 0x1e
)

// Key returns the IPFS CID under which c is provided in the DHT: CIDv1,
// codec raw (0x55), multihash BLAKE3 (0x1e) of c's 32 bytes. The DHT's key
// is its multihash.
func Key(c cid.CID) ipfscid.Cid {
	h, err := mh.Encode(c[:], hashBLAKE3)
	if err != nil { // only for unknown codes or a wrong length: never for these
		panic(fmt.Sprintf("overlay: encoding the multihash of %s: %v", c, err))
	}
	return ipfscid.NewCidV1(codecRaw, h)
}

// Provide announces now that this node provides c (puts a provider record
// on the DHT peers closest to c's key) and remembers c as a root to
// announce again every Config.Reprovide. The root is remembered even when
// the announcement fails (ErrNotReady: no peer yet; ErrNoAddress: no
// address to announce yet; ctx ended; ...); the reprovider then tries
// again as soon as there are both, or within a minute (or Reprovide if
// shorter).
func (o *Overlay) Provide(ctx context.Context, c cid.CID) error {
	_, d, err := o.running()
	if err != nil {
		return err
	}
	o.rootsMu.Lock()
	if _, ok := o.roots[c]; !ok {
		o.roots[c] = &root{}
	}
	o.rootsMu.Unlock()
	return o.announce(ctx, d, c)
}

// Unprovide stops re-announcing c. Records already on other peers expire
// on their own (48h), as does the one this node keeps for itself (so peers
// that ask it may still be told it provides c); kad-dht cannot withdraw them.
func (o *Overlay) Unprovide(c cid.CID) {
	o.rootsMu.Lock()
	delete(o.roots, c)
	o.rootsMu.Unlock()
}

// announce puts c's provider record and notes the outcome on its root.
func (o *Overlay) announce(ctx context.Context, d *dht.IpfsDHT, c cid.CID) error {
	start := time.Now()
	var err error
	switch {
	case d.RoutingTable().Size() == 0:
		err = ErrNotReady // nobody to tell; kad-dht would say "failed to find any peer in table"
		o.notReady.Store(true)
	case len(o.hostRef.get().Addrs()) == 0:
		// No address to give: a DHT server drops a provider record
		// without one (a node behind a NAT before its relay slot).
		err = ErrNoAddress
		o.notReady.Store(true)
	default:
		err = d.Provide(ctx, Key(c), true)
	}
	o.rootsMu.Lock()
	if r, ok := o.roots[c]; ok {
		r.tried = start
		if err == nil {
			r.done = start
		}
	}
	o.rootsMu.Unlock()
	if o.onAnnounce != nil {
		o.onAnnounce(c, err)
	}
	if err != nil {
		return fmt.Errorf("overlay: providing %s: %w", c, err)
	}
	o.log.Debug("provided", "cid", c, "took", time.Since(start))
	return nil
}

// watchForProviding subscribes to what may make a waiting announcement
// possible: a peer identified (kad-dht then adds it to the routing table,
// after its own checks) and a change of the host's addresses.
//
// It does not wrap the routing table's PeerAdded: kad-dht's goroutines,
// started by dht.New, read that field without a lock, and a peer that
// connects while it is replaced (a host that serves before its DHT starts)
// is a data race.
func (o *Overlay) watchForProviding(h host.Host) (event.Subscription, error) {
	sub, err := h.EventBus().Subscribe([]any{new(event.EvtLocalAddressesUpdated), new(event.EvtPeerIdentificationCompleted)},
		eventbus.Name("ronhost providing"))
	if err != nil {
		return nil, fmt.Errorf("overlay: watching peers and addresses: %w", err)
	}
	return sub, nil
}

// forwardWakes drains sub (the event bus waits for slow subscribers, and
// the reprovider may be busy announcing for minutes) into o.wake, which
// holds one wake at most, until ctx ends; then it closes sub.
func (o *Overlay) forwardWakes(ctx context.Context, sub event.Subscription) {
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.Out():
			select {
			case o.wake <- struct{}{}:
			default:
			}
		}
	}
}

// Rechecks after a wake that did not find the node ready: kad-dht adds an
// identified peer to its routing table only after checking it, so the
// reprovider looks again after recheckFirst, doubling up to recheckMax,
// until it is ready or the next wake starts over.
const (
	recheckFirst = 50 * time.Millisecond
	recheckMax   = 10 * time.Second
)

// reprovideLoop announces the roots that are due until ctx ends. Roots
// whose announcement found the routing table empty, or the node without an
// address to announce, are announced as soon as both are there: a peer
// identified or a new address wakes it (watchForProviding), and it looks
// again shortly after (recheckFirst), not a retry interval later. So
// objects published before the node had a peer (a node that joins through
// a peer not yet serving the DHT, one waiting for AutoNAT or a relay slot)
// are provided at once.
func (o *Overlay) reprovideLoop(ctx context.Context, d *dht.IpfsDHT) {
	tick := min(o.cfg.Reprovide, o.retry)
	t := time.NewTicker(tick)
	defer t.Stop()
	recheck := time.NewTimer(recheckMax)
	recheck.Stop()
	defer recheck.Stop()
	wait := recheckFirst
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			o.reprovide(ctx, d, tick, false)
			continue
		case <-o.wake:
			wait = recheckFirst
		case <-recheck.C:
			wait = min(2*wait, recheckMax)
		}
		if !o.notReady.Load() {
			continue
		}
		if d.RoutingTable().Size() == 0 || len(o.hostRef.get().Addrs()) == 0 {
			recheck.Reset(wait)
			continue
		}
		o.notReady.Store(false)
		o.log.Debug("a peer and an address: providing what waited")
		o.reprovide(ctx, d, tick, true)
	}
}

// reprovide announces, reprovideWorkers at a time, every root whose last
// success is about Reprovide old (within half a tick) and every root whose
// last attempt failed a retry interval ago (with failed, every root whose
// last attempt failed). Nothing is tried while the routing table is empty.
func (o *Overlay) reprovide(ctx context.Context, d *dht.IpfsDHT, tick time.Duration, failed bool) {
	if d.RoutingTable().Size() == 0 {
		return
	}
	now := time.Now()
	soon := now.Add(tick / 2)
	var due []cid.CID
	o.rootsMu.Lock()
	for c, r := range o.roots {
		ok := !r.done.IsZero() && r.done.Equal(r.tried)
		if ok && !r.done.Add(o.cfg.Reprovide).After(soon) || !ok && (failed || !r.tried.Add(tick).After(soon)) {
			due = append(due, c)
		}
	}
	o.rootsMu.Unlock()
	if len(due) == 0 {
		return
	}
	o.log.Debug("reproviding", "roots", len(due))
	work := make(chan cid.CID)
	var wg sync.WaitGroup
	for range min(reprovideWorkers, len(due)) {
		wg.Go(func() {
			for c := range work {
				pctx, cancel := context.WithTimeout(ctx, provideTimeout)
				if err := o.announce(pctx, d, c); err != nil && ctx.Err() == nil {
					o.log.Warn("reproviding", "cid", c, "err", err)
				}
				cancel()
			}
		})
	}
	for _, c := range due {
		select {
		case work <- c:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
}

// FindProviders returns up to max providers of c found through the DHT
// (max <= 0: 20), never this node, each with the addresses the DHT or the
// peerstore knows, those this node can reach directly first (connected
// directly, then with a direct address it can dial, then those that only
// relay addresses reach), in the order found otherwise. It returns when max providers are found or the lookup
// ends; with none found and ctx ended, the error wraps ctx.Err(). No
// provider is not an error: the slice is empty.
func (o *Overlay) FindProviders(ctx context.Context, c cid.CID, max int) ([]peer.AddrInfo, error) {
	h, d, err := o.running()
	if err != nil {
		return nil, err
	}
	if max <= 0 {
		max = defaultMaxProviders
	}
	k := Key(c)
	// The DHT lists this node among the providers it holds locally; ask
	// for one more then, so that max others can still be found.
	count := max
	if local, err := d.ProviderStore().GetProviders(ctx, k.Hash()); err == nil &&
		slices.ContainsFunc(local, func(ai peer.AddrInfo) bool { return ai.ID == h.ID() }) {
		count++
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out []peer.AddrInfo
	for ai := range d.FindProvidersAsync(fctx, k, count) {
		if ai.ID == h.ID() || len(out) == max || slices.ContainsFunc(out, func(x peer.AddrInfo) bool { return x.ID == ai.ID }) {
			continue
		}
		if len(ai.Addrs) == 0 {
			ai.Addrs = h.Peerstore().Addrs(ai.ID)
		}
		out = append(out, ai)
		if len(out) == max {
			cancel() // the channel closes soon; drain it
		}
	}
	if len(out) == 0 && ctx.Err() != nil {
		return nil, fmt.Errorf("overlay: finding providers of %s: %w", c, ctx.Err())
	}
	_, internet, _, _ := o.reach.snapshot()
	rank := make(map[peer.ID]int, len(out))
	for _, ai := range out {
		rank[ai.ID] = directness(h, internet, ai)
	}
	slices.SortStableFunc(out, func(a, b peer.AddrInfo) int { return rank[a.ID] - rank[b.ID] })
	return out, nil
}

// ClosestPeers returns the peers closest to c's DHT key, nearest first, as
// a DHT lookup finds them (up to the bucket size, 20), never this node; if
// the lookup fails (ctx ended, no peers) it falls back to the nearest peers
// of the routing table. These are the peers a provider lookup reaches first
// (replication candidates).
func (o *Overlay) ClosestPeers(ctx context.Context, c cid.CID) []peer.ID {
	h, d, err := o.running()
	if err != nil {
		return nil
	}
	key := string(Key(c).Hash())
	ps, err := d.GetClosestPeers(ctx, key)
	if err != nil || len(ps) == 0 {
		ps = d.RoutingTable().NearestPeers(kb.ConvertKey(key), d.BucketSize())
	}
	ps = slices.DeleteFunc(slices.Clone(ps), func(p peer.ID) bool { return p == h.ID() })
	return kb.SortClosestPeers(ps, kb.ConvertKey(key))
}
