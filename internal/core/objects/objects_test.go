package objects_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/bustest"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/objects"
	"github.com/ronhost/ronhost/internal/core/store"
	"github.com/ronhost/ronhost/internal/core/store/storesvc"
	"github.com/ronhost/ronhost/internal/storetest"
)

// reader returns a function that reads a reader and its error whole,
// failing the test on an error.
func reader(t *testing.T) func(io.ReadCloser, error) []byte {
	return func(rc io.ReadCloser, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// TestLocalMissFetches: an object the store lacks is read from the
// fetcher (here a second real store that holds it) by Info, Get, ReadRange
// and Outboard; without a fetcher (the node does not fetch) the miss is
// store.ErrNotFound.
func TestLocalMissFetches(t *testing.T) {
	read := reader(t)
	ctx := context.Background()
	local, peer := storetest.Open(t), storetest.Open(t)
	data := bytes.Repeat([]byte("fetched from a peer "), 5000)
	put, err := peer.Put(ctx, bytes.NewReader(data), store.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := &storetest.Recorder{}
	fetching := true
	o := objects.NewLocal(objects.Config{Store: local, Emit: rec.Emit, Provide: rec.Provide,
		Fetcher: func() objects.Fetcher {
			if !fetching {
				return nil
			}
			return peer
		}})

	info, err := o.Info(ctx, put.CID)
	if err != nil || info.Size != int64(len(data)) || info.CID != put.CID {
		t.Fatalf("info of a miss: %+v %v", info, err)
	}
	if got := read(o.Get(ctx, put.CID)); !bytes.Equal(got, data) {
		t.Fatalf("get of a miss: %d bytes, want %d", len(got), len(data))
	}
	if got := read(o.ReadRange(ctx, put.CID, 100, 50)); !bytes.Equal(got, data[100:150]) {
		t.Fatalf("range of a miss: %q", got)
	}
	wantSize, wantOb, err := peer.Outboard(ctx, put.CID)
	if err != nil {
		t.Fatal(err)
	}
	if size, ob, err := o.Outboard(ctx, put.CID); err != nil || size != wantSize || !bytes.Equal(ob, wantOb) {
		t.Fatalf("outboard of a miss: %d %v", size, err)
	}
	if _, err := local.Info(ctx, put.CID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the local store holds the fetcher's object (%v): the fetcher commits, not the objects", err)
	}

	fetching = false
	if _, err := o.Info(ctx, put.CID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("info without a fetcher: %v, want store.ErrNotFound", err)
	}
	if _, err := o.Get(ctx, put.CID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get without a fetcher: %v, want store.ErrNotFound", err)
	}
	if _, _, err := o.Outboard(ctx, put.CID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("outboard without a fetcher: %v, want store.ErrNotFound", err)
	}
	if ev, prov := rec.Lists(); len(ev) != 0 || len(prov) != 0 {
		t.Fatalf("reads emitted %v and provided %v", ev, prov)
	}
}

// TestLocalEmitsNewCommits: a new commit emits object.stored once; the
// same object again (deduplicated) emits nothing; each pinned put provides
// its root; the object is read back from the store.
func TestLocalEmitsNewCommits(t *testing.T) {
	read := reader(t)
	ctx := context.Background()
	st := storetest.Open(t)
	rec := &storetest.Recorder{}
	o := objects.NewLocal(objects.Config{Store: st, Emit: rec.Emit, Provide: rec.Provide,
		Fetcher: func() objects.Fetcher { t.Error("a hit asked for the fetcher"); return nil }})

	data := []byte("a published manifest")
	first, err := o.Put(ctx, bytes.NewReader(data), store.PutOptions{Pin: true})
	if err != nil || first.Deduplicated || first.CID != cid.Sum(data) {
		t.Fatalf("put: %+v %v", first, err)
	}
	again, err := o.Put(ctx, bytes.NewReader(data), store.PutOptions{Pin: true})
	if err != nil || !again.Deduplicated {
		t.Fatalf("the same put again: %+v %v", again, err)
	}
	unpinned, err := o.Put(ctx, bytes.NewReader([]byte("a cached payload")), store.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ev, prov := rec.Lists()
	if !slices.Equal(ev, []string{first.CID.String(), unpinned.CID.String()}) {
		t.Fatalf("object.stored %v, want each new commit once", ev)
	}
	if !slices.Equal(prov, []cid.CID{first.CID, first.CID}) {
		t.Fatalf("provided %v, want the pinned object at each pinned put", prov)
	}
	if got := read(o.Get(ctx, first.CID)); !bytes.Equal(got, data) {
		t.Fatalf("get: %q", got)
	}
}

// serveStore runs the store role over a real store on a real bus and
// returns the store, its events and the bus.
func serveStore(t *testing.T) (*store.Store, *storetest.Recorder, *bustest.Net) {
	t.Helper()
	st := storetest.Open(t)
	rec := &storetest.Recorder{}
	s := &storesvc.Service{Store: st, Emit: rec.Emit, Provide: rec.Provide}
	bn := bustest.Start(t, contract.Store)
	if err := bn.Bus.Serve(contract.Store, "1.0.0", "", s.Endpoints()...); err != nil {
		t.Fatal(err)
	}
	return st, rec, bn
}

func holdSeconds(d time.Duration) int64 { return int64(d / time.Second) }

// TestBusObjects: small objects over a real bus to the store role on a
// real store: a put is stored there and read back; the store role's
// not_found is store.ErrNotFound for Info, Get and ReadRange. Hostile: an
// object over the bus's cap is refused with codes.TooLarge, a read (its
// size from the store role) and a put (nothing stored), without reaching
// the store role's data.
func TestBusObjects(t *testing.T) {
	read := reader(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, rec, bn := serveStore(t)
	var mu sync.Mutex
	var leases []string
	o := objects.NewBus(objects.Config{Bus: bn.Client(t, contract.Index, contract.Plugins), HoldSeconds: holdSeconds,
		Release: func(lease string) func() {
			mu.Lock()
			defer mu.Unlock()
			leases = append(leases, lease)
			return func() {}
		}})

	data := bytes.Repeat([]byte("a manifest over the bus "), 100)
	put, err := o.Put(ctx, bytes.NewReader(data), store.PutOptions{Pin: true})
	if err != nil || put.CID != cid.Sum(data) || put.Size != int64(len(data)) || put.Deduplicated || put.Release == nil {
		t.Fatalf("put: %+v %v", put, err)
	}
	if info, err := st.Info(ctx, put.CID); err != nil || !info.Pinned {
		t.Fatalf("the store role's store: %+v %v, want the object pinned", info, err)
	}
	if info, err := o.Info(ctx, put.CID); err != nil || info.Size != int64(len(data)) || !info.Pinned {
		t.Fatalf("info: %+v %v", info, err)
	}
	if got := read(o.Get(ctx, put.CID)); !bytes.Equal(got, data) {
		t.Fatalf("get: %d bytes", len(got))
	}
	if got := read(o.ReadRange(ctx, put.CID, 10, 20)); !bytes.Equal(got, data[10:30]) {
		t.Fatalf("range: %q", got)
	}

	unknown := cid.Sum([]byte("never stored"))
	if _, err := o.Info(ctx, unknown); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("info of an unknown object: %v, want store.ErrNotFound", err)
	}
	if _, err := o.Get(ctx, unknown); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get of an unknown object: %v, want store.ErrNotFound", err)
	}
	if _, err := o.ReadRange(ctx, unknown, 0, 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("range of an unknown object: %v, want store.ErrNotFound", err)
	}
	if err := objects.StoreErr(bus.Errorf(codes.Unavailable, "down")); errors.Is(err, store.ErrNotFound) || codes.Of(err) != codes.Unavailable {
		t.Fatalf("another code through StoreErr: %v", err)
	}

	// Hostile: a payload in the store role's store, over the bus's cap.
	bigData := bytes.Repeat([]byte{9}, contract.MaxObject+1)
	big, err := st.Put(ctx, bytes.NewReader(bigData), store.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Get(ctx, big.CID); codes.Of(err) != codes.TooLarge {
		t.Fatalf("get of an object over the cap: %v, want too_large", err)
	}
	if _, err := o.ReadRange(ctx, big.CID, 0, contract.MaxObject+1); codes.Of(err) != codes.TooLarge {
		t.Fatalf("range over the cap: %v, want too_large", err)
	}
	if got := read(o.ReadRange(ctx, big.CID, 1, contract.MaxObject)); !bytes.Equal(got, bigData[1:]) {
		t.Fatalf("a range at the cap: %d bytes", len(got))
	}
	before, _ := rec.Lists()
	over := append(bytes.Repeat([]byte{8}, contract.MaxObject), 1)
	if res, err := o.Put(ctx, bytes.NewReader(over), store.PutOptions{Pin: true}); codes.Of(err) != codes.TooLarge {
		t.Fatalf("put over the cap: %+v %v, want too_large", res, err)
	}
	if _, err := st.Info(ctx, cid.Sum(over)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the store role holds the refused object: %v", err)
	}
	if after, _ := rec.Lists(); !slices.Equal(before, after) {
		t.Fatalf("a refused put emitted: %v then %v", before, after)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(leases) != 1 {
		t.Fatalf("releases made for leases %q, want the one put's", leases)
	}
}
