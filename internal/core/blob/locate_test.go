package blob

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
	"github.com/ronhost/ronhost/internal/poll"
)

// connect connects client to each of peers and waits until identify has
// told the client that each speaks the blob protocol (Locate asks only
// those).
func connect(t *testing.T, client *node, peers ...*node) {
	t.Helper()
	for _, p := range peers {
		if err := client.h.Connect(context.Background(), p.info()); err != nil {
			t.Fatal(err)
		}
	}
	poll.Until(t, "identify", func() bool {
		for _, p := range peers {
			ps, _ := client.h.Peerstore().SupportsProtocols(p.h.ID(), ProtocolBlob)
			if !slices.Contains(ps, ProtocolBlob) {
				return false
			}
		}
		return true
	})
}

// TestLocateAsksConnectedPeers: the provider lookup finds nothing and
// never ends (more is neither fed nor closed), yet the object is located
// and fetched from the connected peer that has it. The other connected
// peers lie (a forged outboard: punished, and it never wins), stall (never
// answer: not waited for) or do not have it (not_found: not punished).
func TestLocateAsksConnectedPeers(t *testing.T) {
	data := randomBytes(21, 2*store.GroupSize+77)
	holder := newNode(t, Config{}, nil)
	liar := newNode(t, Config{}, nil)
	staller := newNode(t, Config{}, nil)
	silent := newNode(t, Config{}, nil)
	var c cid.CID
	for _, n := range []*node{holder, liar, staller} {
		c = n.put(t, data)
	}
	client := newNode(t, Config{Span: testSpan}, nil)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	staller.src.set(func(m *testSource) {
		m.outboardHook = func(size int64, ob []byte) (int64, []byte) { <-release; return size, ob }
	})
	liar.src.set(func(m *testSource) {
		m.outboardHook = func(size int64, ob []byte) (int64, []byte) {
			ob = bytes.Clone(ob)
			ob[8+64+3] ^= 0x10
			return size, ob
		}
	})
	// The holder answers only once the liar has been caught, so that the
	// liar's answer is judged whatever the scheduling.
	holder.src.set(func(m *testSource) {
		m.outboardHook = func(size int64, ob []byte) (int64, []byte) {
			ctx, cancel := context.WithTimeout(context.Background(), poll.Guard)
			defer cancel()
			_ = poll.Wait(ctx, func() error {
				if !client.svc.Banned(liar.h.ID()) {
					return errors.New("the liar is not banned yet")
				}
				return nil
			})
			return size, ob
		}
	})
	connect(t, client, holder, liar, staller, silent)

	ctx, cancel := context.WithTimeout(context.Background(), poll.Guard)
	defer cancel()
	lookup := make(chan peer.AddrInfo) // a lookup still running, with nothing found
	loc, err := client.svc.Locate(ctx, c, lookup)
	if err != nil {
		t.Fatal(err)
	}
	wantSize, wantOB, _ := holder.st.Outboard(ctx, c)
	if loc.From != holder.h.ID() || loc.Size != wantSize || !bytes.Equal(loc.Outboard, wantOB) {
		t.Fatalf("located from %s (holder %s), size %d, outboard equal %v", loc.From, holder.h.ID(), loc.Size, bytes.Equal(loc.Outboard, wantOB))
	}
	if loc.Providers[0].ID != holder.h.ID() || slices.ContainsFunc(loc.Providers, func(ai peer.AddrInfo) bool { return ai.ID == liar.h.ID() }) {
		t.Fatalf("providers %v: want the holder first and never the liar", loc.Providers)
	}
	// Nothing of Locate runs on: the question to the staller was cancelled
	// and has ended (its stream is closed) by the time Locate returned.
	if n := client.svc.openStreams(); n != 0 {
		t.Fatalf("%d streams still open after Locate returned", n)
	}
	if off := loc.LastOffset(); off != 2*store.GroupSize || !bytes.Equal(loc.Last, data[off:]) {
		t.Fatalf("Last: %d bytes at %d, want the last group (%d bytes at %d)", len(loc.Last), off, len(data)-2*store.GroupSize, 2*store.GroupSize)
	}
	if !client.svc.Banned(liar.h.ID()) {
		t.Fatal("the liar is not banned")
	}
	if client.svc.Banned(silent.h.ID()) || client.svc.Score(silent.h.ID()) != 0 {
		t.Fatal("a peer that answered not_found was punished")
	}
	// The located providers serve the fetch of what the last group left.
	in, err := client.st.NewIngest(ctx, c, loc.Size, loc.Outboard)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.WriteGroups(loc.LastOffset(), loc.Last); err != nil {
		t.Fatal(err)
	}
	if _, err := client.svc.Fetch(ctx, c, in, loc.Providers); err != nil {
		in.Abort()
		t.Fatal(err)
	}
	if _, err := in.Commit(ctx, store.PutOptions{Pin: true}); err != nil {
		t.Fatal(err)
	}
	client.has(t, c, data)
}

// TestLocateTakesLookupResults: no connected peer has the object; the
// provider the lookup streams later does, and is asked as soon as it
// arrives. With nobody left to ask, Locate says ErrNoProviders.
func TestLocateTakesLookupResults(t *testing.T) {
	data := randomBytes(22, 5000)
	silent := newNode(t, Config{}, nil)
	far := newNode(t, Config{}, nil) // not connected: only the lookup names it
	c := far.put(t, data)
	client := newNode(t, Config{}, nil)
	connect(t, client, silent)
	ctx, cancel := context.WithTimeout(context.Background(), poll.Guard)
	defer cancel()

	lookup := make(chan peer.AddrInfo)
	go func() {
		select {
		case lookup <- far.info():
		case <-ctx.Done():
		}
	}()
	loc, err := client.svc.Locate(ctx, c, lookup)
	if err != nil || loc.From != far.h.ID() || loc.Size != int64(len(data)) {
		t.Fatalf("Locate: from %s, size %d, %v", loc.From, loc.Size, err)
	}

	other := cid.Sum([]byte("nobody has this"))
	done := make(chan peer.AddrInfo)
	close(done)
	if _, err := client.svc.Locate(ctx, other, done); !errors.Is(err, ErrNoProviders) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("Locate of what no peer has: %v", err)
	}
	// A lookup still running when ctx ends.
	short, cancelShort := context.WithCancel(ctx)
	cancelShort()
	if _, err := client.svc.Locate(short, other, make(chan peer.AddrInfo)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Locate with ctx ended: %v", err)
	}
}
