package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/node"
	"github.com/ronhost/ronhost/internal/core/overlay"
)

// The overlay across NATs, in Linux network namespaces the test creates:
//
//	                    inet (a router: the internet, 11.0.0.0/8)
//	      /               |                  |                 \
//	relay 11.0.0.2   natA 11.0.1.2     natB 11.0.2.2      natC 11.0.3.2 (symmetric)
//	(public)              |                  |              /        \
//	                 A 192.168.1.2     B 192.168.2.2   C 192.168.3.2  D 192.168.4.2
//
// 11.0.0.0/8 stands for the public internet: go-libp2p treats it as public
// (private ranges are never probed by AutoNAT nor used for hole punching),
// and it exists only inside the namespaces. Each NAT masquerades what
// leaves its wan interface and drops unsolicited packets coming in (a home
// router: no port forwarding, no RST). natA and natB keep source ports
// (endpoint-independent mapping, what hole punching needs); natC picks a
// random port for every new connection (fully-random: a symmetric NAT,
// where hole punching cannot work).

// netLab creates namespaces and removes every one of them when the test
// ends, whatever happened.
type netLab struct {
	t      *testing.T
	prefix string
	nat    string // "nft" or "iptables"
}

// newNetLab skips the test where namespaces cannot be made: not Linux, no
// ip, no nft or iptables, or no CAP_NET_ADMIN.
func newNetLab(t *testing.T) *netLab {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("network namespaces are Linux only")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip (iproute2) command: .ci/run installs it")
	}
	l := &netLab{t: t}
	if _, err := exec.LookPath("nft"); err == nil {
		l.nat = "nft"
	} else if _, err := exec.LookPath("iptables"); err == nil {
		l.nat = "iptables"
	} else {
		t.Skip("neither nft nor iptables: .ci/run installs nftables")
	}
	var b [3]byte
	rand.Read(b[:])
	l.prefix = "rh" + hex.EncodeToString(b[:])
	probe := l.prefix + "-probe"
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace (needs root, CAP_NET_ADMIN and CAP_SYS_ADMIN): %v: %s", err, out)
	}
	defer exec.Command("ip", "netns", "del", probe).Run()
	natProbe := []string{"netns", "exec", probe, "nft", "add", "table", "ip", "probe"}
	if l.nat == "iptables" {
		natProbe = []string{"netns", "exec", probe, "iptables", "-t", "nat", "-L"}
	}
	if out, err := exec.Command("ip", natProbe...).CombinedOutput(); err != nil {
		t.Skipf("%s does not work in a namespace here (a kernel without NAT support?): %v: %s", l.nat, err, out)
	}
	return l
}

// sh runs a command and fails the test if it fails.
func (l *netLab) sh(name string, args ...string) {
	l.t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		l.t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// ns creates namespace name (loopback up) and removes it at the end.
func (l *netLab) ns(name string) string {
	l.t.Helper()
	full := l.prefix + "-" + name
	l.sh("ip", "netns", "add", full)
	l.t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", full).CombinedOutput(); err != nil {
			l.t.Errorf("removing namespace %s: %v: %s", full, err, out)
		}
	})
	l.sh("ip", "-n", full, "link", "set", "lo", "up")
	return full
}

// link joins two namespaces with a veth pair; each end gets its address.
func (l *netLab) link(nsA, ifA, addrA, nsB, ifB, addrB string) {
	l.t.Helper()
	l.sh("ip", "-n", nsA, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", nsB)
	for _, e := range [][3]string{{nsA, ifA, addrA}, {nsB, ifB, addrB}} {
		l.sh("ip", "-n", e[0], "addr", "add", e[2], "dev", e[1])
		l.sh("ip", "-n", e[0], "link", "set", e[1], "up")
	}
}

func (l *netLab) route(ns, via string) {
	l.t.Helper()
	l.sh("ip", "-n", ns, "route", "add", "default", "via", via)
}

func (l *netLab) forward(ns string) {
	l.t.Helper()
	l.sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
}

// masquerade makes ns a NAT on its wan interface: outbound connections get
// its address (a random port for each when symmetric) and unsolicited
// inbound packets are dropped silently.
func (l *netLab) masquerade(ns string, symmetric bool) {
	l.t.Helper()
	l.forward(ns)
	if l.nat == "nft" {
		flags := ""
		if symmetric {
			flags = " fully-random"
		}
		rules := `table ip nat {
	chain post { type nat hook postrouting priority srcnat; policy accept; oifname "wan" masquerade` + flags + `; }
}
table inet filter {
	chain input { type filter hook input priority 0; policy accept; iifname "wan" ct state new drop; }
	chain forward { type filter hook forward priority 0; policy accept; iifname "wan" ct state new drop; }
}
`
		cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(rules)
		if out, err := cmd.CombinedOutput(); err != nil {
			l.t.Fatalf("nft in %s: %v: %s", ns, err, out)
		}
		return
	}
	masq := []string{"netns", "exec", ns, "iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE"}
	if symmetric {
		masq = append(masq, "--random-fully")
	}
	l.sh("ip", masq...)
	for _, chain := range []string{"INPUT", "FORWARD"} {
		l.sh("ip", "netns", "exec", ns, "iptables", "-A", chain, "-i", "wan", "-m", "conntrack", "--ctstate", "NEW", "-j", "DROP")
	}
}

// nsNode is a `ronhost serve` process in a namespace.
type nsNode struct {
	t    *testing.T
	name string
	ns   string
	data string
	id   peer.ID
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs bytes.Buffer
}

// newNSNode prepares a data directory with a fresh overlay identity.
func newNSNode(t *testing.T, name, ns string) *nsNode {
	t.Helper()
	n := &nsNode{t: t, name: name, ns: ns, data: t.TempDir()}
	seed := make([]byte, overlay.SeedSize)
	rand.Read(seed)
	if err := os.MkdirAll(filepath.Join(n.data, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(n.data, node.P2PKeyFile), seed, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := overlay.KeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	if n.id, err = peer.IDFromPrivateKey(k); err != nil {
		t.Fatal(err)
	}
	return n
}

// config writes config.toml: no tor, no plugins, these [overlay] keys.
func (n *nsNode) config(overlayKeys string) {
	n.t.Helper()
	body := "[tor]\nmode = \"off\"\n[plugins]\nbuiltins = false\n[overlay]\n" + overlayKeys
	if err := os.WriteFile(filepath.Join(n.data, "config.toml"), []byte(body), 0o644); err != nil {
		n.t.Fatal(err)
	}
}

// cli runs ronhost with n's data directory in n's namespace (where the
// node's API listens, on 127.0.0.1).
func (n *nsNode) cli(args ...string) (string, string, error) {
	argv := append([]string{"netns", "exec", n.ns, ronhostBinary(n.t), "--data", n.data}, args...)
	var out, errb bytes.Buffer
	cmd := exec.Command("ip", argv...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// start runs `ronhost serve` (env: extra RON_* variables) and waits until
// its API answers. The process is killed when the test ends.
func (n *nsNode) start(env ...string) {
	n.t.Helper()
	n.cmd = exec.Command("ip", "netns", "exec", n.ns, ronhostBinary(n.t), "--data", n.data, "--json", "serve")
	n.cmd.Env = append(os.Environ(), env...)
	n.cmd.Stdout = io.Discard
	n.cmd.Stderr = &nsLog{mu: &n.mu, w: &n.logs}
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { n.cmd.Wait(); close(exited) }()
	n.t.Cleanup(func() {
		n.cmd.Process.Kill()
		<-exited
		if n.t.Failed() {
			n.t.Logf("--- %s's log (last 6000 bytes):\n%s", n.name, tail(n.log(), 6000))
		}
	})
	n.waitFor("the node's API", 60*time.Second, func() error {
		select {
		case <-exited:
			return fmt.Errorf("serve exited: %s", n.log())
		default:
		}
		_, err := n.status()
		return err
	})
}

func (n *nsNode) log() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.logs.String()
}

type nsLog struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w *nsLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// status is `ronhost overlay` on the node.
func (n *nsNode) status() (overlay.Status, error) {
	out, errs, err := n.cli("--json", "overlay")
	if err != nil {
		return overlay.Status{}, fmt.Errorf("ronhost overlay: %v: %s", err, errs)
	}
	var info node.OverlayInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil || info.Status == nil {
		return overlay.Status{}, fmt.Errorf("ronhost overlay printed %q: %v", out, err)
	}
	return *info.Status, nil
}

// waitFor polls f until it returns nil, failing after timeout.
func (n *nsNode) waitFor(what string, timeout time.Duration, f func() error) {
	n.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("%s: %s not within %v: %v", n.name, what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond) // a poll interval
	}
}

// copies lists the peers `ronhost stat` on n finds holding c.
func (n *nsNode) copies(c cid.CID) ([]string, error) {
	out, errs, err := n.cli("--json", "stat", c.String())
	if err != nil {
		return nil, fmt.Errorf("stat: %v: %s", err, errs)
	}
	var st node.ObjectStat
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return nil, err
	}
	var ps []string
	for _, cp := range st.Copies {
		ps = append(ps, cp.Peer)
	}
	return ps, nil
}

// getResult is what the helper process saw of a GET on a node's gateway.
type getResult struct {
	Status int    `json:"status"`
	Size   int64  `json:"size"`
	CID    string `json:"cid"`
	Body   string `json:"body,omitempty"` // the body of an error answer
}

// get fetches /o/CID from n's gateway, inside n's namespace, through this
// test binary run as a helper (TestNetnsHelperGet).
func (n *nsNode) get(c cid.CID) getResult {
	n.t.Helper()
	exe, err := os.Executable()
	if err != nil {
		n.t.Fatal(err)
	}
	ri, err := node.ReadRunInfo(n.data)
	if err != nil {
		n.t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", n.ns, exe, "-test.run=^TestNetnsHelperGet$")
	cmd.Env = append(os.Environ(), "RON_NETNS_GET="+ri.API+"/o/"+c.String())
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if js, ok := strings.CutPrefix(line, "NETNS-GET "); ok {
			var r getResult
			if err := json.Unmarshal([]byte(js), &r); err != nil {
				n.t.Fatal(err)
			}
			return r
		}
	}
	n.t.Fatalf("the GET helper printed no result (%v):\n%s", err, out)
	return getResult{}
}

// TestNetnsHelperGet is not a test: the netns test runs this binary inside
// a namespace to GET a URL there, and reads what it prints.
func TestNetnsHelperGet(t *testing.T) {
	url := os.Getenv("RON_NETNS_GET")
	if url == "" {
		t.Skip("a helper of TestNATTraversal (run inside a namespace)")
	}
	r := getResult{}
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Get(url)
	if err != nil {
		r.Body = err.Error()
	} else {
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		r.Status, r.Size = resp.StatusCode, int64(len(b))
		if err != nil {
			r.Body = err.Error()
		} else if resp.StatusCode == http.StatusOK {
			r.CID = cid.Sum(b).String()
		} else {
			r.Body = string(b)
		}
	}
	js, _ := json.Marshal(r)
	fmt.Printf("NETNS-GET %s\n", js)
}

// TestNATTraversal: a public relay and nodes behind NATs, each a real
// `ronhost serve` in its own namespace.
//   - The relay learns it is public from AutoNAT v2 (the other nodes dial
//     it back), serves the DHT and relays; it announces only the address
//     AutoNAT v2 confirmed.
//   - A and B, each behind its own NAT, learn they are private, serve the
//     DHT as clients, reserve a slot on the relay ([overlay] relays) and
//     announce only their relay address.
//   - Each finds the other's object through the DHT; B's connection to A,
//     first relayed, is upgraded to a direct one by hole punching, and B
//     fetches A's 64 MiB object over it (relay_data is off: bulk data
//     could not have gone over the relay), verified against its CID.
//   - C, behind a symmetric NAT (no hole punching possible), fetches the
//     same object through the relay since it allows relay_data; D, behind
//     the same NAT without relay_data, fails, and the error says why.
func TestNATTraversal(t *testing.T) {
	if testing.Short() {
		t.Skip("network namespaces and five nodes")
	}
	lab := newNetLab(t)
	ronhostBinary(t) // built once, before any clock starts

	// The internet and its hosts.
	inet := lab.ns("inet")
	lab.forward(inet)
	relayNS := lab.ns("relay")
	lab.link(inet, "r0", "11.0.0.1/24", relayNS, "eth0", "11.0.0.2/24")
	lab.route(relayNS, "11.0.0.1")
	nat := func(name string, i int, symmetric bool, hosts ...string) []string {
		n := lab.ns("nat" + name)
		lab.link(inet, name+"0", fmt.Sprintf("11.0.%d.1/24", i), n, "wan", fmt.Sprintf("11.0.%d.2/24", i))
		lab.route(n, fmt.Sprintf("11.0.%d.1", i))
		var out []string
		for j, h := range hosts {
			hn := lab.ns(h)
			sub := i + j
			lab.link(n, fmt.Sprintf("lan%d", j), fmt.Sprintf("192.168.%d.1/24", sub), hn, "eth0", fmt.Sprintf("192.168.%d.2/24", sub))
			lab.route(hn, fmt.Sprintf("192.168.%d.1", sub))
			out = append(out, hn)
		}
		lab.masquerade(n, symmetric)
		return out
	}
	aNS := nat("a", 1, false, "a")[0]
	bNS := nat("b", 2, false, "b")[0]
	cd := nat("c", 3, true, "c", "d")

	// Objects: A holds 64 MiB, B holds 1 MiB; both pinned before start, so
	// each node provides its own at start.
	bigData := randomBytes(64<<20, 64)
	smallData := randomBytes(1<<20+3, 1)
	bigCID, smallCID := cid.Sum(bigData), cid.Sum(smallData)

	relay := newNSNode(t, "relay", relayNS)
	// The public profile as an operator writes it, with room for a relayed
	// 64 MiB fetch (relay_data) per circuit.
	if _, errs, err := relay.cli("config", "init", "--public"); err != nil {
		t.Fatalf("config init --public: %v: %s", err, errs)
	}
	relayAddr := fmt.Sprintf("/ip4/11.0.0.2/tcp/%d/p2p/%s", 4470, relay.id)
	joined := fmt.Sprintf("listen = [\"/ip4/0.0.0.0/tcp/4470\", \"/ip4/0.0.0.0/udp/4470/quic-v1\"]\nbootstrap = [%q]\nrelays = [%q]\n", relayAddr, relayAddr)
	a := newNSNode(t, "A", aNS)
	b := newNSNode(t, "B", bNS)
	c := newNSNode(t, "C", cd[0])
	d := newNSNode(t, "D", cd[1])
	a.config(joined)
	b.config(joined)
	c.config(joined + "relay_data = true\n")
	d.config(joined)
	for _, p := range []struct {
		n    *nsNode
		data []byte
	}{{a, bigData}, {b, smallData}} {
		f := filepath.Join(t.TempDir(), "obj")
		if err := os.WriteFile(f, p.data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, errs, err := p.n.cli("put", f); err != nil {
			t.Fatalf("put on %s: %v: %s", p.n.name, err, errs)
		}
	}

	start := time.Now()
	relay.start("RON_TOR_MODE=off", "RON_PLUGINS_BUILTINS=false",
		"RON_OVERLAY_RELAY_CIRCUIT_BYTES=256MiB", "RON_OVERLAY_RELAY_CIRCUIT_DURATION=10m")
	var wg sync.WaitGroup
	for _, n := range []*nsNode{a, b, c, d} {
		wg.Go(func() { n.start() })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// The relay: public by AutoNAT v2's dial-backs (from the nodes behind
	// NATs, which can dial out), a DHT server and a relay; it announces its
	// confirmed address and nothing else (not loopback, not unconfirmed
	// QUIC).
	relay.waitFor("public by AutoNAT v2", 60*time.Second, func() error {
		st, err := relay.status()
		if err != nil {
			return err
		}
		if st.Reachability != "public" || st.DHT != "server" || !st.RelayService {
			return fmt.Errorf("reachability %s, DHT %s, relay service %v", st.Reachability, st.DHT, st.RelayService)
		}
		if !contains(st.Reachable, "/ip4/11.0.0.2/tcp/4470") {
			return fmt.Errorf("AutoNAT v2 confirmed %v", st.Reachable)
		}
		for _, ad := range st.Addrs {
			if !slicesContainsPrefix(ad, st.Reachable) {
				return fmt.Errorf("announces %s, which AutoNAT v2 did not confirm (%v)", ad, st.Reachable)
			}
		}
		return nil
	})
	t.Logf("relay public (AutoNAT v2) after %v", time.Since(start).Round(time.Millisecond))

	// Behind the NATs: private, DHT clients, a reservation on the relay,
	// and only relay addresses announced (never 192.168.x or loopback).
	for _, n := range []*nsNode{a, b, c, d} {
		n.waitFor("private with a relay slot", 60*time.Second, func() error {
			st, err := n.status()
			if err != nil {
				return err
			}
			if st.Reachability != "private" || st.DHT != "client" || !contains(st.Relays, relay.id.String()) {
				return fmt.Errorf("reachability %s, DHT %s, relays %v", st.Reachability, st.DHT, st.Relays)
			}
			if len(st.Addrs) == 0 {
				return fmt.Errorf("announces nothing")
			}
			for _, ad := range st.Addrs {
				if !strings.Contains(ad, "/p2p-circuit") {
					return fmt.Errorf("announces %s, an address peers cannot dial", ad)
				}
			}
			return nil
		})
	}
	t.Logf("A, B, C, D private with a relay slot after %v", time.Since(start).Round(time.Millisecond))

	// Each finds the other's object through the DHT.
	for _, q := range []struct {
		who, holder *nsNode
		c           cid.CID
	}{{b, a, bigCID}, {a, b, smallCID}} {
		q.who.waitFor("the provider of "+q.c.String()+" through the DHT", 90*time.Second, func() error {
			ps, err := q.who.copies(q.c)
			if err != nil {
				return err
			}
			if !contains(ps, q.holder.id.String()) {
				return fmt.Errorf("copies %v, want %s", ps, q.holder.name)
			}
			return nil
		})
	}

	// B fetches A's 64 MiB object: through the relay first, then hole
	// punching gives a direct connection, which the bytes take.
	t0 := time.Now()
	r := b.get(bigCID)
	if r.Status != http.StatusOK || r.Size != int64(len(bigData)) || r.CID != bigCID.String() {
		t.Fatalf("B's GET of A's object: %+v; want 200, %d bytes hashing to %s", r, len(bigData), bigCID)
	}
	t.Logf("B fetched A's 64 MiB object, verified, in %v", time.Since(t0).Round(time.Millisecond))
	st, err := b.status()
	if err != nil {
		t.Fatal(err)
	}
	var direct []string
	for _, cn := range st.Conns {
		if cn.Peer == a.id.String() && !cn.Relayed {
			direct = append(direct, cn.Addr)
		}
	}
	if len(direct) == 0 || !strings.HasPrefix(direct[0], "/ip4/11.0.1.2/") {
		t.Fatalf("B's connections to A: %+v; want a direct one to A's NAT address 11.0.1.2", st.Conns)
	}
	ast, err := a.status()
	if err != nil {
		t.Fatal(err)
	}
	if ast.HolePunches.Succeeded+st.HolePunches.Succeeded == 0 {
		t.Fatalf("no successful hole punch counted (A %+v, B %+v)", ast.HolePunches, st.HolePunches)
	}
	t.Logf("B-A direct over %v (hole punches: A %+v, B %+v)", direct, ast.HolePunches, st.HolePunches)

	// And A fetches B's object (over the direct connection now).
	if r := a.get(smallCID); r.Status != http.StatusOK || r.CID != smallCID.String() {
		t.Fatalf("A's GET of B's object: %+v", r)
	}

	// Behind the symmetric NAT: C (relay_data) fetches through the relay,
	// D (no relay_data) fails and says why. Both at once.
	var rc, rd getResult
	wg.Go(func() { rc = c.get(bigCID) })
	wg.Go(func() { rd = d.get(bigCID) })
	wg.Wait()
	if rc.Status != http.StatusOK || rc.CID != bigCID.String() {
		t.Fatalf("C's GET through the relay (relay_data): %+v", rc)
	}
	cst, err := c.status()
	if err != nil {
		t.Fatal(err)
	}
	for _, cn := range cst.Conns {
		if cn.Peer == a.id.String() && !cn.Relayed {
			t.Fatalf("C has a direct connection to A (%s) behind a symmetric NAT", cn.Addr)
		}
	}
	if cst.HolePunches.Succeeded != 0 {
		t.Fatalf("C counts a successful hole punch behind a symmetric NAT: %+v", cst.HolePunches)
	}
	if rd.Status == http.StatusOK || !strings.Contains(rd.Body, "relay_data is off") {
		t.Fatalf("D's GET without relay_data: %+v; want a failure that names relay_data", rd)
	}
	t.Logf("C fetched through the relay (hole punches %+v); D: %d %s", cst.HolePunches, rd.Status, tail(rd.Body, 200))
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	rng := mrand.New(mrand.NewPCG(seed, seed))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

// slicesContainsPrefix says whether addr starts with one of prefixes.
func slicesContainsPrefix(addr string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(addr, p+"/") || addr == p {
			return true
		}
	}
	return false
}
