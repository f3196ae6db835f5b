package storesvc

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/bustest"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
	"github.com/ronhost/ronhost/internal/storetest"
)

// serve runs the store role over a real store on a real bus.
func serve(t *testing.T, ov Overlay) (*Service, *storetest.Recorder, *bustest.Net) {
	t.Helper()
	st := storetest.Open(t)
	rec := &storetest.Recorder{}
	s := &Service{Store: st, Emit: rec.Emit, Provide: rec.Provide, Overlay: ov}
	bn := bustest.Start(t, contract.Store)
	if err := bn.Bus.Serve(contract.Store, "1.0.0", "", s.Endpoints()...); err != nil {
		t.Fatal(err)
	}
	return s, rec, bn
}

func stored(t *testing.T, s *Service, c cid.CID) (store.Object, bool) {
	t.Helper()
	o, err := s.Store.Info(context.Background(), c)
	if err != nil && codes.Of(err) != codes.NotFound {
		t.Fatal(err)
	}
	return o, err == nil
}

// TestStoreOverTheBus: the store role's verbs on a real store and a real
// bus, called with the role keys of the roles that call them (the index
// reads and puts small objects; the gateway stats, locates, replicates
// and releases). Reads and puts are capped at contract.MaxObject (a put
// over it stores nothing); a put whose references are missing stores
// nothing; a held put survives GC until its lease is released; malformed
// requests are invalid; the gateway's key may not put or unpin (its bus
// refuses, and the server drops a forged unpin: the object stays pinned).
func TestStoreOverTheBus(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, rec, bn := serve(t, nil)
	idx, gw := bn.Client(t, contract.Index), bn.Client(t, contract.Gateway)

	data := bytes.Repeat([]byte("a small manifest "), 1000)
	put, err := bus.Call(ctx, idx, contract.StorePut, contract.PutReq{Data: data, Pin: true})
	if err != nil || put.Size != int64(len(data)) || put.CID != cid.Sum(data) || put.Deduplicated || put.Lease != "" {
		t.Fatalf("put: %+v %v", put, err)
	}
	again, err := bus.Call(ctx, idx, contract.StorePut, contract.PutReq{Data: data})
	if err != nil || !again.Deduplicated {
		t.Fatalf("the same put again: %+v %v", again, err)
	}
	if ev, prov := rec.Lists(); !slices.Equal(ev, []string{put.CID.String()}) || !slices.Equal(prov, []cid.CID{put.CID}) {
		t.Fatalf("object.stored %v and provided %v, want the new pinned object once", ev, prov)
	}
	info, err := bus.Call(ctx, idx, contract.StoreInfo, contract.CID{CID: put.CID})
	if err != nil || info != (contract.ObjectInfo{CID: put.CID, Size: int64(len(data)), Pinned: true}) {
		t.Fatalf("info: %+v %v", info, err)
	}
	rd, err := bus.Call(ctx, idx, contract.StoreRead, contract.ReadReq{CID: put.CID, Off: 17, Len: 100})
	if err != nil || !bytes.Equal(rd.Data, data[17:117]) {
		t.Fatalf("read: %q %v", rd.Data, err)
	}
	usage, err := bus.Call(ctx, gw, contract.StoreStat, contract.Empty{})
	if err != nil || usage.Objects != 1 || usage.Pinned != 1 {
		t.Fatalf("stat: %+v %v", usage, err)
	}

	unknown := cid.Sum([]byte("never stored"))
	big := bytes.Repeat([]byte{7}, contract.MaxObject+1)
	for name, c := range map[string]struct {
		v    bus.Spec
		req  any
		code codes.Code
	}{
		"a read over the cap":           {contract.StoreRead.Spec, contract.ReadReq{CID: put.CID, Len: contract.MaxObject + 1}, codes.TooLarge},
		"a read of a negative length":   {contract.StoreRead.Spec, contract.ReadReq{CID: put.CID, Len: -1}, codes.TooLarge},
		"a read past the end":           {contract.StoreRead.Spec, contract.ReadReq{CID: put.CID, Off: int64(len(data)) + 1, Len: 1}, codes.Range},
		"a read of an unknown object":   {contract.StoreRead.Spec, contract.ReadReq{CID: unknown, Len: 1}, codes.NotFound},
		"a put over the cap":            {contract.StorePut.Spec, contract.PutReq{Data: big}, codes.TooLarge},
		"a put with a missing ref":      {contract.StorePut.Spec, contract.PutReq{Data: []byte("refers"), Refs: []cid.CID{unknown}}, codes.NotFound},
		"a put with a negative hold":    {contract.StorePut.Spec, contract.PutReq{Data: []byte("held"), Hold: -1}, codes.Invalid},
		"a put with an unknown field":   {contract.StorePut.Spec, map[string]any{"data": "aGk=", "owner": "me"}, codes.Invalid},
		"a put whose data is not bytes": {contract.StorePut.Spec, map[string]any{"data": 12}, codes.Invalid},
		"info of a bad CID":             {contract.StoreInfo.Spec, map[string]string{"cid": "b3:not hex"}, codes.Invalid},
		"info of an unknown object":     {contract.StoreInfo.Spec, contract.CID{CID: unknown}, codes.NotFound},
	} {
		if err := idx.Request(ctx, c.v, c.req, nil); codes.Of(err) != c.code {
			t.Errorf("%s: %v, want %s", name, err, c.code)
		}
	}
	if err := idx.Request(ctx, contract.StorePut.Spec, map[string]string{"pad": strings.Repeat("x", 2<<20)}, nil); codes.Of(err) != codes.TooLarge {
		t.Errorf("a 2 MiB message: %v, want too_large", err)
	}
	if usage, err := bus.Call(ctx, gw, contract.StoreStat, contract.Empty{}); err != nil || usage.Objects != 1 {
		t.Fatalf("after the refused puts: %+v %v, want the one object", usage, err)
	}

	// A held put survives GC until its lease is released.
	held, err := bus.Call(ctx, idx, contract.StorePut, contract.PutReq{Data: []byte("held for a publish"), Hold: 600})
	if err != nil || held.Lease == "" {
		t.Fatalf("a held put: %+v %v", held, err)
	}
	if _, err := bus.Call(ctx, bn.Bus, contract.StoreGC, contract.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := stored(t, s, held.CID); !ok {
		t.Fatal("GC removed a held object")
	}
	if _, err := bus.Call(ctx, gw, contract.StoreRelease, contract.ReleaseReq{Lease: held.Lease}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Call(ctx, gw, contract.StoreRelease, contract.ReleaseReq{Lease: "an unknown lease"}); err != nil {
		t.Fatalf("releasing an unknown lease: %v", err)
	}
	gc, err := bus.Call(ctx, bn.Bus, contract.StoreGC, contract.Empty{})
	if _, ok := stored(t, s, held.CID); err != nil || ok || gc.Objects != 1 {
		t.Fatalf("GC after the release: %+v %v, held object still there: %v", gc, err, ok)
	}

	// Off the overlay, locate and replicate are unavailable.
	if _, err := bus.Call(ctx, gw, contract.StoreLocate, contract.CID{CID: put.CID}); codes.Of(err) != codes.Unavailable {
		t.Errorf("locate off the overlay: %v, want unavailable", err)
	}
	if _, err := bus.Call(ctx, gw, contract.StoreLocate, contract.CID{CID: unknown}); codes.Of(err) != codes.NotFound {
		t.Errorf("locate of an unknown object: %v, want not_found", err)
	}
	if _, err := bus.Call(ctx, gw, contract.StoreReplicate, contract.ReplicateReq{PeerAddr: contract.PeerAddr{CID: unknown}}); codes.Of(err) != codes.Unavailable {
		t.Errorf("replicate off the overlay: %v, want unavailable", err)
	}

	// The scrub report's damage is a list, empty when there is none.
	var raw json.RawMessage
	if err := bn.Bus.Request(ctx, contract.StoreScrub.Spec, contract.ScrubReq{}, &raw); err != nil || !strings.Contains(string(raw), `"damage":[]`) {
		t.Fatalf("scrub: %s %v", raw, err)
	}

	// The gateway may not put or unpin.
	if _, err := bus.Call(ctx, gw, contract.StorePut, contract.PutReq{Data: []byte("x")}); codes.Of(err) != codes.Forbidden {
		t.Fatalf("the gateway's key calling store.put: %v, want forbidden", err)
	}
	bn.Forge(t, "ron.store.unpin", []byte(`{"cid":"`+put.CID.String()+`"}`), contract.Gateway)
	if info, err := bus.Call(ctx, idx, contract.StoreInfo, contract.CID{CID: put.CID}); err != nil || !info.Pinned {
		t.Fatalf("after a forged unpin: %+v %v, want pinned", info, err)
	}
}

// TestHoldsExpire: a hold kept for another process ends at its expiry (the
// next hold taken sweeps it), so a gateway that died mid-publish leaves
// nothing held; the service's clock is a fake one.
func TestHoldsExpire(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, _, bn := serve(t, nil)
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	s.holds.now = func() time.Time { return now }
	first, err := bus.Call(ctx, bn.Bus, contract.StorePut, contract.PutReq{Data: []byte("left by a dead gateway"), Hold: 10 * 3600})
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(MaxHold + time.Second) // past the cap of the 10 hours asked
	if _, err := bus.Call(ctx, bn.Bus, contract.StorePut, contract.PutReq{Data: []byte("a later publish"), Hold: 60}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Call(ctx, bn.Bus, contract.StoreGC, contract.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := stored(t, s, first.CID); ok {
		t.Fatal("an expired hold still keeps its object")
	}
}

// overlay is a store's place on the overlay; its fetch copies the object
// from a peer's store in this process.
type overlay struct {
	self  contract.PeerAddr
	peers map[peer.ID]*store.Store
	st    *store.Store
}

func (o *overlay) Self() contract.PeerAddr { return o.self }

func (o *overlay) Fetch(ctx context.Context, c cid.CID, from peer.AddrInfo, d time.Duration) (func(), error) {
	src, ok := o.peers[from.ID]
	if !ok {
		return nil, store.ErrNotFound
	}
	rc, err := src.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	res, err := o.st.Put(ctx, rc, store.PutOptions{Hold: d})
	if err != nil {
		return nil, err
	}
	if res.CID != c {
		res.Release()
		return nil, store.ErrCorrupt
	}
	return res.Release, nil
}

func peerID(t *testing.T) peer.ID {
	t.Helper()
	_, pub, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestReplicate: a gateway hands an object to the store role, which
// fetches it from the gateway's peer (here another store in the process),
// pins and provides it, or holds it for the lease; locate names this
// instance's peer; malformed peers and addresses are invalid.
func TestReplicate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gwPeer := peerID(t)
	gwStore, err := store.Open(ctx, filepath.Join(t.TempDir(), "cache"), store.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer gwStore.Close()
	ov := &overlay{self: contract.PeerAddr{Peer: peerID(t).String(), Addrs: []string{"/ip4/127.0.0.1/tcp/4001"}},
		peers: map[peer.ID]*store.Store{gwPeer: gwStore}}
	s, rec, bn := serve(t, ov)
	ov.st = s.Store
	gw := bn.Client(t, contract.Gateway)
	putGW := func(b []byte) cid.CID {
		res, err := gwStore.Put(ctx, bytes.NewReader(b), store.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return res.CID
	}
	from := func(c cid.CID) contract.PeerAddr {
		return contract.PeerAddr{CID: c, Peer: gwPeer.String(), Addrs: []string{"/ip4/127.0.0.1/tcp/4002/p2p/" + gwPeer.String()}}
	}

	pinned := putGW([]byte("a pinned object"))
	rep, err := bus.Call(ctx, gw, contract.StoreReplicate, contract.ReplicateReq{PeerAddr: from(pinned), Pin: true})
	if err != nil || rep.Lease != "" {
		t.Fatalf("replicate with pin: %+v %v", rep, err)
	}
	if o, ok := stored(t, s, pinned); !ok || !o.Pinned {
		t.Fatalf("after replicate with pin: %+v %v", o, ok)
	}
	if _, prov := rec.Lists(); !slices.Equal(prov, []cid.CID{pinned}) {
		t.Fatalf("provided %v", prov)
	}
	loc, err := bus.Call(ctx, gw, contract.StoreLocate, contract.CID{CID: pinned})
	if err != nil || loc.CID != pinned || loc.Peer != ov.self.Peer || !slices.Equal(loc.Addrs, ov.self.Addrs) {
		t.Fatalf("locate: %+v %v", loc, err)
	}

	held := putGW([]byte("a published payload, held"))
	rep, err = bus.Call(ctx, gw, contract.StoreReplicate, contract.ReplicateReq{PeerAddr: from(held), Hold: 600})
	if err != nil || rep.Lease == "" {
		t.Fatalf("replicate with hold: %+v %v", rep, err)
	}
	if _, err := bus.Call(ctx, bn.Bus, contract.StoreGC, contract.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := stored(t, s, held); !ok {
		t.Fatal("GC removed a replica held for a publish")
	}
	if _, err := bus.Call(ctx, gw, contract.StoreRelease, contract.ReleaseReq(rep)); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Call(ctx, bn.Bus, contract.StoreGC, contract.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := stored(t, s, held); ok {
		t.Fatal("a released replica survived GC")
	}

	missing := cid.Sum([]byte("the gateway does not have it"))
	for name, c := range map[string]struct {
		req  contract.ReplicateReq
		code codes.Code
	}{
		"a bad peer":          {contract.ReplicateReq{PeerAddr: contract.PeerAddr{CID: held, Peer: "not a peer"}}, codes.Invalid},
		"a bad address":       {contract.ReplicateReq{PeerAddr: contract.PeerAddr{CID: held, Peer: gwPeer.String(), Addrs: []string{"/nowhere"}}}, codes.Invalid},
		"a negative hold":     {contract.ReplicateReq{PeerAddr: from(held), Hold: -5}, codes.Invalid},
		"an object not there": {contract.ReplicateReq{PeerAddr: from(missing), Pin: true}, codes.NotFound},
	} {
		if _, err := bus.Call(ctx, gw, contract.StoreReplicate, c.req); codes.Of(err) != c.code {
			t.Errorf("replicate with %s: %v, want %s", name, err, c.code)
		}
	}
}
