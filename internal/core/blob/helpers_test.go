package blob

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	tls "github.com/libp2p/go-libp2p/p2p/security/tls"
	tcp "github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"lukechampine.com/blake3/bao"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
	"github.com/ronhost/ronhost/internal/poll"
)

// newHost starts a libp2p host on 127.0.0.1 TCP (TLS, yamux), closed when
// the test ends.
func newHost(t testing.TB, opts ...libp2p.Option) host.Host {
	t.Helper()
	base := []libp2p.Option{
		libp2p.NoTransports,
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.Security(tls.ID, tls.New),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
	}
	h, err := libp2p.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func info(h host.Host) peer.AddrInfo { return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()} }

// newStore opens a store on Pebble's in-memory filesystem.
func newStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "/store", store.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// node is a host with a started Service serving its own store.
type node struct {
	h   host.Host
	svc *Service
	st  *store.Store
	src *testSource
}

func newNode(t testing.TB, cfg Config, rep Replicator) *node {
	t.Helper()
	h := newHost(t)
	n := &node{h: h, st: newStore(t)}
	n.src = &testSource{st: n.st}
	n.svc = New(h, n.src, rep, cfg)
	if err := n.svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.svc.Close() })
	return n
}

// newStoreNode is newNode serving its store itself, as a node does (its
// readers write straight from their verified buffers: io.WriterTo), with
// no test hooks.
func newStoreNode(t testing.TB, cfg Config) *node {
	t.Helper()
	h := newHost(t)
	n := &node{h: h, st: newStore(t)}
	n.src = &testSource{st: n.st}
	n.svc = New(h, n.st, nil, cfg)
	if err := n.svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.svc.Close() })
	return n
}

func (n *node) info() peer.AddrInfo { return info(n.h) }

// put stores data on n and returns its CID.
func (n *node) put(t testing.TB, data []byte) cid.CID {
	t.Helper()
	res, err := n.st.Put(context.Background(), bytes.NewReader(data), store.PutOptions{Pin: true})
	if err != nil {
		t.Fatal(err)
	}
	return res.CID
}

// ingest asks from for c's outboard and opens an Ingest of c in n's store,
// aborted at the test's end unless committed.
func (n *node) ingest(t testing.TB, c cid.CID, from *node) *store.Ingest {
	t.Helper()
	ctx := context.Background()
	size, ob, err := n.svc.Outboard(ctx, c, []peer.AddrInfo{from.info()})
	if err != nil {
		t.Fatal(err)
	}
	in, err := n.st.NewIngest(ctx, c, size, ob)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Abort)
	return in
}

// fetch gets c from providers into n's store the way a node does: the
// outboard, an Ingest, Fetch, Commit. It returns Fetch's stats and error.
func (n *node) fetch(t testing.TB, c cid.CID, providers ...*node) (FetchStats, error) {
	t.Helper()
	ctx := context.Background()
	var ais []peer.AddrInfo
	for _, p := range providers {
		ais = append(ais, p.info())
	}
	size, ob, err := n.svc.Outboard(ctx, c, ais)
	if err != nil {
		return FetchStats{}, err
	}
	in, err := n.st.NewIngest(ctx, c, size, ob)
	if err != nil {
		t.Fatal(err)
	}
	stats, err := n.svc.Fetch(ctx, c, in, ais)
	if err != nil {
		in.Abort()
		return stats, err
	}
	if !in.Done() {
		t.Fatalf("Fetch returned nil but the ingest misses %v", in.Missing())
	}
	if _, err := in.Commit(ctx, store.PutOptions{Pin: true}); err != nil {
		t.Fatal(err)
	}
	return stats, nil
}

// has checks that n stores data under c.
func (n *node) has(t testing.TB, c cid.CID, data []byte) {
	t.Helper()
	r, err := n.st.Get(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("stored %d bytes differ from the %d put", len(got), len(data))
	}
}

func randomBytes(seed uint64, size int) []byte {
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	return data
}

// testSource serves from a store. Its hooks make it lie, die or stall.
type testSource struct {
	st *store.Store
	mu sync.Mutex
	// lie flips a bit in every Read once readers have served lieAfter bytes
	// in total (honest bytes first, then lies); with lieOnce only in the
	// first such Read (honest bytes again after it).
	lie      bool
	lieAfter int64
	lieOnce  bool
	lied     bool
	// outboardHook may replace what Outboard returns.
	outboardHook func(size int64, ob []byte) (int64, []byte)
	// onBytes, when set, is called by every Read once readers have served
	// afterBytes bytes in total; the Read then returns its error (nil: go on).
	afterBytes int64
	onBytes    func(ctx context.Context) error
	served     int64
	// open counts readers not yet closed.
	open int
}

func (m *testSource) set(f func(m *testSource)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m)
}

func (m *testSource) Outboard(ctx context.Context, c cid.CID) (int64, []byte, error) {
	size, ob, err := m.st.Outboard(ctx, c)
	m.mu.Lock()
	hook := m.outboardHook
	m.mu.Unlock()
	if err == nil && hook != nil {
		size, ob = hook(size, ob)
	}
	return size, ob, err
}

// Info gives the size Outboard gives (a liar's hook lies in both).
func (m *testSource) Info(ctx context.Context, c cid.CID) (store.Object, error) {
	o, err := m.st.Info(ctx, c)
	m.mu.Lock()
	hooked := m.outboardHook != nil
	m.mu.Unlock()
	if err == nil && hooked {
		o.Size, _, err = m.Outboard(ctx, c)
	}
	return o, err
}

func (m *testSource) ReadRange(ctx context.Context, c cid.CID, off, length int64) (io.ReadCloser, error) {
	rc, err := m.st.ReadRange(ctx, c, off, length)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.open++
	return &testReader{m: m, ctx: ctx, rc: rc, lie: m.lie}, nil
}

func (m *testSource) openReaders() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.open
}

type testReader struct {
	m   *testSource
	ctx context.Context
	rc  io.ReadCloser
	lie bool
}

func (r *testReader) Read(p []byte) (int, error) {
	m := r.m
	m.mu.Lock()
	hook := m.onBytes
	fire := hook != nil && m.served >= m.afterBytes
	if hook != nil && !fire {
		p = p[:min(int64(len(p)), m.afterBytes-m.served)]
	}
	if r.lie && m.served < m.lieAfter {
		p = p[:min(int64(len(p)), m.lieAfter-m.served)] // honest up to lieAfter exactly
	}
	m.mu.Unlock()
	if fire {
		if err := hook(r.ctx); err != nil {
			return 0, err
		}
	}
	n, err := r.rc.Read(p)
	m.mu.Lock()
	if r.lie && n > 0 && m.served >= m.lieAfter && !(m.lieOnce && m.lied) {
		p[n/2] ^= 1
		m.lied = true
	}
	m.served += int64(n)
	m.mu.Unlock()
	return n, err
}

func (r *testReader) Close() error {
	r.m.mu.Lock()
	r.m.open--
	r.m.mu.Unlock()
	return r.rc.Close()
}

// waitFor polls cond until it holds or the deadline passes.

// rawStream is a hand-driven client stream.
type rawStream struct {
	st network.Stream
	br *bufio.Reader
}

func openRaw(t testing.TB, from host.Host, to *node, proto protocol.ID) *rawStream {
	t.Helper()
	ctx := context.Background()
	if err := from.Connect(ctx, to.info()); err != nil {
		t.Fatal(err)
	}
	st, err := from.NewStream(ctx, to.h.ID(), proto)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Reset() })
	return &rawStream{st: st, br: bufio.NewReader(st)}
}

// roundTrip sends frame and reads the response header.
func (r *rawStream) roundTrip(t testing.TB, frame []byte) response {
	t.Helper()
	r.st.SetDeadline(time.Now().Add(poll.Deadline)) // a bound on a hang, not a verdict
	if _, err := r.st.Write(frame); err != nil {
		t.Fatal(err)
	}
	return r.answer(t)
}

// answer reads a response header.
func (r *rawStream) answer(t testing.TB) response {
	t.Helper()
	b, err := readFrame(r.br)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := parseResponse(b)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func protocolOf(s string) protocol.ID { return protocol.ID(s) }

func encodeOutboard(data []byte) []byte {
	ob, _ := bao.EncodeBuf(data, store.Group, true)
	return ob
}

// openStreams is how many streams of s (inbound and outbound) are open.
func (s *Service) openStreams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}
