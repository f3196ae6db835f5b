package overlay

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/poll"
)

// loopbackNodes starts n real nodes on 127.0.0.1 (TCP and QUIC, the default
// listen addresses) joined through the first nb, and waits until each is
// ready and has at least minPeers in its routing table.
func loopbackNodes(b *testing.B, n, nb, minPeers int) []*Overlay {
	b.Helper()
	nodes := make([]*Overlay, n)
	var boot []string
	for i := range nodes {
		k, _, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			b.Fatal(err)
		}
		nodes[i] = start(b, Config{Key: k, Bootstrap: slices.Clone(boot)})
		if i < nb {
			boot = append(boot, nodes[i].Addrs()...)
		}
	}
	for _, o := range nodes {
		poll.UntilErr(b, 30*time.Second, "Ready", o.Ready)
		poll.UntilErr(b, 30*time.Second, "routing table", func() error {
			if p := o.Peers(); p < minPeers {
				return fmt.Errorf("%d peers", p)
			}
			return nil
		})
	}
	return nodes
}

func median[T int | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// lookupHops returns the query depth at which a lookup from s for key
// reached a holder of the provider record: peers from s's routing table (the
// lookup's seeds) are depth 1, a peer first heard of in a depth-d peer's
// answer is depth d+1; the hops are the least depth of a queried holder.
// It also returns how many peers were queried.
func lookupHops(seeds []peer.ID, events []*routing.QueryEvent, holder func(peer.ID) bool) (hops, queried int) {
	depth := make(map[peer.ID]int)
	for _, p := range seeds {
		depth[p] = 1
	}
	hops = -1
	for _, ev := range events {
		switch ev.Type {
		case routing.SendingQuery:
			queried++
			d, ok := depth[ev.ID]
			if !ok {
				d = 1
				depth[ev.ID] = d
			}
			if holder(ev.ID) && (hops < 0 || d < hops) {
				hops = d
			}
		case routing.PeerResponse:
			for _, r := range ev.Responses {
				if _, ok := depth[r.ID]; !ok {
					depth[r.ID] = depth[ev.ID] + 1
				}
			}
		}
	}
	return hops, queried
}

// BenchmarkFindProviders50 measures DHT provider lookups on 50 real nodes on
// loopback: latency and hops (query depth) of FindProviders(c, 1) from every
// node but the provider, for 10 CIDs provided by 10 different nodes, against
// the "physical" one-hop reference: a DHT ping round trip between connected
// nodes of the same network (and 10 concurrent pings, what the first round
// of a lookup sends at once). Each op is one lookup; -benchtime=490x covers
// every (CID, searcher) pair once.
//
//	go test -run '^$' -bench FindProviders50 -benchtime 490x ./core/overlay
func BenchmarkFindProviders50(b *testing.B) {
	const n, nb, k = 50, 3, 10
	nodes := loopbackNodes(b, n, nb, 10)
	ctx := context.Background()

	objs := make([]cid.CID, k)
	provs := make([]*Overlay, k)
	byID := make(map[peer.ID]*Overlay)
	for _, o := range nodes {
		byID[o.ID()] = o
	}
	for i := range objs {
		objs[i] = cid.Sum(fmt.Appendf(nil, "benchmark object %d", i))
		provs[i] = nodes[(5+7*i)%n]
		poll.UntilErr(b, 30*time.Second, "Provide", func() error { return provs[i].Provide(ctx, objs[i]) })
	}
	// Records are put without an answer and stored asynchronously, so a
	// node's holding one is checked when a lookup has run.
	holds := func(p peer.ID, obj int) bool {
		o := byID[p]
		return o != nil && holds(o, objs[obj], provs[obj].ID())
	}

	// The reference: one DHT request/response (PING) to a routing-table
	// peer, on an open connection.
	var rtts []time.Duration
	for j := range 500 {
		o := nodes[j%n]
		_, d, _ := o.running()
		ps := d.RoutingTable().ListPeers()
		p := ps[j%len(ps)]
		t0 := time.Now()
		if err := d.Ping(ctx, p); err != nil {
			b.Fatalf("ping: %v", err)
		}
		rtts = append(rtts, time.Since(t0))
	}

	// A second reference: the first round of a lookup sends alpha (10)
	// requests at once; the time for 10 concurrent pings to routing-table
	// peers to all come back.
	var rounds []time.Duration
	for j := range 100 {
		o := nodes[j%n]
		_, d, _ := o.running()
		ps := d.RoutingTable().ListPeers()
		var wg sync.WaitGroup
		t0 := time.Now()
		for q := range 10 {
			wg.Go(func() {
				if err := d.Ping(ctx, ps[(j+q)%len(ps)]); err != nil {
					b.Errorf("ping: %v", err)
				}
			})
		}
		wg.Wait()
		rounds = append(rounds, time.Since(t0))
	}

	type pair struct{ obj, searcher int }
	var pairs []pair
	for s := range nodes {
		for i := range objs {
			if nodes[s] != provs[i] {
				pairs = append(pairs, pair{i, s})
			}
		}
	}
	var (
		lats, remote   []time.Duration
		hops, queried  []int
		local, rtPeers int
	)
	for _, o := range nodes {
		rtPeers += o.Peers()
	}
	b.ResetTimer()
	for i := range b.N {
		pr := pairs[i%len(pairs)]
		s, obj, prov := nodes[pr.searcher], objs[pr.obj], provs[pr.obj]
		_, d, _ := s.running()
		key := string(Key(obj).Hash())
		seeds := d.RoutingTable().NearestPeers(kb.ConvertKey(key), d.BucketSize())

		ectx, cancel := context.WithCancel(ctx)
		ectx, events := routing.RegisterForQueryEvents(ectx)
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
		got, err := s.FindProviders(ectx, obj, 1)
		lat := time.Since(t0)
		cancel()
		wg.Wait()
		if err != nil || len(got) != 1 || got[0].ID != prov.ID() {
			b.Fatalf("lookup %d: %v, %v; want %s", i, got, err, prov.ID())
		}
		lats = append(lats, lat)
		if holds(s.ID(), pr.obj) {
			local++
			hops = append(hops, 0)
			continue
		}
		h, q := lookupHops(seeds, evs, func(p peer.ID) bool { return holds(p, pr.obj) })
		hops = append(hops, h)
		queried = append(queried, q)
		remote = append(remote, lat)
	}
	b.StopTimer()
	rtt := median(rtts)
	b.ReportMetric(float64(median(lats))/1e3, "median-µs")
	b.ReportMetric(float64(median(remote))/1e3, "remote-median-µs")
	b.ReportMetric(float64(median(hops)), "median-hops")
	b.ReportMetric(float64(median(queried)), "remote-median-queried")
	b.ReportMetric(float64(local)/float64(b.N), "local-fraction")
	b.ReportMetric(float64(rtt)/1e3, "one-hop-µs")
	b.ReportMetric(float64(median(remote))/float64(rtt), "remote/one-hop")
	b.ReportMetric(float64(median(rounds))/1e3, "ten-pings-µs")
	b.ReportMetric(float64(median(remote))/float64(median(rounds)), "remote/ten-pings")
	b.ReportMetric(float64(rtPeers)/n, "mean-rt-peers")
	held := 0
	for _, o := range nodes {
		for i := range objs {
			if holds(o.ID(), i) {
				held++
			}
		}
	}
	b.ReportMetric(float64(held)/k, "record-holders")
	if b.N >= len(pairs) {
		b.Logf("hops histogram: %v", histogram(hops))
	}
}

func histogram(xs []int) map[int]int {
	h := make(map[int]int)
	for _, x := range xs {
		h[x]++
	}
	return h
}
