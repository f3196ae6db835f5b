package fetch_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/blob"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/fetch"
	"github.com/ronhost/ronhost/internal/core/store"
)

// peerBlob is a blob client whose one peer, good, serves the objects of a
// real store; liar serves the same outboard and flipped bytes.
type peerBlob struct {
	src    *store.Store
	liar   bool
	mu     sync.Mutex
	locate int // Locate calls
}

const good = peer.ID("good")

func (b *peerBlob) Outboard(ctx context.Context, c cid.CID, providers []peer.AddrInfo) (int64, []byte, error) {
	return b.src.Outboard(ctx, c)
}

func (b *peerBlob) Locate(ctx context.Context, c cid.CID, more <-chan peer.AddrInfo) (blob.Located, error) {
	b.mu.Lock()
	b.locate++
	b.mu.Unlock()
	for ai := range more {
		if ai.ID != good {
			continue
		}
		size, ob, err := b.src.Outboard(ctx, c)
		if err != nil {
			continue
		}
		return blob.Located{Size: size, Outboard: ob, From: good, Providers: []peer.AddrInfo{ai}}, nil
	}
	return blob.Located{}, errors.New("no provider answered")
}

func (b *peerBlob) Fetch(ctx context.Context, c cid.CID, sink blob.Sink, providers []peer.AddrInfo) (blob.FetchStats, error) {
	rc, err := b.src.ReadRange(ctx, c, 0, -1)
	if err != nil {
		return blob.FetchStats{}, err
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return blob.FetchStats{}, err
	}
	if b.liar {
		data[len(data)/2] ^= 1
	}
	for off := int64(0); off < int64(len(data)); off += store.GroupSize {
		end := min(off+store.GroupSize, int64(len(data)))
		if err := sink.WriteGroups(off, data[off:end]); err != nil {
			return blob.FetchStats{}, err
		}
	}
	return blob.FetchStats{Bytes: int64(len(data)), PerPeer: map[peer.ID]int64{good: int64(len(data))}}, nil
}

func (b *peerBlob) Banned(peer.ID) bool { return false }

// dht finds the given providers.
type dht []peer.AddrInfo

func (d dht) FindProvidersAsync(ctx context.Context, c cid.CID, max int) <-chan peer.AddrInfo {
	ch := make(chan peer.AddrInfo, len(d))
	for _, ai := range d {
		ch <- ai
	}
	close(ch)
	return ch
}

func (d dht) FindProviders(ctx context.Context, c cid.CID, max int) ([]peer.AddrInfo, error) {
	return d, nil
}

type setup struct {
	src, dst *store.Store
	c        cid.CID
	data     []byte
	blob     *peerBlob
	events   chan string
}

func newSetup(t *testing.T, liar bool) *setup {
	t.Helper()
	ctx := context.Background()
	s := &setup{events: make(chan string, 8)}
	var err error
	if s.src, err = store.Open(ctx, t.TempDir(), store.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.src.Close() })
	if s.dst, err = store.Open(ctx, t.TempDir(), store.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.dst.Close() })
	s.data = make([]byte, 3*store.GroupSize+1234)
	rand.Read(s.data)
	res, err := s.src.Put(ctx, bytes.NewReader(s.data), store.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.c = res.CID
	s.blob = &peerBlob{src: s.src, liar: liar}
	return s
}

func (s *setup) fetcher(t *testing.T, providers ...peer.ID) *fetch.Fetcher {
	t.Helper()
	var d dht
	for _, p := range providers {
		d = append(d, peer.AddrInfo{ID: p})
	}
	f := fetch.New(context.Background(), fetch.Config{
		Store: s.dst, Blob: s.blob, Overlay: d, Timeout: time.Minute,
		Emit: func(kind string, v any) { s.events <- fmt.Sprintf("%s %v", kind, v) },
	})
	t.Cleanup(func() { f.Close() })
	return f
}

// A missing object is read while it is fetched from the peer that has it,
// then committed to the store unpinned, with object.stored.
func TestFetchReadsFromAPeer(t *testing.T) {
	s := newSetup(t, false)
	f := s.fetcher(t, peer.ID("stranger"), good)
	ctx := context.Background()

	info, err := f.Info(ctx, s.c)
	if err != nil || info.Size != int64(len(s.data)) {
		t.Fatalf("Info: %+v, %v; want size %d", info, err, len(s.data))
	}
	rc, err := f.ReadRange(ctx, s.c, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, s.data) {
		t.Fatalf("ReadRange: %d bytes, %v; want the object's %d", len(got), err, len(s.data))
	}
	// HoldOrFetch waits for the commit; the store then has it, unpinned.
	release, err := f.HoldOrFetch(ctx, s.c, nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	release()
	obj, err := s.dst.Info(ctx, s.c)
	if err != nil || obj.Pinned || obj.Size != int64(len(s.data)) {
		t.Fatalf("stored: %+v, %v", obj, err)
	}
	if ev := <-s.events; ev[:len(bus.KindObjectStored)] != bus.KindObjectStored {
		t.Fatalf("event %q, want %s", ev, bus.KindObjectStored)
	}
	if s.blob.locate != 1 {
		t.Fatalf("%d lookups, want 1 (one fetch per CID)", s.blob.locate)
	}
	// Past a range's end is refused as the store refuses it.
	if _, err := f.ReadRange(ctx, s.c, int64(len(s.data)), 10); !errors.Is(err, store.ErrRange) {
		t.Fatalf("ReadRange past the end: %v, want store.ErrRange", err)
	}
}

// Without a provider, the object is not found (the gateway's 404).
func TestFetchNoProvider(t *testing.T) {
	s := newSetup(t, false)
	f := s.fetcher(t, peer.ID("stranger"))
	_, err := f.Info(context.Background(), s.c)
	if !errors.Is(err, fetch.ErrNoProviders) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Info: %v, want ErrNoProviders wrapping store.ErrNotFound", err)
	}
	if _, err := s.dst.Info(context.Background(), s.c); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the store has %s after a failed fetch: %v", s.c, err)
	}
}

// A peer that sends bytes that are not the object's fails the fetch; nothing
// is stored.
func TestFetchRefusesALiar(t *testing.T) {
	s := newSetup(t, true)
	f := s.fetcher(t, good)
	_, err := f.HoldOrFetch(context.Background(), s.c, nil, time.Minute)
	if !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("HoldOrFetch from a liar: %v, want store.ErrCorrupt", err)
	}
	if _, err := s.dst.Info(context.Background(), s.c); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the store has %s after a lying peer: %v", s.c, err)
	}
}

// After Close, fetching is refused as unavailable.
func TestFetchAfterClose(t *testing.T) {
	s := newSetup(t, false)
	f := s.fetcher(t, good)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := f.Info(context.Background(), s.c)
	if codes.Of(err) != codes.Unavailable {
		t.Fatalf("Info after Close: %v (code %v), want unavailable", err, codes.Of(err))
	}
}
