package dhtsvc

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/bustest"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/blob"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/overlay"
	"github.com/ronhost/ronhost/internal/core/store"
	"github.com/ronhost/ronhost/internal/poll"
	"github.com/ronhost/ronhost/internal/storetest"
)

func put(t *testing.T, st *store.Store, data []byte, refs ...cid.CID) cid.CID {
	t.Helper()
	res, err := st.Put(context.Background(), bytes.NewReader(data), store.PutOptions{Refs: refs})
	if err != nil {
		t.Fatal(err)
	}
	return res.CID
}

// provided records what the service queues for announcing.
type provided struct {
	mu sync.Mutex
	cs []cid.CID
}

func (p *provided) add(_ context.Context, cs ...cid.CID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cs = append(p.cs, cs...)
}

func (p *provided) list() []cid.CID {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.cs)
}

// TestDHTOffTheOverlay: the dht role on a real bus and a real store, the
// node off the overlay, called as the gateway calls it (its role key).
// Stat lists only this node; a pin pins the object and queues it for
// providing, and one asking for replicas is unavailable (pinned all the
// same); malformed requests, replicas outside 0..64 and unknown objects
// are refused with their codes; the index's key may not call the verbs
// (refused by its bus, and by the server when forged: the object stays
// unpinned).
func TestDHTOffTheOverlay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := storetest.Open(t)
	payload := put(t, st, bytes.Repeat([]byte("payload "), 10_000))
	m := put(t, st, []byte(`{"a manifest":true}`), payload)
	var prov provided
	bn := bustest.Start(t, contract.DHT)
	s := &Service{Store: st, Provide: prov.add, Node: "node-1", FindTimeout: time.Second}
	if err := bn.Bus.Serve(contract.DHT, "1.0.0", "", s.Endpoints()...); err != nil {
		t.Fatal(err)
	}
	gw := bn.Client(t, contract.Gateway)

	info, err := bus.Call(ctx, gw, contract.DHTPeers, contract.Empty{})
	if err != nil || info.On || info.Addrs == nil || len(info.Addrs) != 0 {
		t.Fatalf("peers off the overlay: %+v %v", info, err)
	}
	unknown := cid.Sum([]byte("never stored"))
	ost, err := bus.Call(ctx, gw, contract.DHTStat, contract.CID{CID: unknown})
	if err != nil || ost.Stored || len(ost.Copies) != 0 || ost.Overlay {
		t.Fatalf("stat of an unknown object: %+v %v", ost, err)
	}
	ost, err = bus.Call(ctx, gw, contract.DHTStat, contract.CID{CID: m})
	if err != nil || !ost.Stored || ost.Pinned || !slices.Equal(ost.Refs, []cid.CID{payload}) ||
		len(ost.Copies) != 1 || ost.Copies[0].Peer != "node-1" || !ost.Copies[0].Self || ost.Copies[0].Addrs != nil {
		t.Fatalf("stat of a stored manifest: %+v %v", ost, err)
	}

	res, err := bus.Call(ctx, gw, contract.DHTPin, contract.PinReq{CID: m})
	if err != nil || !res.Pinned || !slices.Equal(res.Roots, []cid.CID{m, payload}) || res.Held != 0 {
		t.Fatalf("pin: %+v %v", res, err)
	}
	if got := prov.list(); !slices.Equal(got, []cid.CID{m}) {
		t.Fatalf("provided %v, want the pinned manifest", got)
	}
	if _, err := bus.Call(ctx, gw, contract.DHTPin, contract.PinReq{CID: payload, Replicas: 1}); codes.Of(err) != codes.Unavailable {
		t.Fatalf("replicas off the overlay: %v, want unavailable", err)
	}
	if o, err := st.Info(ctx, payload); err != nil || !o.Pinned {
		t.Fatalf("the object of a pin whose replicas failed: %+v %v, want pinned", o, err)
	}

	for name, c := range map[string]struct {
		req  any
		code codes.Code
	}{
		"65 replicas":       {contract.PinReq{CID: m, Replicas: 65}, codes.Invalid},
		"negative replicas": {contract.PinReq{CID: m, Replicas: -1}, codes.Invalid},
		"an unknown object": {contract.PinReq{CID: unknown}, codes.NotFound},
		"a bad CID":         {map[string]any{"cid": "b3:zz"}, codes.Invalid},
		"an unknown field":  {map[string]any{"cid": m, "force": true}, codes.Invalid},
		"not an object":     {[]int{1}, codes.Invalid},
	} {
		if err := gw.Request(ctx, contract.DHTPin.Spec, c.req, nil); codes.Of(err) != c.code {
			t.Errorf("pin with %s: %v, want %s", name, err, c.code)
		}
	}

	other := put(t, st, []byte("not to be pinned"))
	idx := bn.Client(t, contract.Index)
	if _, err := bus.Call(ctx, idx, contract.DHTPin, contract.PinReq{CID: other}); codes.Of(err) != codes.Forbidden {
		t.Fatalf("the index's key calling dht.pin: %v, want forbidden", err)
	}
	bn.Forge(t, "ron.dht.pin", []byte(`{"cid":"`+other.String()+`"}`), contract.Index)
	// A call that follows the forged one on the same server: had the
	// forged pin been delivered, it would have run first.
	if ost, err := bus.Call(ctx, gw, contract.DHTStat, contract.CID{CID: other}); err != nil || ost.Pinned {
		t.Fatalf("after a forged pin: %+v %v, want unpinned", ost, err)
	}
}

// replicator answers the blob protocol's replicate requests.
type replicator struct {
	mu      sync.Mutex
	trusted bool // the peer asking
	asked   []cid.CID
	err     error
}

func (r *replicator) trust(peer.ID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.trusted
}

func (r *replicator) Replicate(_ context.Context, c cid.CID, _ peer.ID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked = append(r.asked, c)
	return r.err
}

type peerNode struct {
	st  *store.Store
	ov  *overlay.Overlay
	rep *replicator
	svc *Service
}

// startPeer joins a real overlay on 127.0.0.1 (bootstrapping from boot)
// with a blob service over its own store.
func startPeer(t *testing.T, boot ...string) *peerNode {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	p := &peerNode{st: storetest.Open(t), rep: &replicator{}}
	p.ov = overlay.New(overlay.Config{KeyFile: filepath.Join(t.TempDir(), "p2p.key"), Bootstrap: boot, Logger: log})
	if err := p.ov.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.ov.Close() })
	b := blob.New(p.ov.DataHost(), p.st, p.rep, blob.Config{Logger: log, Trusted: p.rep.trust})
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	p.svc = &Service{Store: p.st, Overlay: p.ov, Blob: b, Node: "n", FindTimeout: 30 * time.Second,
		Provide: func(ctx context.Context, pins ...cid.CID) {
			for _, c := range pins {
				if err := p.ov.Provide(ctx, c); err != nil {
					t.Errorf("providing %s: %v", c, err)
				}
			}
		}}
	return p
}

// TestDHTOnTheOverlay: two real overlays on loopback. The peers verb
// describes this node; a stat finds the other peer's copy through the
// DHT; a pin with a replica asks the other peer over the blob protocol for
// every root; a peer that does not trust this one, or refuses, leaves the
// pin short: unavailable.
func TestDHTOnTheOverlay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a := startPeer(t)
	b := startPeer(t, a.ov.Addrs()...)
	bn := bustest.Start(t, contract.DHT)
	if err := bn.Bus.Serve(contract.DHT, "1.0.0", "", b.svc.Endpoints()...); err != nil {
		t.Fatal(err)
	}
	gw := bn.Client(t, contract.Gateway)

	info, err := bus.Call(ctx, gw, contract.DHTPeers, contract.Empty{})
	if err != nil || !info.On || info.Peer != b.ov.ID().String() || len(info.Addrs) == 0 || len(info.Status) == 0 {
		t.Fatalf("peers: %+v %v", info, err)
	}

	c := put(t, a.st, []byte("held by a"))
	if _, err := a.svc.Pin(ctx, c, 0); err != nil {
		t.Fatal(err)
	}
	poll.Until(t, "b to find a's copy", func() bool {
		ost, err := bus.Call(ctx, gw, contract.DHTStat, contract.CID{CID: c})
		if err != nil {
			t.Fatal(err)
		}
		return !ost.Stored && ost.Overlay && len(ost.Copies) == 1 && ost.Copies[0].Peer == a.ov.ID().String() && !ost.Copies[0].Self
	})

	payload := put(t, b.st, []byte("b's payload"))
	m := put(t, b.st, []byte("b's manifest"), payload)
	if _, err := bus.Call(ctx, gw, contract.DHTPin, contract.PinReq{CID: m, Replicas: 1}); codes.Of(err) != codes.Unavailable {
		t.Fatalf("a replica asked of a peer that does not trust b: %v, want unavailable", err)
	}
	a.rep.mu.Lock()
	if len(a.rep.asked) != 0 {
		t.Fatalf("a peer that does not trust b was asked to replicate %v", a.rep.asked)
	}
	a.rep.trusted = true
	a.rep.mu.Unlock()
	res, err := bus.Call(ctx, gw, contract.DHTPin, contract.PinReq{CID: m, Replicas: 1})
	if err != nil || res.Held != 1 || len(res.Replicas) != 1 || res.Replicas[0] != (contract.Replica{Peer: a.ov.ID().String(), OK: true}) {
		t.Fatalf("pin with a replica: %+v %v", res, err)
	}
	a.rep.mu.Lock()
	asked := slices.Clone(a.rep.asked)
	a.rep.err = errors.New("no room")
	a.rep.mu.Unlock()
	if !slices.Equal(asked, []cid.CID{m, payload}) {
		t.Fatalf("a was asked to replicate %v, want the manifest and its payload", asked)
	}
	if _, err := bus.Call(ctx, gw, contract.DHTPin, contract.PinReq{CID: payload, Replicas: 1}); codes.Of(err) != codes.Unavailable {
		t.Fatalf("a pin whose only peer refuses: %v, want unavailable", err)
	}
}
