package overlay

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	mh "github.com/multiformats/go-multihash"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/poll"
)

// poll calls f until it returns nil or the deadline passes; then it fails
// the test with f's last error.

func start(t testing.TB, cfg Config) *Overlay {
	t.Helper()
	o := New(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), poll.Guard)
	defer cancel()
	if err := o.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := o.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return o
}

func TestKey(t *testing.T) {
	c := cid.Sum([]byte("hello ronhost"))
	k := Key(c)
	if k.Version() != 1 || k.Type() != 0x55 {
		t.Fatalf("Key = version %d codec %#x, want 1, 0x55", k.Version(), k.Type())
	}
	d, err := mh.Decode(k.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if d.Code != mh.BLAKE3 || d.Length != 32 || string(d.Digest) != string(c[:]) {
		t.Fatalf("multihash = code %#x len %d digest %x, want 0x1e 32 %x", d.Code, d.Length, d.Digest, c[:])
	}
	// The text form IPFS tools print for a raw BLAKE3 CIDv1.
	if s := k.String(); !strings.HasPrefix(s, "bafkr4i") {
		t.Fatalf("Key = %s, want a bafkr4i... CID", s)
	}
	if Key(cid.Sum([]byte("other"))).Equals(k) {
		t.Fatal("two CIDs map to one key")
	}
}

func TestIdentityStableAcrossRestart(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "p2p.key")
	o1 := New(Config{KeyFile: keyFile})
	ctx := context.Background()
	if err := o1.Start(ctx); err != nil {
		t.Fatal(err)
	}
	id1 := o1.ID()
	addrs := o1.Addrs()
	if err := o1.Close(); err != nil {
		t.Fatal(err)
	}
	var tcp, quic bool
	for _, a := range addrs {
		if !strings.HasPrefix(a, "/ip4/127.0.0.1/") || !strings.HasSuffix(a, "/p2p/"+id1.String()) {
			t.Errorf("address %s: want loopback with /p2p/%s", a, id1)
		}
		tcp = tcp || strings.Contains(a, "/tcp/")
		quic = quic || strings.Contains(a, "/quic-v1/")
	}
	if !tcp || !quic {
		t.Errorf("addresses %v: want TCP and QUIC", addrs)
	}

	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != SeedSize || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %d bytes, mode %04o; want %d, 0600", fi.Size(), fi.Mode().Perm(), SeedSize)
	}
	seed, _ := os.ReadFile(keyFile)
	k, err := KeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := peer.IDFromPrivateKey(k); want != id1 {
		t.Fatalf("peer ID %s is not the one of the seed in the key file (%s)", id1, want)
	}

	o2 := start(t, Config{KeyFile: keyFile})
	if o2.ID() != id1 {
		t.Fatalf("peer ID after restart = %s, want %s", o2.ID(), id1)
	}
	// Another key file, another identity.
	o3 := start(t, Config{KeyFile: filepath.Join(t.TempDir(), "p2p.key")})
	if o3.ID() == id1 {
		t.Fatal("two key files gave one peer ID")
	}
}

func TestLimitsAreSet(t *testing.T) {
	for _, tc := range []struct {
		name      string
		cfg       Config
		mem       int64
		low, high int
	}{
		{"defaults", Config{}, DefaultMaxMemory, DefaultConnLow, DefaultConnHigh},
		{"configured", Config{ConnLow: 8, ConnHigh: 500, MaxMemory: 64 << 20}, 64 << 20, 8, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.KeyFile = filepath.Join(t.TempDir(), "p2p.key")
			cfg.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
			h := start(t, cfg).Host()

			cm, ok := h.ConnManager().(*connmgr.BasicConnMgr)
			if !ok {
				t.Fatalf("connection manager is %T, want *connmgr.BasicConnMgr", h.ConnManager())
			}
			if info := cm.GetInfo(); info.LowWater != tc.low || info.HighWater != tc.high {
				t.Fatalf("connection manager watermarks %d/%d, want %d/%d", info.LowWater, info.HighWater, tc.low, tc.high)
			}

			rm := h.Network().ResourceManager()
			if _, ok := rm.(*network.NullResourceManager); ok {
				t.Fatal("resource manager is the null (unlimited) one")
			}
			var sys rcmgr.Limit
			err := rm.ViewSystem(func(s network.ResourceScope) error {
				l, ok := s.(rcmgr.ResourceScopeLimiter)
				if !ok {
					return errors.New("system scope has no limits")
				}
				sys = l.Limit()
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := sys.GetMemoryLimit(); got != tc.mem {
				t.Errorf("system memory limit %d, want %d", got, tc.mem)
			}
			conns := sys.GetConnTotalLimit()
			if conns < tc.high || conns >= math.MaxInt32 {
				t.Errorf("system connection limit %d, want finite and >= %d", conns, tc.high)
			}
			for name, v := range map[string]int{
				"streams":         sys.GetStreamTotalLimit(),
				"inbound streams": sys.GetStreamLimit(network.DirInbound),
				"inbound conns":   sys.GetConnLimit(network.DirInbound),
				"fds":             sys.GetFDLimit(),
			} {
				if v <= 0 || v >= math.MaxInt32 {
					t.Errorf("system %s limit %d, want finite and positive", name, v)
				}
			}
			// The kad protocol and peers get finite limits too.
			err = rm.ViewPeer(h.ID(), func(s network.PeerScope) error {
				l := s.(rcmgr.ResourceScopeLimiter).Limit()
				if m := l.GetMemoryLimit(); m <= 0 || m > tc.mem {
					return errors.New("peer memory limit unbounded")
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	c := cid.Sum([]byte("x"))

	o := New(Config{Key: mustKey(t)})
	if err := o.Ready(); !errors.Is(err, ErrNotStarted) {
		t.Errorf("Ready before Start = %v, want ErrNotStarted", err)
	}
	if err := o.Provide(ctx, c); !errors.Is(err, ErrNotStarted) {
		t.Errorf("Provide before Start = %v, want ErrNotStarted", err)
	}
	if _, err := o.FindProviders(ctx, c, 1); !errors.Is(err, ErrNotStarted) {
		t.Errorf("FindProviders before Start = %v, want ErrNotStarted", err)
	}
	if o.Host() != nil || o.ID() != "" || o.Addrs() != nil || o.Peers() != 0 {
		t.Error("accessors before Start are not empty")
	}
	if err := o.Close(); err != nil {
		t.Errorf("Close before Start = %v", err)
	}
	if err := o.Start(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close = %v, want ErrClosed", err)
	}

	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := New(Config{Key: mustKey(t)}).Start(done); !errors.Is(err, context.Canceled) {
		t.Errorf("Start with an ended context = %v, want context.Canceled", err)
	}
	if err := New(Config{}).Start(ctx); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("Start without identity = %v, want ErrNoIdentity", err)
	}
	for _, bad := range []string{"not a multiaddr", "/ip4/127.0.0.1/tcp/4001"} {
		err := New(Config{Key: mustKey(t), Bootstrap: []string{bad}}).Start(ctx)
		if !errors.Is(err, ErrInvalidAddr) {
			t.Errorf("Start with bootstrap %q = %v, want ErrInvalidAddr", bad, err)
		}
	}

	// A prebuilt host stays open after Close.
	mn := mocknet.New()
	t.Cleanup(func() { mn.Close() })
	h1, _ := mn.GenPeer()
	h2, _ := mn.GenPeer()
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	// Its own address in Bootstrap (one list for every node) is skipped.
	self := fmt.Sprintf("%s/p2p/%s", h1.Addrs()[0], h1.ID())
	o = New(Config{Host: h1, Bootstrap: []string{self}})
	if err := o.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := o.Start(ctx); err == nil {
		t.Error("second Start succeeded")
	}
	if err := o.Ready(); err != nil {
		t.Errorf("Ready with no bootstrap peer but itself = %v, want nil", err)
	}
	if err := o.Connect(ctx, "/ip4/127.0.0.1/tcp/1"); !errors.Is(err, ErrInvalidAddr) {
		t.Errorf("Connect without /p2p = %v, want ErrInvalidAddr", err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := o.Provide(ctx, c); !errors.Is(err, ErrClosed) {
		t.Errorf("Provide after Close = %v, want ErrClosed", err)
	}
	if err := h1.Connect(ctx, peer.AddrInfo{ID: h2.ID(), Addrs: h2.Addrs()}); err != nil {
		t.Fatalf("the prebuilt host was closed by Close: %v", err)
	}
}

func mustKey(t testing.TB) crypto.PrivKey {
	t.Helper()
	k, err := KeyFromSeed(make([]byte, SeedSize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestRealHostsTCPAndQUIC joins three real nodes on loopback: B through A's
// QUIC address, C through A's TCP address; C finds what B provides.
func TestRealHostsTCPAndQUIC(t *testing.T) {
	dir := t.TempDir()
	a := start(t, Config{KeyFile: filepath.Join(dir, "a.key")})
	var quicAddr, tcpAddr string
	for _, s := range a.Addrs() {
		switch {
		case strings.Contains(s, "/quic-v1/"):
			quicAddr = s
		case strings.Contains(s, "/tcp/"):
			tcpAddr = s
		}
	}
	b := start(t, Config{KeyFile: filepath.Join(dir, "b.key"), Bootstrap: []string{quicAddr}, Reprovide: time.Hour})
	c := start(t, Config{KeyFile: filepath.Join(dir, "c.key"), Bootstrap: []string{tcpAddr}})
	for _, n := range []*Overlay{b, c} {
		poll.UntilErr(t, poll.Guard, "Ready", n.Ready)
	}
	over := func(n *Overlay, proto string) error {
		var seen []string
		for _, conn := range n.Host().Network().ConnsToPeer(a.ID()) {
			if s := conn.RemoteMultiaddr().String(); strings.Contains(s, proto) {
				return nil
			} else {
				seen = append(seen, s)
			}
		}
		return fmt.Errorf("connections to A over %v, want one over %s", seen, proto)
	}
	if err := over(b, "/quic-v1"); err != nil {
		t.Errorf("B: %v", err)
	}
	if err := over(c, "/tcp/"); err != nil {
		t.Errorf("C: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), poll.Guard)
	defer cancel()
	obj := cid.Sum([]byte("published on B"))
	poll.UntilErr(t, poll.Guard, "B provides", func() error { return b.Provide(ctx, obj) })
	var got []peer.AddrInfo
	poll.UntilErr(t, poll.Guard, "C finds B", func() error {
		var err error
		got, err = c.FindProviders(ctx, obj, 4)
		if err == nil && len(got) == 0 {
			err = errors.New("no provider")
		}
		return err
	})
	if len(got) != 1 || got[0].ID != b.ID() || len(got[0].Addrs) == 0 {
		t.Fatalf("C found %v, want B (%s) with addresses", got, b.ID())
	}
	// The provider does not find itself.
	if self, err := b.FindProviders(ctx, obj, 4); err != nil || len(self) != 0 {
		t.Fatalf("B's FindProviders = %v, %v; want no provider (never self)", self, err)
	}
	// C can reach B at the addresses it was given.
	cctx, ccancel := context.WithTimeout(ctx, poll.Guard)
	defer ccancel()
	if err := c.Host().Connect(cctx, got[0]); err != nil {
		t.Fatalf("connecting to the provider: %v", err)
	}
}

// mockNodes starts n overlays on one mocknet, all linked; the first nb are
// bootstrap nodes for the others (and for each other).
func mockNodes(t testing.TB, n, nb int, reprovide time.Duration) ([]*Overlay, mocknet.Mocknet) {
	t.Helper()
	mn := mocknet.New()
	t.Cleanup(func() { mn.Close() })
	hosts := make([]host.Host, n)
	for i := range hosts {
		h, err := mn.GenPeer()
		if err != nil {
			t.Fatal(err)
		}
		hosts[i] = h
	}
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	var boot []string
	for _, h := range hosts[:nb] {
		full, _ := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()})
		for _, a := range full {
			boot = append(boot, a.String())
		}
	}
	nodes := make([]*Overlay, n)
	var wg sync.WaitGroup
	for i, h := range hosts {
		var b []string
		for _, s := range boot {
			if !strings.HasSuffix(s, h.ID().String()) {
				b = append(b, s)
			}
		}
		nodes[i] = New(Config{Host: h, Bootstrap: b, Reprovide: reprovide})
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), poll.Guard)
			defer cancel()
			if err := nodes[i].Start(ctx); err != nil {
				t.Errorf("Start node %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, o := range nodes {
			wg.Go(func() { o.Close() })
		}
		wg.Wait()
	})
	if t.Failed() {
		t.FailNow()
	}
	for i, o := range nodes {
		poll.UntilErr(t, poll.Guard, "node "+h2s(hosts[i])+" Ready", o.Ready)
	}
	return nodes, mn
}

func h2s(h host.Host) string { return h.ID().ShortString() }

// TestFiftyNodes: a CID provided on one of 50 nodes (joined through 3
// bootstrap nodes on libp2p's mock network) is found from each of the 49
// others.
func TestFiftyNodes(t *testing.T) {
	const n = 50
	nodes, _ := mockNodes(t, n, 3, 0)
	ctx, cancel := context.WithTimeout(context.Background(), poll.Guard)
	defer cancel()

	prov := nodes[n/2]
	obj := cid.Sum([]byte("fifty"))
	poll.UntilErr(t, poll.Guard, "Provide", func() error { return prov.Provide(ctx, obj) })

	var (
		wg     sync.WaitGroup
		sem    = make(chan struct{}, 8)
		mu     sync.Mutex
		missed []int
	)
	for i, o := range nodes {
		if o == prov {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			deadline := time.Now().Add(poll.Deadline) // a bound on a hang: a loaded runner's lookups are slow
			for time.Now().Before(deadline) {
				got, err := o.FindProviders(ctx, obj, 1)
				if err == nil && len(got) == 1 && got[0].ID == prov.ID() && len(got[0].Addrs) > 0 {
					return
				}
			}
			mu.Lock()
			missed = append(missed, i)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(missed) > 0 {
		t.Fatalf("%d of %d nodes did not find the provider: %v", len(missed), n-1, missed)
	}

	// ClosestPeers: nearest first, never self, and the nearest is the
	// nearest of the whole network.
	var all []peer.ID
	for _, o := range nodes {
		all = append(all, o.ID())
	}
	asker := nodes[7]
	got := asker.ClosestPeers(ctx, obj)
	if len(got) == 0 {
		t.Fatal("ClosestPeers found nobody")
	}
	others := make([]peer.ID, 0, n-1)
	for _, p := range all {
		if p != asker.ID() {
			others = append(others, p)
		}
	}
	want := closest(others, obj)
	if got[0] != want {
		t.Fatalf("ClosestPeers[0] = %s, want %s (the nearest of all %d)", got[0], want, len(others))
	}
	for _, p := range got {
		if p == asker.ID() {
			t.Fatal("ClosestPeers lists the asking node")
		}
	}
}

// closest returns the peer of ps nearest to c's DHT key.
func closest(ps []peer.ID, c cid.CID) peer.ID {
	return kb.SortClosestPeers(ps, kb.ConvertKey(string(Key(c).Hash())))[0]
}

// TestCloseLeavesNoGoroutine: after a warm-up (libp2p starts a few
// process-wide goroutines once), starting and closing nodes, real and on a
// mocknet, joined and providing, leaves no goroutine behind.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	cycle := func() {
		ctx, cancel := context.WithTimeout(context.Background(), poll.Guard)
		defer cancel()
		dir := t.TempDir()
		a := New(Config{KeyFile: filepath.Join(dir, "a.key"), Reprovide: 10 * time.Millisecond})
		if err := a.Start(ctx); err != nil {
			t.Fatal(err)
		}
		b := New(Config{KeyFile: filepath.Join(dir, "b.key"), Bootstrap: a.Addrs(), Reprovide: 10 * time.Millisecond})
		if err := b.Start(ctx); err != nil {
			t.Fatal(err)
		}
		poll.UntilErr(t, poll.Deadline, "Ready", b.Ready)
		obj := cid.Sum([]byte("leak"))
		poll.UntilErr(t, poll.Deadline, "Provide", func() error { return b.Provide(ctx, obj) })
		if _, err := a.FindProviders(ctx, obj, 1); err != nil {
			t.Fatal(err)
		}
		for _, o := range []*Overlay{b, a} {
			if err := o.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	cycle()
	before := runtime.NumGoroutine()
	cycle()
	poll.UntilErr(t, poll.Deadline, "goroutines back to the baseline", func() error {
		if n := runtime.NumGoroutine(); n > before {
			return fmt.Errorf("%d goroutines, %d before", n, before)
		}
		return nil
	})
}
