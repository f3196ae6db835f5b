package overlay

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/routing"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ronhost/ronhost/internal/core/cid"
)

// The scale simulation: thousands of real Overlays (go-libp2p hosts and
// go-libp2p-kad-dht, unchanged) on libp2p's in-memory network (mocknet),
// with churn. Time is simulated in rounds, one round a simulated minute:
// in a round a share of the nodes leaves and as many new ones join, a
// tenth of the nodes refresh their routing tables (kad-dht refreshes every
// 10 minutes; its own timer is off so wall-clock time plays no part), new
// objects are provided, and lookups of objects provided so far (this
// round's included) by nodes still there are measured: success, hops (query depth of the
// first record holder queried), peers queried and latency, against one DHT
// round trip (a PING on an open connection) measured in the same round.

// errSimGone: a dial to a node that has left the simulation.
var errSimGone = errors.New("sim: the peer has left")

// simNet is a mocknet whose nodes are linked on first dial rather than all
// up front (2,000 nodes would need two million links), and whose departed
// nodes cannot be dialled at all.
type simNet struct {
	mn   mocknet.Mocknet
	mu   sync.Mutex
	nbrs map[peer.ID][]peer.ID // linked peers, for unlinking on departure
	gone map[peer.ID]bool
}

func (s *simNet) link(a, b peer.ID) error {
	if a == b {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gone[a] || s.gone[b] {
		return fmt.Errorf("%w: %s", errSimGone, b.ShortString())
	}
	if len(s.mn.LinksBetweenPeers(a, b)) > 0 {
		return nil
	}
	if _, err := s.mn.LinkPeers(a, b); err != nil {
		return err
	}
	s.nbrs[a] = append(s.nbrs[a], b)
	s.nbrs[b] = append(s.nbrs[b], a)
	return nil
}

// leave makes p undialable and removes its links (its host is closed by
// the caller, which closes its connections).
func (s *simNet) leave(p peer.ID) {
	s.mu.Lock()
	s.gone[p] = true
	nb := s.nbrs[p]
	delete(s.nbrs, p)
	s.mu.Unlock()
	for _, q := range nb {
		_ = s.mn.UnlinkPeers(p, q) // a link already removed from q's side is fine
	}
}

// simHost is a mocknet host that links to a peer before dialling it.
type simHost struct {
	host.Host
	net *simNet
}

func (h *simHost) Connect(ctx context.Context, ai peer.AddrInfo) error {
	if err := h.net.link(h.ID(), ai.ID); err != nil {
		return err
	}
	return h.Host.Connect(ctx, ai)
}

func (h *simHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	if err := h.net.link(h.ID(), p); err != nil {
		return nil, err
	}
	return h.Host.NewStream(ctx, p, pids...)
}

type simNode struct {
	o    *Overlay
	h    host.Host // the mocknet host under the simHost
	addr []string  // bootstrap multiaddrs
}

type simObj struct {
	c    cid.CID
	prov *simNode
}

// simConfig shapes a simulation.
type simConfig struct {
	Churn   float64       // share of the nodes that leaves (and joins) each round
	Refresh float64       // share of the nodes that refreshes its routing table each round; 0: 0.1
	Provide int           // objects provided each round
	Lookups int           // lookups measured each round
	Pings   int           // DHT pings measured each round (the one-hop reference)
	Latency time.Duration // mocknet link latency (one way, per write)
	Workers int           // concurrent joins, leaves and refreshes; 0: 8
	K       int           // the DHT's bucket size and replication; 0: kad-dht's 20
	Seed    uint64
	// NoReferrals makes every lookup query only the peers of the asking
	// node's own routing table, never those that peers refer it to: a
	// DHT without routing (the control of the test).
	NoReferrals bool
}

type sim struct {
	tb    testing.TB
	cfg   simConfig
	net   *simNet
	rng   *rand.Rand
	live  []*simNode
	byID  map[peer.ID]*simNode
	objs  []simObj
	round int
}

func newSim(tb testing.TB, cfg simConfig) *sim {
	if cfg.Refresh == 0 {
		cfg.Refresh = 0.1
	}
	if cfg.Workers == 0 {
		cfg.Workers = 8
	}
	mn := mocknet.New()
	mn.SetLinkDefaults(mocknet.LinkOptions{Latency: cfg.Latency})
	s := &sim{
		tb:   tb,
		cfg:  cfg,
		net:  &simNet{mn: mn, nbrs: make(map[peer.ID][]peer.ID), gone: make(map[peer.ID]bool)},
		rng:  rand.New(rand.NewPCG(cfg.Seed, 0x5ca1e)),
		byID: make(map[peer.ID]*simNode),
	}
	tb.Cleanup(s.close)
	return s
}

func (s *sim) close() {
	s.parallel(s.live, func(n *simNode) { n.o.Close() })
	s.live = nil
	s.net.mn.Close()
}

// parallel runs f on every node, cfg.Workers at a time.
func (s *sim) parallel(nodes []*simNode, f func(*simNode)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, s.cfg.Workers)
	for _, n := range nodes {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(n)
		})
	}
	wg.Wait()
}

// newNode makes a host on the mocknet (an ed25519 identity, an address in
// mocknet's black-holed range) and an unstarted Overlay on it.
func (s *sim) newNode() *simNode {
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		s.tb.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		s.tb.Fatal(err)
	}
	ip := net.ParseIP("100::")
	copy(ip[8:], id[len(id)-8:])
	a, err := ma.NewMultiaddr(fmt.Sprintf("/ip6/%s/tcp/4242", ip))
	if err != nil {
		s.tb.Fatal(err)
	}
	h, err := s.net.mn.AddPeer(k, a)
	if err != nil {
		s.tb.Fatal(err)
	}
	n := &simNode{h: h, addr: []string{a.String() + "/p2p/" + id.String()}}
	n.o = New(Config{Host: &simHost{Host: h, net: s.net}})
	opts := []dht.Option{dht.DisableAutoRefresh()}
	if s.cfg.K > 0 {
		opts = append(opts, dht.BucketSize(s.cfg.K))
	}
	if s.cfg.NoReferrals {
		// Peers heard of in answers are never queried: a lookup asks its
		// own routing table's peers only.
		opts = append(opts, dht.QueryFilter(func(any, peer.AddrInfo) bool { return false }))
	}
	n.o.dhtOpts = opts
	return n
}

// join starts count new nodes, each through three nodes already there
// (the first ones through each other), and waits for their first routing
// table refresh.
func (s *sim) join(count int) {
	fresh := make([]*simNode, count)
	for i := range fresh {
		fresh[i] = s.newNode()
		s.byID[fresh[i].h.ID()] = fresh[i]
	}
	boot := make([][]string, count)
	for i := range fresh {
		pool := s.live
		if len(pool) == 0 {
			pool = fresh[:min(3, count)]
		}
		for _, j := range s.rng.Perm(len(pool))[:min(3, len(pool))] {
			boot[i] = append(boot[i], pool[j].addr...)
		}
	}
	idx := make(map[*simNode]int, count)
	for i, n := range fresh {
		idx[n] = i
	}
	s.parallel(fresh, func(n *simNode) {
		n.o.cfg.Bootstrap = boot[idx[n]]
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := n.o.Start(ctx); err != nil {
			s.tb.Errorf("sim: starting a node: %v", err)
			return
		}
		_, d, _ := n.o.running()
		<-d.RefreshRoutingTable()
	})
	if s.tb.Failed() {
		s.tb.FailNow()
	}
	s.live = append(s.live, fresh...)
}

// leave removes count random nodes: their DHTs and hosts close and they
// can no longer be dialled; their records stay where they were put.
func (s *sim) leave(count int) {
	s.rng.Shuffle(len(s.live), func(i, j int) { s.live[i], s.live[j] = s.live[j], s.live[i] })
	out := slices.Clone(s.live[:count])
	s.live = slices.Delete(s.live, 0, count)
	s.parallel(out, func(n *simNode) {
		s.net.leave(n.h.ID())
		n.o.Close()
		n.h.Close()
	})
}

// pick returns count distinct random live nodes.
func (s *sim) pick(count int) []*simNode {
	var out []*simNode
	for _, j := range s.rng.Perm(len(s.live))[:min(count, len(s.live))] {
		out = append(out, s.live[j])
	}
	return out
}

// simStats gathers a run's measurements.
type simStats struct {
	lookups, found int
	hops, queried  []int
	lats, rtts     []time.Duration // lats: of the lookups found remotely
	local          int             // found lookups whose searcher held the record itself
	// routed counts the lookups whose record no peer of the searcher's
	// own routing table (its k nearest to the key, where the lookup
	// starts) held: only referrals lead to it; routedFound, those found.
	routed, routedFound int
}

// step runs one simulated minute: churn, refreshes, new objects, then the
// measured pings and lookups, one at a time.
func (s *sim) step(st *simStats) {
	s.round++
	if c := int(s.cfg.Churn * float64(len(s.live))); c > 0 {
		s.leave(c)
		s.join(c)
	}
	s.parallel(s.pick(int(s.cfg.Refresh*float64(len(s.live)))), func(n *simNode) {
		_, d, _ := n.o.running()
		<-d.ForceRefresh()
	})
	provs := s.pick(s.cfg.Provide)
	fresh := make([]simObj, len(provs))
	for i, p := range provs {
		fresh[i] = simObj{c: cid.Sum(fmt.Appendf(nil, "sim object %d/%d", s.round, i)), prov: p}
	}
	var mu sync.Mutex
	s.parallel(provs, func(n *simNode) {
		for _, ob := range fresh {
			if ob.prov != n {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			err := n.o.Provide(ctx, ob.c)
			cancel()
			if err != nil {
				s.tb.Logf("sim: round %d: provide: %v", s.round, err)
				continue
			}
			mu.Lock()
			s.objs = append(s.objs, ob)
			mu.Unlock()
		}
	})

	for range s.cfg.Pings {
		if d := s.ping(); d > 0 {
			st.rtts = append(st.rtts, d)
		}
	}

	alive := make(map[*simNode]bool, len(s.live))
	for _, n := range s.live {
		alive[n] = true
	}
	var cands []simObj
	for _, ob := range s.objs {
		if alive[ob.prov] {
			cands = append(cands, ob)
		}
	}
	if len(cands) == 0 {
		return
	}
	for range s.cfg.Lookups {
		ob := cands[s.rng.IntN(len(cands))]
		searcher := s.live[s.rng.IntN(len(s.live))]
		for searcher == ob.prov {
			searcher = s.live[s.rng.IntN(len(s.live))]
		}
		s.lookup(st, searcher, ob)
	}
}

// ping is one DHT round trip from a random node to a random connected
// peer of its routing table; 0 if there was none or it failed.
func (s *sim) ping() time.Duration {
	n := s.live[s.rng.IntN(len(s.live))]
	h, d, _ := n.o.running()
	ps := d.RoutingTable().ListPeers()
	ps = slices.DeleteFunc(ps, func(p peer.ID) bool { return h.Network().Connectedness(p) != network.Connected })
	if len(ps) == 0 {
		return 0
	}
	p := ps[s.rng.IntN(len(ps))]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	t0 := time.Now()
	if err := d.Ping(ctx, p); err != nil {
		return 0
	}
	return time.Since(t0)
}

// lookup measures one FindProviders(ob, 1) from searcher.
func (s *sim) lookup(st *simStats, searcher *simNode, ob simObj) {
	_, d, _ := searcher.o.running()
	key := string(Key(ob.c).Hash())
	seeds := d.RoutingTable().NearestPeers(kb.ConvertKey(key), d.BucketSize())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ectx, events := routing.RegisterForQueryEvents(ctx)
	var (
		evs []*routing.QueryEvent
		wg  sync.WaitGroup
	)
	wg.Go(func() {
		for ev := range events {
			evs = append(evs, ev)
		}
	})
	t0 := time.Now()
	got, err := searcher.o.FindProviders(ectx, ob.c, 1)
	lat := time.Since(t0)
	cancel()
	wg.Wait()
	ok := err == nil && len(got) == 1 && got[0].ID == ob.prov.h.ID()
	holder := func(p peer.ID) bool {
		n := s.byID[p]
		return n != nil && holds(n.o, ob.c, ob.prov.h.ID())
	}
	st.lookups++
	if !holder(searcher.h.ID()) && !slices.ContainsFunc(seeds, holder) {
		st.routed++
		if ok {
			st.routedFound++
		}
	}
	if !ok {
		return
	}
	st.found++
	if holder(searcher.h.ID()) {
		st.local++
		st.hops = append(st.hops, 0)
		return
	}
	h, q := lookupHops(seeds, evs, holder)
	st.lats = append(st.lats, lat)
	st.hops = append(st.hops, h)
	st.queried = append(st.queried, q)
}

// rtSize is the mean routing-table size of the live nodes.
func (s *sim) rtSize() float64 {
	total := 0
	for _, n := range s.live {
		_, d, _ := n.o.running()
		total += d.RoutingTable().Size()
	}
	return float64(total) / float64(len(s.live))
}

// heapBytes is the memory in use after a full collection: heap objects
// and goroutine stacks.
func heapBytes() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

// quantile returns the q-quantile (nearest rank) of xs.
func quantile[T int | time.Duration](xs []T, q float64) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

func (st *simStats) success() float64 {
	if st.lookups == 0 {
		return 0
	}
	return float64(st.found) / float64(st.lookups)
}

// BenchmarkDHTScale grows one simulated network through the sizes of
// RON_SIM_SIZES (default 50,500,2000) and at each size runs b.N simulated
// minutes without churn, then b.N with churn (RON_SIM_CHURN of the nodes
// leave and as many join each minute; default 0.05). Each minute 10% of
// the nodes refresh their routing tables, 20 objects are provided and 100
// lookups of objects provided so far (by nodes still there) are measured,
// one at a time, with 50 DHT pings as the one-hop reference. RON_SIM_LATENCY
// (a Go duration, default 0: in-process) sets mocknet's link latency;
// RON_SIM_REFRESH the share of nodes refreshing each minute (default 0.1,
// kad-dht's 10-minute period) and RON_SIM_LOOKUPS the lookups per minute.
// Metrics: success (share of lookups that found the provider), local
// (share of those whose searcher held the record itself: hops 0), hops
// (all found lookups) and peers queried (p50, p99), latency of the lookups
// answered remotely (p50, p99, and as multiples of the ping), the mean
// routing-table size, and the memory (heap and stacks after a GC) and
// goroutines per node added in growing to the size.
//
//	go test -run '^$' -bench DHTScale -benchtime 5x -timeout 60m ./core/overlay
func BenchmarkDHTScale(b *testing.B) {
	sizes, err := envInts("RON_SIM_SIZES", []int{50, 500, 2000})
	if err != nil {
		b.Fatal(err)
	}
	churn, err := envFloat("RON_SIM_CHURN", 0.05)
	if err != nil {
		b.Fatal(err)
	}
	refresh, err := envFloat("RON_SIM_REFRESH", 0.1)
	if err != nil {
		b.Fatal(err)
	}
	lookups, err := envInts("RON_SIM_LOOKUPS", []int{100})
	if err != nil {
		b.Fatal(err)
	}
	var lat time.Duration
	if v := os.Getenv("RON_SIM_LATENCY"); v != "" {
		if lat, err = time.ParseDuration(v); err != nil {
			b.Fatalf("RON_SIM_LATENCY: %v", err)
		}
	}
	s := newSim(b, simConfig{Provide: 20, Lookups: lookups[0], Pings: 50, Refresh: refresh, Latency: lat, Seed: 1})
	for _, n := range sizes {
		b.Run(fmt.Sprintf("nodes=%d", n), func(b *testing.B) {
			s.tb = b
			grown := n - len(s.live)
			if grown <= 0 {
				b.Skipf("the network already has %d nodes", len(s.live))
			}
			g0, m0 := runtime.NumGoroutine(), heapBytes()
			s.join(grown)
			m1, g1 := heapBytes(), runtime.NumGoroutine()
			perNode := float64(int64(m1)-int64(m0)) / float64(grown)
			goPerNode := float64(g1-g0) / float64(grown)
			b.Logf("grew to %d nodes: %.0f bytes and %.1f goroutines per node added; mean routing table %.1f peers", n, perNode, goPerNode, s.rtSize())
			for _, c := range []float64{0, churn} {
				b.Run(fmt.Sprintf("churn=%g", c), func(b *testing.B) {
					s.tb, s.cfg.Churn = b, c
					var st simStats
					b.ResetTimer()
					for range b.N {
						s.step(&st)
					}
					b.StopTimer()
					st.report(b)
					b.ReportMetric(s.rtSize(), "rt-peers")
					b.ReportMetric(perNode, "bytes/node")
					b.ReportMetric(goPerNode, "goroutines/node")
				})
			}
		})
	}
}

func (st *simStats) report(b *testing.B) {
	rtt := quantile(st.rtts, .5)
	b.ReportMetric(st.success(), "success")
	b.ReportMetric(float64(quantile(st.hops, .5)), "hops-p50")
	b.ReportMetric(float64(quantile(st.hops, .99)), "hops-p99")
	b.ReportMetric(float64(quantile(st.queried, .5)), "queried-p50")
	b.ReportMetric(float64(quantile(st.queried, .99)), "queried-p99")
	b.ReportMetric(float64(quantile(st.lats, .5))/1e3, "lat-p50-µs")
	b.ReportMetric(float64(quantile(st.lats, .99))/1e3, "lat-p99-µs")
	b.ReportMetric(float64(rtt)/1e3, "rtt-µs")
	if st.found > 0 {
		b.ReportMetric(float64(st.local)/float64(st.found), "local")
	}
	if rtt > 0 {
		b.ReportMetric(float64(quantile(st.lats, .5))/float64(rtt), "lat-p50/rtt")
		b.ReportMetric(float64(quantile(st.lats, .99))/float64(rtt), "lat-p99/rtt")
	}
	b.Logf("%d lookups, %d found (%d held by the searcher); hops %v", st.lookups, st.found, st.local, histogram(st.hops))
}

func envInts(name string, def []int) ([]int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%s: %q is not a positive number", name, f)
		}
		out = append(out, n)
	}
	return out, nil
}

func envFloat(name string, def float64) (float64, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f >= 1 {
		return 0, fmt.Errorf("%s: %q is not a share in [0, 1)", name, v)
	}
	return f, nil
}

// TestDHTChurn: 40 real nodes on the simulated network, with a bucket
// size (and replication) of 3 so that 40 nodes route as deep as about 270
// would with kad-dht's 20; two simulated minutes in which 10% of the
// nodes leave and as many join. Lookups of objects provided so far by
// nodes still there find their provider (at least 90%), and
// so do those whose record no peer of the searcher's own routing table
// held, which only a lookup that follows referrals can reach. The control,
// the same network whose lookups ask the searcher's routing table only
// (no referrals followed), fails those: the bound is one a DHT that does
// not route cannot meet.
func TestDHTChurn(t *testing.T) {
	if testing.Short() {
		t.Skip("two networks of 40 DHT nodes")
	}
	run := func(t *testing.T, noReferrals bool) simStats {
		s := newSim(t, simConfig{K: 3, Churn: 0.1, Provide: 8, Lookups: 25, Seed: 7, NoReferrals: noReferrals})
		s.join(40)
		var st simStats
		for range 2 {
			s.step(&st)
		}
		t.Logf("no referrals %v: %d lookups, %d found (%d by the searcher itself), %d of %d routed found, hops %v, mean routing table %.1f",
			noReferrals, st.lookups, st.found, st.local, st.routedFound, st.routed, histogram(st.hops), s.rtSize())
		return st
	}
	var real, control simStats
	t.Run("dht", func(t *testing.T) { real = run(t, false) })
	t.Run("control", func(t *testing.T) { control = run(t, true) })
	if real.success() < 0.9 {
		t.Errorf("lookups under churn found %.2f of providers, want >= 0.9", real.success())
	}
	if real.routed < 3 || float64(real.routedFound) < 0.9*float64(real.routed) {
		t.Errorf("of %d lookups only referrals could answer, %d found; want at least 3, and 90%% found", real.routed, real.routedFound)
	}
	if control.routed < 3 || float64(control.routedFound) > 0.5*float64(control.routed) {
		t.Errorf("the control (no referrals) found %d of %d lookups only referrals could answer: the bound does not tell routing from none", control.routedFound, control.routed)
	}
}
