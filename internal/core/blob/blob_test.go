package blob

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
	"github.com/ronhost/ronhost/internal/poll"
)

// testSpan splits test objects into many requests.
const testSpan = 256 << 10

func TestFetchFromThreeProviders(t *testing.T) {
	data := randomBytes(1, 6<<20+1234)
	var provs []*node
	var c cid.CID
	for i := range 3 {
		n := newNode(t, Config{}, nil)
		if i == 0 {
			n = newStoreNode(t, Config{}) // the store itself as the source
		}
		c = n.put(t, data)
		provs = append(provs, n)
	}
	client := newNode(t, Config{Span: testSpan}, nil)
	stats, err := client.fetch(t, c, provs...)
	if err != nil {
		t.Fatal(err)
	}
	client.has(t, c, data)
	if stats.Bytes != int64(len(data)) || stats.Retries != 0 || len(stats.Liars) != 0 {
		t.Fatalf("stats %+v: want %d bytes, no retries, no liars", stats, len(data))
	}
	var sum int64
	for _, p := range provs {
		got := stats.PerPeer[p.h.ID()]
		if got <= 0 {
			t.Errorf("provider %s served nothing: %v", p.h.ID(), stats.PerPeer)
		}
		if client.svc.Score(p.h.ID()) <= 0 {
			t.Errorf("provider %s scores %d after serving", p.h.ID(), client.svc.Score(p.h.ID()))
		}
		sum += got
	}
	if sum != stats.Bytes {
		t.Fatalf("per-peer bytes sum to %d, not %d", sum, stats.Bytes)
	}
}

func TestSmallAndEdgeSizes(t *testing.T) {
	prov := newNode(t, Config{}, nil)
	client := newNode(t, Config{Span: testSpan}, nil)
	for i, size := range []int{0, 1, 100, store.GroupSize - 1, store.GroupSize, store.GroupSize + 1, 2 * store.GroupSize, int(testSpan) + 5} {
		data := randomBytes(uint64(100+i), size)
		c := prov.put(t, data)
		stats, err := client.fetch(t, c, prov)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if stats.Bytes != int64(size) {
			t.Fatalf("size %d: fetched %d bytes", size, stats.Bytes)
		}
		client.has(t, c, data)
	}
}

func TestFetchFillsOnlyWhatIsMissing(t *testing.T) {
	data := randomBytes(2, 3<<20+77)
	prov := newNode(t, Config{}, nil)
	c := prov.put(t, data)
	client := newNode(t, Config{Span: testSpan}, nil)
	ctx := context.Background()
	in := client.ingest(t, c, prov)
	// Some groups arrived already (from an earlier, interrupted fetch).
	have := [][2]int64{{0, 5 * store.GroupSize}, {20 * store.GroupSize, 31 * store.GroupSize}}
	for _, h := range have {
		if err := in.WriteGroups(h[0], data[h[0]:h[1]]); err != nil {
			t.Fatal(err)
		}
	}
	stats, err := client.svc.Fetch(ctx, c, in, []peer.AddrInfo{prov.info()})
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(len(data)) - 16*store.GroupSize; stats.Bytes != want {
		t.Fatalf("fetched %d bytes, want %d (only the missing ones)", stats.Bytes, want)
	}
	if !in.Done() {
		t.Fatalf("still missing %v", in.Missing())
	}
	// Nothing missing: no provider is even needed.
	if stats, err := client.svc.Fetch(ctx, c, in, nil); err != nil || stats.Bytes != 0 {
		t.Fatalf("Fetch of a complete sink: %+v, %v", stats, err)
	}
}

func TestLiarIsCaughtAndFetchCompletes(t *testing.T) {
	data := randomBytes(3, 4<<20+999)
	now := time.Unix(1_000_000, 0)
	var clock sync.Mutex
	cfg := Config{Span: testSpan, BanFor: time.Hour, Now: func() time.Time { clock.Lock(); defer clock.Unlock(); return now }}
	liar := newNode(t, Config{}, nil)
	honest1 := newNode(t, Config{}, nil)
	honest2 := newNode(t, Config{}, nil)
	var c cid.CID
	for _, n := range []*node{liar, honest1, honest2} {
		c = n.put(t, data)
	}
	liar.src.set(func(m *testSource) { m.lie = true })
	client := newNode(t, cfg, nil)
	ctx := context.Background()
	in := client.ingest(t, c, honest1)
	// The liar comes first: it gets the first range and is caught on it.
	stats, err := client.svc.Fetch(ctx, c, in, []peer.AddrInfo{liar.info(), honest1.info(), honest2.info()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Commit(ctx, store.PutOptions{Pin: true}); err != nil {
		t.Fatal(err)
	}
	client.has(t, c, data)
	if !slices.Equal(stats.Liars, []peer.ID{liar.h.ID()}) {
		t.Fatalf("liars %v, want [%s]", stats.Liars, liar.h.ID())
	}
	if stats.PerPeer[liar.h.ID()] != 0 || stats.Retries == 0 {
		t.Fatalf("stats %+v: the liar's range must have been asked again, none of its bytes kept", stats)
	}
	if !client.svc.Banned(liar.h.ID()) || client.svc.Score(liar.h.ID()) >= 0 {
		t.Fatalf("liar: banned %v, score %d", client.svc.Banned(liar.h.ID()), client.svc.Score(liar.h.ID()))
	}
	if client.svc.Banned(honest1.h.ID()) || client.svc.Banned(honest2.h.ID()) {
		t.Fatal("an honest provider is banned")
	}
	if client.h.Network().Connectedness(liar.h.ID()) == network.Connected {
		t.Fatal("still connected to the liar")
	}
	// A banned peer is not asked again.
	if _, _, err := client.svc.Outboard(ctx, c, []peer.AddrInfo{liar.info()}); !errors.Is(err, ErrNoProviders) {
		t.Fatalf("Outboard from a banned peer only: %v", err)
	}
	clock.Lock()
	now = now.Add(time.Hour + time.Second)
	clock.Unlock()
	if client.svc.Banned(liar.h.ID()) {
		t.Fatal("the ban outlived BanFor")
	}
}

// TestLiarAfterHonestBytes: a provider serves honest bytes, lies once in
// the middle of a range, then serves honest bytes again, which its stream
// receives ahead of the sink. What it sent before the lie stays written,
// nothing it sent from the lie on is kept (not even the honest bytes after
// it), it is banned, and the rest comes from the honest provider.
func TestLiarAfterHonestBytes(t *testing.T) {
	data := randomBytes(31, 9<<20+12345)
	const honestBytes = 2<<20 + 100<<10 // inside a range, not on a batch boundary
	liar := newNode(t, Config{}, nil)
	honest := newNode(t, Config{}, nil)
	var c cid.CID
	for _, n := range []*node{liar, honest} {
		c = n.put(t, data)
	}
	liar.src.set(func(m *testSource) { m.lie, m.lieAfter, m.lieOnce = true, honestBytes, true })
	// One provider at a time, the liar first, on one stream (so that its
	// reads, and lieAfter, come in order): it serves until it is caught.
	client := newNode(t, Config{Span: 1 << 20, MaxProviders: 1, StreamsPerProvider: 1}, nil)
	stats, err := client.fetch(t, c, liar, honest)
	if err != nil {
		t.Fatal(err)
	}
	client.has(t, c, data)
	if !slices.Equal(stats.Liars, []peer.ID{liar.h.ID()}) || !client.svc.Banned(liar.h.ID()) {
		t.Fatalf("liars %v, banned %v: want the liar caught", stats.Liars, client.svc.Banned(liar.h.ID()))
	}
	if got := stats.PerPeer[liar.h.ID()]; got > honestBytes {
		t.Fatalf("%d bytes kept from the liar, which was honest for only %d", got, honestBytes)
	}
	if stats.PerPeer[liar.h.ID()]+stats.PerPeer[honest.h.ID()] != int64(len(data)) || stats.Retries == 0 {
		t.Fatalf("stats %+v: want the honest provider to fill the rest", stats)
	}
}

// failingSink is an Ingest whose writes fail with errDisk after ok of them.
type failingSink struct {
	*store.Ingest
	mu sync.Mutex
	ok int
}

var errDisk = errors.New("disk on fire")

func (s *failingSink) WriteGroups(off int64, p []byte) error {
	s.mu.Lock()
	fail := s.ok <= 0
	s.ok--
	s.mu.Unlock()
	if fail {
		return errDisk
	}
	return s.Ingest.WriteGroups(off, p)
}

// TestSinkFailureStopsFetch: a sink that fails (not corruption) ends the
// whole fetch with its error; the provider is not blamed.
func TestSinkFailureStopsFetch(t *testing.T) {
	data := randomBytes(32, 6<<20)
	srv := newNode(t, Config{}, nil)
	c := srv.put(t, data)
	client := newNode(t, Config{Span: testSpan}, nil)
	ctx := context.Background()
	in := client.ingest(t, c, srv)
	before := client.svc.Score(srv.h.ID())
	stats, err := client.svc.Fetch(ctx, c, &failingSink{Ingest: in, ok: 3}, []peer.AddrInfo{srv.info()})
	if !errors.Is(err, errDisk) {
		t.Fatalf("Fetch with a failing sink: %v", err)
	}
	if stats.Bytes != 3*testSpan || in.Done() {
		t.Fatalf("stats %+v: want exactly the 3 writes before the failure", stats)
	}
	if client.svc.Banned(srv.h.ID()) || client.svc.Score(srv.h.ID()) < before {
		t.Fatal("the provider was blamed for the sink's failure")
	}
}

func TestOutboardLiars(t *testing.T) {
	data := randomBytes(4, 3*store.GroupSize+100)
	forger := newNode(t, Config{}, nil)   // flips a bit in a parent node
	shrinker := newNode(t, Config{}, nil) // claims a size one byte short, with a consistent header
	silent := newNode(t, Config{}, nil)   // does not have it
	honest := newNode(t, Config{}, nil)
	var c cid.CID
	for _, n := range []*node{forger, shrinker, honest} {
		c = n.put(t, data)
	}
	forger.src.set(func(m *testSource) {
		m.outboardHook = func(size int64, ob []byte) (int64, []byte) {
			ob[8+64+3] ^= 0x10
			return size, ob
		}
	})
	shrinker.src.set(func(m *testSource) {
		m.outboardHook = func(size int64, ob []byte) (int64, []byte) {
			binary.LittleEndian.PutUint64(ob, uint64(size-1))
			return size - 1, ob
		}
	})
	client := newNode(t, Config{}, nil)
	ctx := context.Background()
	size, ob, err := client.svc.Outboard(ctx, c, []peer.AddrInfo{forger.info(), silent.info(), shrinker.info(), honest.info()})
	if err != nil {
		t.Fatal(err)
	}
	wantSize, wantOB, _ := honest.st.Outboard(ctx, c)
	if size != wantSize || !bytes.Equal(ob, wantOB) {
		t.Fatalf("got size %d, an outboard equal: %v", size, bytes.Equal(ob, wantOB))
	}
	for _, n := range []*node{forger, shrinker} {
		if !client.svc.Banned(n.h.ID()) {
			t.Errorf("%s is not banned", n.h.ID())
		}
	}
	if client.svc.Banned(silent.h.ID()) || client.svc.Score(silent.h.ID()) != 0 {
		t.Error("a peer that answered not_found was punished")
	}
}

func TestProviderDiesMidTransfer(t *testing.T) {
	data := randomBytes(5, 5<<20+3)
	dying := newNode(t, Config{}, nil)
	spare := newNode(t, Config{}, nil)
	var c cid.CID
	for _, n := range []*node{dying, spare} {
		c = n.put(t, data)
	}
	var once sync.Once
	dying.src.set(func(m *testSource) {
		m.afterBytes = 1 << 20
		m.onBytes = func(context.Context) error {
			once.Do(func() { go dying.h.Close() })
			return errors.New("provider died")
		}
	})
	// One provider at a time: the dying one serves until it dies.
	client := newNode(t, Config{Span: testSpan, MaxProviders: 1}, nil)
	stats, err := client.fetch(t, c, dying, spare)
	if err != nil {
		t.Fatal(err)
	}
	client.has(t, c, data)
	if stats.PerPeer[spare.h.ID()] == 0 || stats.Retries == 0 || len(stats.Liars) != 0 {
		t.Fatalf("stats %+v: want the spare to take over the dead provider's ranges", stats)
	}
	if client.svc.Banned(dying.h.ID()) || client.svc.Score(dying.h.ID()) >= client.svc.Score(spare.h.ID()) {
		t.Fatalf("dead provider: banned %v, score %d (spare %d)", client.svc.Banned(dying.h.ID()), client.svc.Score(dying.h.ID()), client.svc.Score(spare.h.ID()))
	}
}

func TestStalledProvider(t *testing.T) {
	data := randomBytes(6, 3<<20)
	stalled := newNode(t, Config{}, nil)
	spare := newNode(t, Config{}, nil)
	var c cid.CID
	for _, n := range []*node{stalled, spare} {
		c = n.put(t, data)
	}
	stalled.src.set(func(m *testSource) {
		m.afterBytes = 512 << 10
		m.onBytes = func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	})
	// The stall is noticed after RequestTimeout without a byte: long enough
	// that the spare, on a loaded machine under -race, is not taken for
	// stalled too.
	client := newNode(t, Config{Span: testSpan, MaxProviders: 1, RequestTimeout: 3 * time.Second}, nil)
	stats, err := client.fetch(t, c, stalled, spare)
	if err != nil {
		t.Fatal(err)
	}
	client.has(t, c, data)
	if stats.PerPeer[spare.h.ID()] == 0 || stats.Retries == 0 {
		t.Fatalf("stats %+v: want the spare to take over", stats)
	}
}

// TestTricklingProvider: a provider that sends a read's bytes a few at a
// time, each well within RequestTimeout, loses the read once it falls
// behind MinRate (after RequestTimeout's grace) and the spare serves it;
// before, the fetch waited for the trickle however long it took.
func TestTricklingProvider(t *testing.T) {
	data := randomBytes(14, 1<<20)
	spare := newNode(t, Config{}, nil)
	c := spare.put(t, data)
	hostile := newHost(t)
	done := make(chan struct{})
	defer close(done)
	hostile.SetStreamHandler(ProtocolBlob, func(st network.Stream) {
		defer st.Reset()
		br := bufio.NewReader(st)
		for {
			b, err := readFrame(br)
			if err != nil {
				return
			}
			req, we := parseRequest(b, ProtocolBlob)
			if we != nil || req.op != opRead {
				return
			}
			writeFrame(st, response{Size: int64(len(data)), Len: req.len})
			for p := req.off; p < req.off+req.len; p += 100 { // 100 bytes per 20 ms: 5 KB/s
				select {
				case <-done:
					return
				case <-time.After(20 * time.Millisecond):
				}
				if _, err := st.Write(data[p:min(p+100, req.off+req.len)]); err != nil {
					return
				}
			}
		}
	})
	client := newNode(t, Config{Span: testSpan, RequestTimeout: 2 * time.Second, MinRate: 1 << 20}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	size, ob, err := spare.st.Outboard(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	in, err := client.st.NewIngest(ctx, c, size, ob)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Abort()
	stats, err := client.svc.Fetch(ctx, c, in, []peer.AddrInfo{info(hostile), spare.info()})
	if err != nil {
		t.Fatalf("Fetch: %v (stats %+v)", err, stats)
	}
	if !in.Done() || stats.PerPeer[spare.h.ID()] != int64(len(data)) || stats.Retries == 0 {
		t.Fatalf("stats %+v", stats)
	}
}

func TestNotFoundAndNoProviders(t *testing.T) {
	data := randomBytes(7, 300<<10)
	empty := newNode(t, Config{}, nil)
	full := newNode(t, Config{}, nil)
	c := full.put(t, data)
	client := newNode(t, Config{Span: testSpan}, nil)
	ctx := context.Background()
	_, _, err := client.svc.Outboard(ctx, c, []peer.AddrInfo{empty.info()})
	if !errors.Is(err, ErrNoProviders) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("Outboard from a peer without it: %v", err)
	}
	if _, _, err := client.svc.Outboard(ctx, c, nil); !errors.Is(err, ErrNoProviders) {
		t.Fatalf("Outboard from nobody: %v", err)
	}
	in := client.ingest(t, c, full)
	stats, err := client.svc.Fetch(ctx, c, in, []peer.AddrInfo{empty.info(), client.info()})
	if !errors.Is(err, ErrNoProviders) || !errors.Is(err, ErrNotFound) || stats.Bytes != 0 {
		t.Fatalf("Fetch from a peer without it (and from itself): %+v, %v", stats, err)
	}
	if client.svc.Score(empty.h.ID()) != 0 {
		t.Fatal("a not_found answer was scored down")
	}
	// With a provider that has it, the fetch goes on past the one without.
	if _, err := client.svc.Fetch(ctx, c, in, []peer.AddrInfo{empty.info(), full.info()}); err != nil {
		t.Fatal(err)
	}
	// A peer that does not speak the protocol at all.
	bare := newHost(t)
	if _, _, err := client.svc.Outboard(ctx, c, []peer.AddrInfo{info(bare)}); !errors.Is(err, ErrNoProviders) {
		t.Fatalf("Outboard from a peer without the protocol: %v", err)
	}
}

func TestBusy(t *testing.T) {
	data := randomBytes(8, 200<<10)
	busy := newNode(t, Config{MaxInbound: 1}, nil)
	spare := newNode(t, Config{}, nil)
	c := busy.put(t, data)
	spare.put(t, data)
	// Hold busy's one slot: a stream that has been answered and stays open.
	other := newHost(t)
	rs := openRaw(t, other, busy, ProtocolBlob)
	if r := rs.roundTrip(t, frameOf(request{Op: opOutboard, CID: c.String()})); r.Error != nil {
		t.Fatal(r.Error)
	}
	client := newNode(t, Config{Span: testSpan}, nil)
	_, _, err := client.svc.Outboard(context.Background(), c, []peer.AddrInfo{busy.info()})
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("Outboard from a busy peer: %v", err)
	}
	stats, err := client.fetch(t, c, busy, spare)
	if err != nil {
		t.Fatal(err)
	}
	client.has(t, c, data)
	if stats.PerPeer[spare.h.ID()] != int64(len(data)) || client.svc.Score(busy.h.ID()) != 0 {
		t.Fatalf("stats %+v, busy's score %d", stats, client.svc.Score(busy.h.ID()))
	}
	// The slot frees when the held stream ends.
	rs.st.Close()
	poll.Until(t, "the busy peer to serve again", func() bool {
		_, _, err := client.svc.Outboard(context.Background(), c, []peer.AddrInfo{busy.info()})
		return err == nil
	})
}

// TestOnePeerCannotTakeEverySlot: a hostile peer that opens as many
// streams as the server serves at once and keeps them (a cheap request now
// and then resets the idle timeout) gets MaxInboundPerPeer of them served
// and busy for the rest; other peers are still served.
func TestOnePeerCannotTakeEverySlot(t *testing.T) {
	data := randomBytes(12, 100<<10)
	srv := newNode(t, Config{}, nil)
	c := srv.put(t, data)
	hostile := newHost(t)
	served, busy := 0, 0
	for range DefaultMaxInbound {
		rs := openRaw(t, hostile, srv, ProtocolBlob)
		// A bound on a hang, not a verdict.
		rs.st.SetDeadline(time.Now().Add(poll.Deadline))
		rs.st.Write(frameOf(request{Op: opOutboard, CID: cid.Sum([]byte("absent")).String()})) // a busy stream may be closed already
		switch r := rs.answer(t); {
		case r.Error != nil && r.Error.Code == CodeNotFound:
			served++ // the stream stays open, holding its slot
		case r.Error != nil && r.Error.Code == CodeBusy:
			busy++
		default:
			t.Fatalf("answer %+v", r)
		}
	}
	if served != DefaultMaxInboundPerPeer || busy != DefaultMaxInbound-DefaultMaxInboundPerPeer {
		t.Fatalf("one peer got %d streams served and %d busy", served, busy)
	}
	client := newNode(t, Config{Span: testSpan}, nil)
	size, _, err := client.svc.Outboard(context.Background(), c, []peer.AddrInfo{srv.info()})
	if err != nil || size != int64(len(data)) {
		t.Fatalf("another peer's Outboard: %d, %v", size, err)
	}
}

// TestHugeOutboardClaimCaughtEarly: a peer that knows an object's real
// outboard claims the object is 64 GiB and sends the real parent nodes,
// then garbage, then stalls. The client catches the lie at the first node
// that does not fit the claimed tree, without waiting for (or holding) the
// claimed 64 MiB of outboard: the peer is a liar, not a stalled peer.
func TestHugeOutboardClaimCaughtEarly(t *testing.T) {
	data := randomBytes(13, 5*store.GroupSize)
	c := cid.Sum(data)
	real := encodeOutboard(data)
	const fake = 64 << 30
	hostile := newHost(t)
	done := make(chan struct{})
	defer close(done)
	hostile.SetStreamHandler(ProtocolBlob, func(st network.Stream) {
		defer st.Reset()
		if _, err := readFrame(bufio.NewReader(st)); err != nil {
			return
		}
		writeFrame(st, response{Size: fake, Len: outboardLen(fake)})
		st.Write(binary.LittleEndian.AppendUint64(nil, fake))
		st.Write(real[8:])
		st.Write(make([]byte, 64<<10))
		<-done // then nothing: a stall
	})
	client := newNode(t, Config{RequestTimeout: time.Hour}, nil)
	_, _, err := client.svc.Outboard(context.Background(), c, []peer.AddrInfo{info(hostile)})
	if !errors.Is(err, ErrLied) || !client.svc.Banned(hostile.ID()) {
		t.Fatalf("Outboard from a peer claiming 64 GiB: %v (banned: %v)", err, client.svc.Banned(hostile.ID()))
	}
}

// countingStore is a store that counts its Outboard calls.
type countingStore struct {
	*store.Store
	outboards atomic.Int64
}

func (c *countingStore) Outboard(ctx context.Context, id cid.CID) (int64, []byte, error) {
	c.outboards.Add(1)
	return c.Store.Outboard(ctx, id)
}

// TestReadsDoNotLoadOutboards: reads that alternate between two objects
// are served without loading either outboard (a load verifies and copies
// up to 64 MiB: one per 64 KiB read would let a peer multiply its cost).
func TestReadsDoNotLoadOutboards(t *testing.T) {
	h := newHost(t)
	src := &countingStore{Store: newStore(t)}
	srv := &node{h: h, st: src.Store, svc: New(h, src, nil, Config{})}
	if err := srv.svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.svc.Close() })
	a, b := randomBytes(15, 3*store.GroupSize), randomBytes(16, 2*store.GroupSize)
	ca, cb := srv.put(t, a), srv.put(t, b)
	rs := openRaw(t, newHost(t), srv, ProtocolBlob)
	for i := range 10 {
		c, data := ca, a
		if i%2 == 1 {
			c, data = cb, b
		}
		r := rs.roundTrip(t, frameOf(request{Op: opRead, CID: c.String(), Off: 0, Len: store.GroupSize}))
		if r.Error != nil || r.Size != int64(len(data)) || r.Len != store.GroupSize {
			t.Fatalf("read %d: %+v", i, r)
		}
		if _, err := io.CopyN(io.Discard, rs.br, r.Len); err != nil {
			t.Fatal(err)
		}
	}
	if n := src.outboards.Load(); n != 0 {
		t.Fatalf("10 reads loaded %d outboards", n)
	}
}

func frameOf(v any) []byte {
	var b bytes.Buffer
	if err := writeFrame(&b, v); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func rawFrame(body string) []byte {
	return append(binary.AppendUvarint(nil, uint64(len(body))), body...)
}

func TestMalformedRequests(t *testing.T) {
	data := randomBytes(9, 3*store.GroupSize+10)
	srv := newNode(t, Config{}, nil)
	c := srv.put(t, data)
	cs := c.String()
	other := newHost(t)
	bigLen := binary.AppendUvarint(nil, MaxHeader+1)
	cases := []struct {
		name  string
		proto string
		frame []byte
		code  string
		open  bool // the stream stays usable
	}{
		{"header over the cap", "", append(bigLen, make([]byte, 10)...), CodeTooLarge, false},
		{"three-byte length", "", []byte{0x80, 0x80, 0x01}, CodeTooLarge, false},
		{"empty header", "", []byte{0}, CodeInvalid, false},
		{"not JSON", "", rawFrame("{op"), CodeInvalid, false},
		{"two objects", "", rawFrame(`{"op":"outboard","cid":"` + cs + `"}{}`), CodeInvalid, false},
		{"unknown field", "", rawFrame(`{"op":"outboard","cid":"` + cs + `","x":1}`), CodeInvalid, false},
		{"unknown op", "", frameOf(request{Op: "delete", CID: cs}), CodeInvalid, false},
		{"bad cid", "", frameOf(request{Op: opOutboard, CID: "b3:xyz"}), CodeInvalid, false},
		{"outboard with a range", "", frameOf(request{Op: opOutboard, CID: cs, Off: store.GroupSize}), CodeInvalid, false},
		{"unaligned off", "", frameOf(request{Op: opRead, CID: cs, Off: 5, Len: store.GroupSize}), CodeInvalid, false},
		{"negative off", "", frameOf(request{Op: opRead, CID: cs, Off: -store.GroupSize, Len: store.GroupSize}), CodeInvalid, false},
		{"zero len", "", frameOf(request{Op: opRead, CID: cs}), CodeInvalid, false},
		{"read over the cap", "", frameOf(request{Op: opRead, CID: cs, Len: MaxRead + store.GroupSize}), CodeTooLarge, false},
		{"read on replicate", string(ProtocolReplicate), frameOf(request{Op: opRead, CID: cs, Len: store.GroupSize}), CodeInvalid, false},
		{"unaligned len inside", "", frameOf(request{Op: opRead, CID: cs, Len: 100}), CodeInvalid, true},
		{"past the end", "", frameOf(request{Op: opRead, CID: cs, Off: 4 * store.GroupSize, Len: store.GroupSize}), CodeRange, true},
		{"over the end", "", frameOf(request{Op: opRead, CID: cs, Off: 3 * store.GroupSize, Len: store.GroupSize}), CodeRange, true},
		{"unknown object", "", frameOf(request{Op: opOutboard, CID: cid.Sum([]byte("nothing")).String()}), CodeNotFound, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			proto := ProtocolBlob
			if tc.proto != "" {
				proto = protocol.ID(tc.proto)
			}
			rs := openRaw(t, other, srv, proto)
			defer rs.st.Reset()
			r := rs.roundTrip(t, tc.frame)
			if r.Error == nil || r.Error.Code != tc.code {
				t.Fatalf("answer %+v, want code %s", r, tc.code)
			}
			if !tc.open {
				if _, err := readFrame(rs.br); err == nil {
					t.Fatal("the stream stayed open after a fatal error")
				}
				return
			}
			// Still usable: a good request is answered.
			r = rs.roundTrip(t, frameOf(request{Op: opRead, CID: cs, Off: 3 * store.GroupSize, Len: 10}))
			if r.Error != nil || r.Size != int64(len(data)) || r.Len != 10 {
				t.Fatalf("after %s: %+v", tc.code, r)
			}
			got := make([]byte, 10)
			if _, err := io.ReadFull(rs.br, got); err != nil || !bytes.Equal(got, data[3*store.GroupSize:]) {
				t.Fatalf("read %q, %v", got, err)
			}
		})
	}
}

func TestServerCloseWaitsForHandlers(t *testing.T) {
	data := randomBytes(10, 2<<20)
	srv := newNode(t, Config{}, nil)
	c := srv.put(t, data)
	blocked := make(chan struct{})
	var once sync.Once
	srv.src.set(func(m *testSource) {
		m.afterBytes = 256 << 10
		m.onBytes = func(ctx context.Context) error { once.Do(func() { close(blocked) }); <-ctx.Done(); return ctx.Err() }
	})
	client := newNode(t, Config{Span: testSpan}, nil)
	done := make(chan error, 1)
	go func() { _, err := client.fetch(t, c, srv); done <- err }()
	<-blocked
	if err := srv.svc.Close(); err != nil {
		t.Fatal(err)
	}
	// Close returned: the handler that was blocked in its reader has
	// returned and closed it.
	if n := srv.src.openReaders(); n != 0 {
		t.Fatalf("%d readers still open after Close", n)
	}
	if err := <-done; !errors.Is(err, ErrNoProviders) {
		t.Fatalf("fetch from a closed server: %v", err)
	}
	// New streams are refused.
	if _, _, err := client.svc.Outboard(context.Background(), c, []peer.AddrInfo{srv.info()}); !errors.Is(err, ErrNoProviders) {
		t.Fatalf("Outboard from a closed service: %v", err)
	}
	if err := srv.svc.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

func TestClientCloseEndsFetch(t *testing.T) {
	data := randomBytes(11, 2<<20)
	srv := newNode(t, Config{}, nil)
	c := srv.put(t, data)
	blocked := make(chan struct{})
	var once sync.Once
	srv.src.set(func(m *testSource) {
		m.afterBytes = 256 << 10
		m.onBytes = func(ctx context.Context) error { once.Do(func() { close(blocked) }); <-ctx.Done(); return ctx.Err() }
	})
	client := newNode(t, Config{Span: testSpan}, nil)
	done := make(chan error, 1)
	go func() { _, err := client.fetch(t, c, srv); done <- err }()
	<-blocked
	client.svc.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Fetch during Close: %v", err)
	}
	if _, err := client.svc.Fetch(context.Background(), c, newSinkStub(), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Fetch after Close: %v", err)
	}
}

func TestFetchContextCancelled(t *testing.T) {
	data := randomBytes(12, 2<<20)
	srv := newNode(t, Config{}, nil)
	c := srv.put(t, data)
	blocked := make(chan struct{})
	var once sync.Once
	srv.src.set(func(m *testSource) {
		m.afterBytes = 256 << 10
		m.onBytes = func(ctx context.Context) error { once.Do(func() { close(blocked) }); <-ctx.Done(); return ctx.Err() }
	})
	client := newNode(t, Config{Span: testSpan}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	in := client.ingest(t, c, srv)
	done := make(chan error, 1)
	go func() { _, err := client.svc.Fetch(ctx, c, in, []peer.AddrInfo{srv.info()}); done <- err }()
	<-blocked
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch after cancel: %v", err)
	}
	if client.svc.Score(srv.h.ID()) < 0 {
		t.Fatal("the provider was scored down for our cancel")
	}
}

// sinkStub is a Sink missing one group it never gets.
type sinkStub struct{}

func newSinkStub() sinkStub                      { return sinkStub{} }
func (sinkStub) Size() int64                     { return store.GroupSize }
func (sinkStub) Missing() [][2]int64             { return [][2]int64{{0, store.GroupSize}} }
func (sinkStub) WriteGroups(int64, []byte) error { return errors.New("stub") }

// testReplicator fetches from the asking peer into its node's store.
type testReplicator struct {
	n    *node
	fail error
	mu   sync.Mutex
	from []peer.ID
}

func (r *testReplicator) Replicate(ctx context.Context, c cid.CID, from peer.ID) error {
	r.mu.Lock()
	r.from = append(r.from, from)
	r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	ais := []peer.AddrInfo{{ID: from}}
	size, ob, err := r.n.svc.Outboard(ctx, c, ais)
	if err != nil {
		return err
	}
	in, err := r.n.st.NewIngest(ctx, c, size, ob)
	if err != nil {
		return err
	}
	if _, err := r.n.svc.Fetch(ctx, c, in, ais); err != nil {
		in.Abort()
		return err
	}
	_, err = in.Commit(ctx, store.PutOptions{Pin: true})
	return err
}

func TestReplicate(t *testing.T) {
	data := randomBytes(13, 1<<20+5)
	asker := newNode(t, Config{}, nil)
	c := asker.put(t, data)
	trustAsker := Config{Trusted: func(p peer.ID) bool { return p == asker.h.ID() }}
	rep := &testReplicator{}
	holder := newNode(t, trustAsker, rep)
	rep.n = holder
	refuser := newNode(t, trustAsker, nil)
	failing := newNode(t, trustAsker, &testReplicator{fail: errors.New("disk full")})
	// A node that would take copies, but not from the asker: its
	// Replicator must never be asked (nothing fetched, nothing pinned).
	strangerRep := &testReplicator{}
	wary := newNode(t, Config{Trusted: func(peer.ID) bool { return false }}, strangerRep)
	strangerRep.n = wary
	noTrust := newNode(t, Config{}, strangerRep) // nil Trusted: nobody
	ctx := context.Background()
	for _, n := range []*node{holder, refuser, failing, wary, noTrust} {
		if err := asker.h.Connect(ctx, n.info()); err != nil {
			t.Fatal(err)
		}
	}
	if err := asker.svc.AskReplicate(ctx, holder.h.ID(), c); err != nil {
		t.Fatal(err)
	}
	holder.has(t, c, data)
	if !slices.Equal(rep.from, []peer.ID{asker.h.ID()}) {
		t.Fatalf("replicator asked to fetch from %v", rep.from)
	}
	if err := asker.svc.AskReplicate(ctx, refuser.h.ID(), c); !errors.Is(err, ErrRefused) {
		t.Fatalf("AskReplicate of a node without a Replicator: %v", err)
	}
	var re *RemoteError
	if err := asker.svc.AskReplicate(ctx, failing.h.ID(), c); !errors.As(err, &re) || re.Code != CodeFailed || re.Message != "disk full" {
		t.Fatalf("AskReplicate of a failing node: %v", err)
	}
	for _, n := range []*node{wary, noTrust} {
		if err := asker.svc.AskReplicate(ctx, n.h.ID(), c); !errors.Is(err, ErrRefused) {
			t.Fatalf("AskReplicate of a node that does not trust the asker: %v", err)
		}
		if _, err := n.st.Info(ctx, c); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a node that refused the copy holds it anyway: %v", err)
		}
	}
	if len(strangerRep.from) != 0 {
		t.Fatalf("the Replicator was asked for an untrusted peer: %v", strangerRep.from)
	}
}

func TestPeerTableIsBounded(t *testing.T) {
	svc := New(newHost(t), nil, nil, Config{})
	for i := range 3 * maxTracked {
		svc.adjust(peer.ID(fmt.Sprint(i)), scoreServed, false)
	}
	svc.adjust("liar", scoreLied, true)
	if len(svc.peers) > maxTracked {
		t.Fatalf("%d peers tracked, at most %d", len(svc.peers), maxTracked)
	}
	if !svc.Banned("liar") {
		t.Fatal("the ban was forgotten")
	}
}
