package follower

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/registry"
	"github.com/ronhost/ronhost/internal/plugins"
	"github.com/ronhost/ronhost/internal/poll"
	"github.com/ronhost/ronhost/sdk-wasm/ronsig"
)

// objects is an in-memory stand-in for the network's objects: whatever was
// kept anywhere can be fetched, verified against its CID.
type objects struct {
	mu sync.Mutex
	m  map[cid.CID][]byte
}

func (o *objects) Fetch(ctx context.Context, c cid.CID, max int64) ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	b, ok := o.m[c]
	if !ok || cid.Sum(b) != c || int64(len(b)) > max {
		return nil, fmt.Errorf("%s: not found", c)
	}
	return b, nil
}

func (o *objects) Keep(ctx context.Context, b []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.m[cid.Sum(b)] = bytes.Clone(b)
	return nil
}

// net is a host without a DHT (the peers are connected by the test).
type net struct{ h host.Host }

func (n net) Host() host.Host                              { return n.h }
func (n net) Provide(ctx context.Context, c cid.CID) error { return nil }
func (n net) FindProviders(ctx context.Context, c cid.CID, max int) ([]peer.AddrInfo, error) {
	return nil, nil
}

type applied struct{ n atomic.Int64 }

func (a *applied) Apply(ctx context.Context) { a.n.Add(1) }

func newHost(t *testing.T) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay(), libp2p.NoTransports,
		libp2p.DefaultTransports, libp2p.DefaultSecurity)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func connect(t *testing.T, a, b host.Host) {
	t.Helper()
	if err := a.Connect(context.Background(), peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
}

func key(n byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, ed25519.SeedSize))
}

// TestGossipStopsAtTheFirstHonestNode: B sits between a stranger H and C.
// H gossips an under-signed head: B refuses it and does not forward it, so
// C never sees it. H then relays a valid head (anyone may mirror): B
// accepts and forwards it, and C accepts it. A node started later (D,
// connected to C only) catches up by asking for the head.
func TestGossipStopsAtTheFirstHonestNode(t *testing.T) {
	ctx := t.Context()
	objs := &objects{m: map[cid.CID][]byte{}}
	ks := []ed25519.PrivateKey{key(1), key(2), key(3)}
	var pubs []string
	for _, k := range ks {
		pubs = append(pubs, ronsig.FormatKey(k.Public().(ed25519.PublicKey)))
	}
	now := time.Now()
	p, err := registry.Genesis("t", pubs, 2, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p.Sign(ks[0])
	p.Sign(ks[1])
	gObj, gHead := p.Finish()
	_ = objs.Keep(ctx, gObj)
	g, _ := registry.ParseObject(gObj)
	l, _ := registry.NewLog(g)
	sh, _ := registry.ParseHead(gHead)
	if l, err = l.Extend(sh, gHead, nil, now); err != nil {
		t.Fatal(err)
	}
	id := l.ID()

	start := func(h host.Host) (*Follower, *applied) {
		a := &applied{}
		f := New(Config{Registries: []string{id}, Dir: t.TempDir(), Poll: 200 * time.Millisecond, Heartbeat: 50 * time.Millisecond},
			net{h}, objs, plugins.NewCatalog(t.TempDir()), a)
		if err := f.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f, a
	}
	hb, hc, hh := newHost(t), newHost(t), newHost(t)
	connect(t, hh, hb)
	connect(t, hb, hc)
	b, _ := start(hb)
	c, _ := start(hc)
	// H is a bare gossip peer: no follower, no validation.
	ps, err := pubsub.NewGossipSub(ctx, hh, pubsub.WithMessageIdFn(MessageID))
	if err != nil {
		t.Fatal(err)
	}
	topic, err := ps.Join(Topic(id))
	if err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "B in H's mesh", func() bool { return len(ps.ListPeers(Topic(id))) > 0 })

	refused := func(f *Follower, reason string) uint64 { return f.Status()[0].Refused[reason] }
	entries := func(f *Follower) uint64 { return f.Status()[0].Entries }

	// The genesis (valid) first: both accept it.
	if err := topic.Publish(ctx, gHead); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the genesis at C", func() bool { return entries(c) == 1 })

	// An entry signed by one maintainer.
	bad, err := l.Propose(&registry.Entry{Op: registry.OpRevoke, Plugin: cid.Sum([]byte("x")).String(), Reason: "x"}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	bad.Sign(ks[2])
	bObj, bHead := bad.Finish()
	_ = objs.Keep(ctx, bObj)
	if err := topic.Publish(ctx, bHead); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "B refusing the under-signed entry", func() bool { return refused(b, "signatures") == 1 })

	// A valid head after it, relayed by the stranger.
	good, _ := l.Propose(&registry.Entry{Op: registry.OpRevoke, Plugin: cid.Sum([]byte("y")).String(), Reason: "y"}, now, time.Hour)
	good.Sign(ks[0])
	good.Sign(ks[2])
	oObj, oHead := good.Finish()
	_ = objs.Keep(ctx, oObj)
	if err := topic.Publish(ctx, oHead); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "the valid head at C", func() bool { return entries(c) == 2 })
	if n := refused(c, "signatures"); n != 0 {
		t.Fatalf("C saw the under-signed head (%d refusals): B forwarded it", n)
	}
	if got := c.Status()[0].Revoked[cid.Sum([]byte("y")).String()].Reason; got != "y" {
		t.Fatalf("C's revocations: %+v", c.Status()[0].Revoked)
	}

	// D joins later, next to C only: it asks C for the head.
	hd := newHost(t)
	connect(t, hd, hc)
	d, _ := start(hd)
	poll.Until(t, "D catching up by pull", func() bool { return entries(d) == 2 })

	// A replayed older head is refused as a rollback, over the API path too.
	if _, err := d.Offer(ctx, gHead); err == nil || refused(d, "rollback") != 1 {
		t.Fatalf("replayed genesis head: %v, refusals %v", err, d.Status()[0].Refused)
	}
}
