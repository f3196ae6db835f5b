package overlay

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/ronhost/ronhost/internal/core/blob"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
	"github.com/ronhost/ronhost/internal/poll"
)

// relayNet is a relay R and a node A that reaches others only through R,
// holding an object, on loopback (where hole punching cannot work: it
// needs public addresses, so the relayed connection stays relayed).
type relayNet struct {
	r, a *Overlay
	obj  cid.CID
	data []byte
}

// tcpAddr returns o's loopback TCP address without /p2p.
func tcpAddr(t *testing.T, o *Overlay) ma.Multiaddr {
	t.Helper()
	for _, a := range o.Host().Addrs() {
		if _, err := a.ValueForProtocol(ma.P_TCP); err == nil {
			return a
		}
	}
	t.Fatalf("no TCP address in %v", o.Host().Addrs())
	return nil
}

// circuitAddr is A's address through R.
func (n *relayNet) circuitAddr(t *testing.T) ma.Multiaddr {
	return tcpAddr(t, n.r).Encapsulate(ma.StringCast("/p2p/" + n.r.ID().String() + "/p2p-circuit"))
}

func newRelayNet(t *testing.T, limits RelayLimits, size int) *relayNet {
	t.Helper()
	dir := t.TempDir()
	tcp := []string{"/ip4/127.0.0.1/tcp/0"}
	r := start(t, Config{KeyFile: filepath.Join(dir, "r.key"), Listen: tcp, Reachability: ReachPublic,
		RelayService: true, RelayLimits: limits})
	a := start(t, Config{KeyFile: filepath.Join(dir, "a.key"), Listen: tcp, Reachability: ReachPrivate,
		Relays: r.Addrs(), Bootstrap: r.Addrs()})
	ctx, cancel := context.WithTimeout(context.Background(), poll.Guard)
	defer cancel()

	// A's relay slot: autorelay takes one too, but on loopback it cannot
	// announce the address (autorelay announces public relay addresses
	// only), so the test takes the slot itself and knows when it holds.
	poll.UntilErr(t, poll.Guard, "a reservation on the relay", func() error {
		_, err := client.Reserve(ctx, a.Host(), peer.AddrInfo{ID: r.ID(), Addrs: []ma.Multiaddr{tcpAddr(t, r)}})
		return err
	})
	if st := a.Status(); st.Reachability != ReachPrivate || st.DHT != "client" {
		t.Errorf("A (private by configuration): reachability %s, DHT %s; want private, client", st.Reachability, st.DHT)
	}
	if st := r.Status(); !st.RelayService || st.DHT != "server" {
		t.Errorf("R (public, relay_service): relay service %v, DHT %s; want true, server", st.RelayService, st.DHT)
	}

	st := newStore(t)
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(uint64(size), 7))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	res, err := st.Put(ctx, bytes.NewReader(data), store.PutOptions{Pin: true})
	if err != nil {
		t.Fatal(err)
	}
	startBlob(t, a, st, blob.Config{})
	return &relayNet{r: r, a: a, obj: res.CID, data: data}
}

func newStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), "/store", store.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func startBlob(t *testing.T, o *Overlay, st *store.Store, cfg blob.Config) *blob.Service {
	t.Helper()
	b := blob.New(o.DataHost(), st, nil, cfg)
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// fetchThrough has b (a new node with relayData) fetch n's object from A
// through R; it returns b and the fetch's error.
func (n *relayNet) fetchThrough(t *testing.T, relayData bool) (*Overlay, error) {
	t.Helper()
	b := New(Config{KeyFile: filepath.Join(t.TempDir(), "b.key"), Listen: []string{"/ip4/127.0.0.1/tcp/0"}, RelayData: relayData})
	b.directWait = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), poll.Guard)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	prov := peer.AddrInfo{ID: n.a.ID(), Addrs: []ma.Multiaddr{n.circuitAddr(t)}}
	if err := b.Host().Connect(ctx, prov); err != nil {
		t.Fatalf("connecting to A through the relay: %v", err)
	}
	st := newStore(t)
	bs := startBlob(t, b, st, blob.Config{RequestTimeout: 3 * time.Second})
	size, ob, err := bs.Outboard(ctx, n.obj, []peer.AddrInfo{prov})
	if err != nil {
		return b, err
	}
	ing, err := st.NewIngest(ctx, n.obj, size, ob)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bs.Fetch(ctx, n.obj, ing, []peer.AddrInfo{prov}); err != nil {
		ing.Abort()
		return b, err
	}
	if _, err := ing.Commit(ctx, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, err := st.Get(ctx, n.obj)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got bytes.Buffer
	if _, err := got.ReadFrom(rc); err != nil || !bytes.Equal(got.Bytes(), n.data) {
		t.Fatalf("the fetched copy differs (%d bytes, %v)", got.Len(), err)
	}
	return b, nil
}

// TestBulkDataStaysOffRelays: a peer reachable only through a relay (no
// hole punching on loopback) is refused bulk data unless relay_data allows
// it, with an error that says so; with relay_data the fetch runs over the
// relayed connection, verified.
func TestBulkDataStaysOffRelays(t *testing.T) {
	n := newRelayNet(t, RelayLimits{CircuitBytes: 64 << 20, CircuitDuration: time.Minute}, 3<<20+777)

	_, err := n.fetchThrough(t, false)
	if err == nil {
		t.Fatal("fetched over a relay with relay_data off")
	}
	if !errors.Is(err, ErrRelayOnly) && !strings.Contains(err.Error(), "relay_data is off") {
		t.Fatalf("fetch without relay_data failed with %v; want it to say the peer is relay-only and relay_data is off", err)
	}
	t.Logf("without relay_data: %v", err)

	b, err := n.fetchThrough(t, true)
	if err != nil {
		t.Fatalf("fetch with relay_data: %v", err)
	}
	conns := b.ConnsTo(n.a.ID())
	if len(conns) == 0 {
		t.Fatal("no connection to A after the fetch")
	}
	for _, c := range conns {
		if !c.Relayed || !c.Limited {
			t.Fatalf("connection to A %+v: want relayed and limited (loopback has no hole punching)", c)
		}
	}
}

// TestRelayLimitsHold: a stranger pulling more than relay_circuit_bytes
// through a relay has its circuit cut: the relay never carries more than
// it allows, whatever its clients ask.
func TestRelayLimitsHold(t *testing.T) {
	n := newRelayNet(t, RelayLimits{CircuitBytes: 512 << 10, CircuitDuration: time.Minute}, 4<<20)
	_, err := n.fetchThrough(t, true)
	if err == nil {
		t.Fatal("a 4 MiB fetch went through a relay that allows 512 KiB per circuit")
	}
	t.Logf("over the limit: %v", err)
}

// TestDirectProvidersFirst: FindProviders ranks providers this node can
// reach directly before those behind relays.
func TestDirectProvidersFirst(t *testing.T) {
	o := start(t, Config{KeyFile: filepath.Join(t.TempDir(), "o.key"), Listen: []string{"/ip4/127.0.0.1/tcp/0"}})
	other := start(t, Config{KeyFile: filepath.Join(t.TempDir(), "p.key"), Listen: []string{"/ip4/127.0.0.1/tcp/0"}})
	if err := o.Host().Connect(context.Background(), peer.AddrInfo{ID: other.ID(), Addrs: other.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
	id := func(i int) peer.ID {
		seed := make([]byte, SeedSize)
		seed[0] = byte(i)
		k, err := KeyFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		p, err := peer.IDFromPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	relayOnly := peer.AddrInfo{ID: id(1), Addrs: []ma.Multiaddr{ma.StringCast("/ip4/11.0.0.2/tcp/4470/p2p/" + id(9).String() + "/p2p-circuit")}}
	public := peer.AddrInfo{ID: id(2), Addrs: []ma.Multiaddr{ma.StringCast("/ip4/11.0.0.3/tcp/4470")}}
	lan := peer.AddrInfo{ID: id(3), Addrs: []ma.Multiaddr{ma.StringCast("/ip4/192.168.1.5/tcp/4470")}}
	connected := peer.AddrInfo{ID: other.ID()}
	for _, tc := range []struct {
		ai              peer.AddrInfo
		local, internet int
	}{
		{connected, 0, 0},
		{public, 1, 1},
		{lan, 1, 2}, // a LAN address is no use to a node on the internet
		{relayOnly, 2, 2},
	} {
		if got := directness(o.Host(), false, tc.ai); got != tc.local {
			t.Errorf("directness(%v) on a local network = %d, want %d", tc.ai, got, tc.local)
		}
		if got := directness(o.Host(), true, tc.ai); got != tc.internet {
			t.Errorf("directness(%v) on the internet = %d, want %d", tc.ai, got, tc.internet)
		}
	}
}
