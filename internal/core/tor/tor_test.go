package tor

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cretz/bine/control"

	"github.com/ronhost/ronhost/internal/poll"
)

// RFC 8032's test 1 key. The address is the one tor itself reports for this
// key (it appears in tor-based projects' tests); the expanded key is tor's
// ADD_ONION form of the same seed.
const (
	rfcSeedHex     = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
	rfcPublicHex   = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
	rfcOnion       = "25njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkenl5sid"
	rfcExpandedB64 = "MHyDhk8oM8tCei7xwAoBPP3/J2jZgMCjpSDwBpBN6U+bTwr+KAt0aneGhOdUQlAgV7dHOgPwj5b1o46Sh+Afjw=="
)

func rfcKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	seed, err := hex.DecodeString(rfcSeedHex)
	if err != nil {
		t.Fatal(err)
	}
	return ed25519.NewKeyFromSeed(seed)
}

func TestOnionAddressKnownVector(t *testing.T) {
	key := rfcKey(t)
	pub := key.Public().(ed25519.PublicKey)
	if got := hex.EncodeToString(pub); got != rfcPublicHex {
		t.Fatalf("public key %s, want %s", got, rfcPublicHex)
	}
	if got := OnionAddress(pub); got != rfcOnion {
		t.Fatalf("OnionAddress = %s, want %s", got, rfcOnion)
	}
	if got := (onionKey{key}).Blob(); got != rfcExpandedB64 {
		t.Fatalf("expanded key = %s, want %s", got, rfcExpandedB64)
	}
	back, err := ParseOnion(rfcOnion + ".onion")
	if err != nil || !bytes.Equal(back, pub) {
		t.Fatalf("ParseOnion = %x, %v", back, err)
	}
	for _, bad := range []string{
		rfcOnion[:55] + "e",     // one character off: checksum
		rfcOnion[:55],           // short
		"example.onion",         // v2-ish
		strings.Repeat("a", 56), // wrong checksum and version
	} {
		if _, err := ParseOnion(bad); err == nil {
			t.Errorf("ParseOnion(%q) accepted", bad)
		}
	}
}

func TestLoadOrCreateOnionKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "onion.key")
	k1, err := LoadOrCreateOnionKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || st.Size() != ed25519.SeedSize {
		t.Fatalf("key file mode %v size %d", st.Mode().Perm(), st.Size())
	}
	k2, err := LoadOrCreateOnionKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Equal(k2) {
		t.Fatal("reloaded key differs: the onion address would not be stable")
	}
	os.WriteFile(path, []byte("short"), 0o600)
	if _, err := LoadOrCreateOnionKey(path); err == nil {
		t.Fatal("a 5-byte key file was accepted")
	}
}

func TestGeneratedTorrcIsClientOnly(t *testing.T) {
	lines := generateTorrc("/var/lib/ronhost/tor", 42, []string{"DisableNetwork 1"})
	if err := checkTorrc(lines, true); err != nil {
		t.Fatalf("generated torrc refused by the guard: %v", err)
	}
	text := strings.Join(lines, "\n")
	for _, want := range []string{"ClientOnly 1", "ORPort 0", "DirPort 0", "ExitRelay 0", "ExitPolicy reject *:*",
		"SocksPort unix:/var/lib/ronhost/tor/socks.sock", "ControlPort unix:/var/lib/ronhost/tor/control.sock",
		"CookieAuthentication 1", "__OwningControllerProcess 42", "DisableNetwork 1"} {
		if !strings.Contains(text, want) {
			t.Errorf("torrc lacks %q:\n%s", want, text)
		}
	}
	spaced := generateTorrc("/tmp/a b", 1, nil)
	if !strings.Contains(strings.Join(spaced, "\n"), `SocksPort unix:"/tmp/a b/socks.sock"`) {
		t.Errorf("a path with a space is not quoted: %v", spaced)
	}
}

func TestRelayGuardRefusesRelayLines(t *testing.T) {
	relay := []string{
		"ORPort 9001", "ORPort 127.0.0.1:9001", "orport auto", "+ORPort 443", "ORPort 9001 NoListen",
		"DirPort 9030", "ExitRelay 1", "BridgeRelay 1", "ExitPolicy accept *:*",
		"ExitPolicy reject 1.2.3.4:*, accept *:443", "ExitPolicy accept6 *:80", "IPv6Exit 1",
		"ReducedExitPolicy 1", "ClientOnly 0", "AuthoritativeDirectory 1", "V3AuthoritativeDirectory 1",
		"ServerTransportPlugin obfs4 exec /usr/bin/obfs4proxy", "ExtORPort auto", "DirCache 1",
		"\tORPort\t9001",
	}
	for _, line := range relay {
		if err := CheckTorrc([]string{line}); !errors.Is(err, ErrRelay) {
			t.Errorf("%q: err = %v, want ErrRelay", line, err)
		}
	}
	other := []string{"%include /etc/tor/torrc.d", "ControlPort 9051", "DataDirectory /tmp/x",
		"CookieAuthFile /tmp/c", "HashedControlPassword 16:abc", "Nickname x\nORPort 9001", "ORPort 0 \\"}
	for _, line := range other {
		if err := CheckTorrc([]string{line}); err == nil {
			t.Errorf("%q accepted", line)
		}
	}
	client := []string{"", "# ORPort 9001", "ORPort 0", "DirPort 0", "ExitRelay 0", "BridgeRelay 0",
		"ExitPolicy reject *:*", "ClientOnly 1", "DisableNetwork 1", "TestingTorNetwork 1",
		"DirAuthority test000a orport=5000 no-v2 v3ident=AAAA 127.0.0.1:7000 BBBB",
		"SocksPort 9050", "UseEntryGuards 0", "ORPort 0 # no relay"}
	for _, line := range client {
		if err := CheckTorrc([]string{line}); err != nil {
			t.Errorf("client line %q refused: %v", line, err)
		}
	}
}

func TestLiveGuard(t *testing.T) {
	kv := func(k, v string) *control.KeyVal { return &control.KeyVal{Key: k, Val: v} }
	client := []*control.KeyVal{kv("ORPort", ""), kv("DirPort", "0"), kv("ExitRelay", "auto"),
		kv("BridgeRelay", "0"), kv("ClientOnly", "1")}
	if err := checkLiveConf(client, []*control.KeyVal{kv("net/listeners/or", "")}, true); err != nil {
		t.Fatalf("client refused: %v", err)
	}
	cases := []struct {
		conf, info []*control.KeyVal
		managed    bool
	}{
		{conf: []*control.KeyVal{kv("ORPort", "9001")}},
		{conf: []*control.KeyVal{kv("ORPort", "0"), kv("ORPort", "443")}},
		{conf: []*control.KeyVal{kv("DirPort", "9030")}},
		{conf: []*control.KeyVal{kv("ExitRelay", "1")}},
		{conf: []*control.KeyVal{kv("BridgeRelay", "1")}},
		{conf: []*control.KeyVal{kv("ClientOnly", "0")}, managed: true},
		{info: []*control.KeyVal{kv("net/listeners/or", `"127.0.0.1:9001"`)}},
	}
	for i, c := range cases {
		if err := checkLiveConf(c.conf, c.info, c.managed); !errors.Is(err, ErrRelay) {
			t.Errorf("case %d: err = %v, want ErrRelay", i, err)
		}
	}
	// An operator's client tor need not say ClientOnly 1 (attach mode).
	if err := checkLiveConf([]*control.KeyVal{kv("ClientOnly", "0")}, nil, false); err != nil {
		t.Errorf("attach mode refused a plain client: %v", err)
	}
}

func TestBackoffSchedule(t *testing.T) {
	min, max := time.Second, 30*time.Second
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30, 30}
	for i, w := range want {
		w *= time.Second
		lo, hi := backoff(i, min, max, 0), backoff(i, min, max, 0.999999)
		if lo != w/2 || hi < w-time.Millisecond || hi > w {
			t.Errorf("attempt %d: [%v, %v], want [%v, %v]", i, lo, hi, w/2, w)
		}
	}
	if d := backoff(1000, min, max, 0.5); d > max {
		t.Errorf("attempt 1000: %v exceeds max", d)
	}
}

func TestMissingBinaryIsErrNoTor(t *testing.T) {
	tr := New(Options{Binary: filepath.Join(t.TempDir(), "no-such-tor"), DataDir: t.TempDir()})
	defer tr.Close()
	err := tr.Start(context.Background())
	if !errors.Is(err, ErrNoTor) || !strings.Contains(err.Error(), "install Debian's tor package") {
		t.Fatalf("err = %v, want ErrNoTor naming the package", err)
	}
	if !errors.Is(tr.Ready(), ErrNotReady) {
		t.Fatalf("Ready = %v", tr.Ready())
	}
}

func TestRelayExtraTorrcRefusedBeforeStart(t *testing.T) {
	dir := t.TempDir()
	tr := New(Options{Binary: "/bin/true", DataDir: dir, ExtraTorrc: []string{"ORPort 9001"}})
	defer tr.Close()
	if err := tr.Start(context.Background()); !errors.Is(err, ErrRelay) {
		t.Fatalf("err = %v, want ErrRelay", err)
	}
	if _, err := os.Stat(filepath.Join(dir, torrcName)); err == nil {
		t.Fatal("a torrc was written for a refused configuration")
	}
}

// fakeSOCKS answers one SOCKS5 CONNECT on c with reply code rep and returns
// the request it saw.
func fakeSOCKS(t *testing.T, c net.Conn, rep byte) []byte {
	t.Helper()
	b := make([]byte, 3)
	io.ReadFull(c, b)
	c.Write([]byte{5, 0})
	hdr := make([]byte, 5)
	io.ReadFull(c, hdr)
	rest := make([]byte, int(hdr[4])+2)
	io.ReadFull(c, rest)
	c.Write([]byte{5, rep, 0, 1, 0, 0, 0, 0, 0, 0})
	return append(hdr, rest...)
}

func TestSOCKSConnectSendsHostnames(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	got := make(chan []byte, 1)
	go func() { got <- fakeSOCKS(t, b, 0) }()
	onion := rfcOnion + ".onion"
	if err := socksConnect(context.Background(), a, onion, 80); err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte{5, 1, 0, 3, byte(len(onion))}, onion...), 0, 80)
	if req := <-got; !bytes.Equal(req, want) {
		t.Fatalf("request %q, want %q", req, want)
	}

	a2, b2 := net.Pipe()
	defer a2.Close()
	defer b2.Close()
	go fakeSOCKS(t, b2, 0xF0)
	err := socksConnect(context.Background(), a2, onion, 80)
	var se *SOCKSError
	if !errors.As(err, &se) || se.Code != 0xF0 || !strings.Contains(err.Error(), "descriptor not found") {
		t.Fatalf("err = %v, want SOCKSError 0xF0", err)
	}

	a3, b3 := net.Pipe() // a server that never answers: the context ends the handshake
	defer a3.Close()
	defer b3.Close()
	go io.Copy(io.Discard, b3)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := socksConnect(ctx, a3, onion, 80); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func needTor(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("tor")
	if err != nil {
		t.Skip("tor is not on PATH (install Debian's tor package to run this test)")
	}
	return bin
}

// shortTempDir returns a temporary directory short enough for unix sockets.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestManagedTorRestartsAfterKill(t *testing.T) {
	needTor(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tr := New(Options{DataDir: filepath.Join(shortTempDir(t), "tor"), ExtraTorrc: []string{"DisableNetwork 1"},
		RestartMin: 50 * time.Millisecond, RestartMax: 200 * time.Millisecond, Logger: testLogger(t)})
	if err := tr.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer tr.Close()

	conf, err := tr.GetConf(ctx, "ORPort", "DirPort", "ExitRelay", "BridgeRelay", "ClientOnly", "DisableNetwork")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"ClientOnly": "1", "ExitRelay": "0", "BridgeRelay": "0", "DisableNetwork": "1"} {
		if got := conf[k]; len(got) != 1 || got[0] != want {
			t.Errorf("GETCONF %s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"ORPort", "DirPort"} {
		for _, v := range conf[k] {
			if v != "" && v != "0" {
				t.Errorf("GETCONF %s = %q", k, v)
			}
		}
	}
	// tor itself derives the RFC key's address from our expanded key.
	onion, err := tr.Publish(ctx, rfcKey(t), 80, "127.0.0.1:9")
	if err != nil || onion != rfcOnion {
		t.Fatalf("Publish = %q, %v; want %s", onion, err, rfcOnion)
	}
	if err := tr.Ready(); !errors.Is(err, ErrNotReady) {
		t.Fatalf("Ready with DisableNetwork = %v, want ErrNotReady (no bootstrap)", err)
	}

	old := tr.Status().PID
	if old == 0 {
		t.Fatal("no pid")
	}
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	poll.UntilCtx(t, ctx, "Ready to say restarting", func() bool {
		err := tr.Ready()
		return err != nil && strings.Contains(err.Error(), "restarting")
	})
	poll.UntilCtx(t, ctx, "the supervisor to restart tor", func() bool {
		s := tr.Status()
		return s.PID != 0 && s.PID != old && s.Restarts == 1
	})
	if err := tr.Ready(); err == nil || strings.Contains(err.Error(), "restarting") {
		t.Fatalf("Ready after restart = %v, want bootstrapping", err)
	}
	inst, err := tr.current()
	if err != nil {
		t.Fatal(err)
	}
	var onions []*control.KeyVal
	err = inst.request(ctx, func(c *control.Conn) (err error) {
		onions, err = c.GetInfo("onions/current")
		return err
	})
	if err != nil || len(onions) != 1 || !strings.Contains(onions[0].Val, rfcOnion) {
		t.Fatalf("onions/current after restart = %v, %v; want %s republished", onions, err, rfcOnion)
	}

	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(tr.Status().PID, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("tor still running after Close: kill 0 = %v", err)
	}
	if !errors.Is(tr.Ready(), ErrClosed) {
		t.Fatalf("Ready after Close = %v", tr.Ready())
	}
}

// TestAttachFindsTheSOCKSListener attaches to a running tor (one this test
// starts in managed mode) through its control socket and cookie: the
// attached Tor dials through the listener tor reports, not one it guessed.
func TestAttachFindsTheSOCKSListener(t *testing.T) {
	needTor(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := filepath.Join(shortTempDir(t), "tor")
	// tor opens no SOCKS listener with DisableNetwork, so the network is on
	// but its only directory authority is a closed port on 127.0.0.1: tor
	// dials nothing else.
	fp := strings.Repeat("A", 40)
	owner := New(Options{DataDir: dir, Logger: testLogger(t), ExtraTorrc: []string{
		"TestingTorNetwork 1", "DirAuthority closed orport=1 no-v2 v3ident=" + fp + " 127.0.0.1:1 " + fp}})
	if err := owner.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer owner.Close()

	att := New(Options{ControlAddr: "unix:" + filepath.Join(dir, controlName), CookieFile: filepath.Join(dir, cookieName), Logger: testLogger(t)})
	if err := att.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer att.Close()
	if att.Status().Managed {
		t.Fatal("an attached Tor says it is managed")
	}
	inst, err := att.current()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, socksName); inst.socksNet != "unix" || inst.socksAddr != want {
		t.Fatalf("attached SOCKS listener %s %q, want unix %q", inst.socksNet, inst.socksAddr, want)
	}
}
