package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/core/registry"
	"github.com/ronhost/ronhost/internal/plugins"
	"github.com/ronhost/ronhost/internal/wasmbuild"
)

// metric returns the value of the first metric line starting with prefix
// (a name and, if wanted, the start of its labels), or -1.
func metric(s *served, prefix string) float64 {
	resp, err := http.Get(s.api + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, prefix) {
			f, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			return f
		}
	}
	return -1
}

// pluginVersion is the version of the plugin a node serves for tld ("" if none).
func pluginVersion(s *served, tld string) string {
	var list struct {
		Plugins []struct{ TLD, Version, Source string }
	}
	s.get("/v1/plugins", &list)
	for _, p := range list.Plugins {
		if p.TLD == tld {
			return p.Version
		}
	}
	return ""
}

// blogModules builds the registry tests' plugin: .blog v1 and v2, and a
// .bad module whose split loses money.
func blogModules(t *testing.T) (v1, v2, bad string) {
	t.Helper()
	dir := t.TempDir()
	v1, v2, bad = filepath.Join(dir, "blog1.wasm"), filepath.Join(dir, "blog2.wasm"), filepath.Join(dir, "bad.wasm")
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, b := range []struct {
		out   string
		flags string
	}{{v1, "-X main.version=1.0.0"}, {v2, "-X main.version=2.0.0"}, {bad, "-X main.tld=bad -X main.bad=1"}} {
		wg.Go(func() { errs[i] = wasmbuild.Build(context.Background(), "testdata/blog", b.out, "-ldflags="+b.flags) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return v1, v2, bad
}

// postHead offers raw head bytes to a node as `registry publish` does.
func postHead(t *testing.T, c *cli, s *served, raw []byte) (int, string) {
	t.Helper()
	tok, err := os.ReadFile(filepath.Join(c.data, "operator.token"))
	if err != nil {
		t.Fatal(err)
	}
	code, _, body := request(t, "POST", s.api+"/v1/registry/heads", strings.TrimSpace(string(tok)), "application/json", bytes.NewReader(raw), nil)
	return code, string(body)
}

// postObject stores an object on a node (pinned, so it is provided).
func postObject(t *testing.T, c *cli, s *served, b []byte) {
	t.Helper()
	tok, _ := os.ReadFile(filepath.Join(c.data, "operator.token"))
	if code, _, body := request(t, "POST", s.api+"/v1/objects", strings.TrimSpace(string(tok)), "application/octet-stream", bytes.NewReader(b), nil); code != 201 {
		t.Fatalf("POST /v1/objects: %d %s", code, body)
	}
}

// TestRegistryFiveNodes runs five `ronhost serve` processes following one
// 2-of-3 registry: a .blog binding reaches every node and content published
// on one is served by all; an upgrade reaches all, and a node that was down
// catches up at its restart; a module that fails conformance is refused by
// every node; under-signed, replayed, expired and forked heads are refused
// with a log line and a metric; a revocation quarantines .blog everywhere.
func TestRegistryFiveNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five nodes")
	}
	v1, v2, bad := blogModules(t)
	ronhostBinary(t)

	// Three maintainers; two must sign.
	kdir := t.TempDir()
	var keyFiles, pubs []string
	var privs []ed25519.PrivateKey
	for i := range 3 {
		k, err := plugins.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(kdir, fmt.Sprintf("m%d.key", i))
		if err := os.WriteFile(p, k.MarshalText(), 0o600); err != nil {
			t.Fatal(err)
		}
		keyFiles, pubs, privs = append(keyFiles, p), append(pubs, k.Public().String()), append(privs, ed25519.PrivateKey(k))
	}
	rdir := filepath.Join(t.TempDir(), "registry")
	a := newCLI(t)
	useTestCache(t, a.data, "")
	var prop struct{ Registry string }
	a.json(&prop, "registry", "init", "--name", "test", "--threshold", "2", "--maintainer", pubs[0], "--maintainer", pubs[1],
		"--maintainer", pubs[2], "--key", keyFiles[0], "--dir", rdir)
	id := prop.Registry
	follow := fmt.Sprintf("[plugins]\nregistries = [%q]\nregistry_poll = \"500ms\"\nregistry_heartbeat = \"100ms\"\n", id)
	follow = strings.Replace(follow, "[plugins]\n", "", 1) // useTestCache writes the [plugins] header
	useTestCache(t, a.data, follow)
	sa := startServe(t, a)
	boot := runInfo(t, a).P2P
	clis, nodes := []*cli{a}, []*served{sa}
	for i := range 4 {
		c := newCLI(t)
		b, _ := json.Marshal(boot)
		keys := follow
		if i == 3 {
			keys = "registry_poll = \"500ms\"\nregistry_heartbeat = \"100ms\"\n" // E follows by command
		}
		useTestCache(t, c.data, keys+fmt.Sprintf("[overlay]\nbootstrap = %s\n", b))
		if i == 3 {
			c.ok("registry", "follow", id)
		}
		clis, nodes = append(clis, c), append(nodes, startServe(t, c))
	}
	publish := func(signer int) {
		t.Helper()
		a.ok("registry", "sign", filepath.Join(rdir, "proposal.json"), "--key", keyFiles[signer])
		a.ok("registry", "publish", "--dir", rdir)
	}
	each := func(what string, ok func(i int, s *served) bool) {
		t.Helper()
		for i, s := range nodes {
			s.waitFor(fmt.Sprintf("node %d: %s", i, what), func() bool { return ok(i, s) })
		}
	}
	// An under-signed proposal is refused before anything moves.
	if errs, _ := a.fail("registry", "publish", "--dir", rdir); !strings.Contains(errs, "threshold is 2 of 3") {
		t.Fatalf("publishing a genesis signed once: %s", errs)
	}
	publish(1)
	each("the genesis", func(_ int, s *served) bool { return metric(s, `ron_registry_entries{registry="`+id+`"}`) == 1 })
	genesisHead, _ := os.ReadFile(filepath.Join(rdir, "head.json"))

	// Bind .blog; B publishes content once it serves .blog; every node
	// serves it.
	start := time.Now()
	a.ok("registry", "bind", "blog", v1, "--key", keyFiles[0], "--dir", rdir)
	publish(2)
	b := clis[1]
	nodes[1].waitFor(".blog on B", func() bool { return pluginVersion(nodes[1], "blog") == "1.0.0" })
	man := writeFile(t, "Manifest.toml", []byte("[meta]\ntld = \"blog\"\n[blog]\ntitle = \"Hello\"\nauthor = \"ron1author\"\n"))
	var pub struct{ Address string }
	b.json(&pub, "publish", writeFile(t, "post.txt", []byte("hello from B")), "--manifest", man)
	addr := strings.TrimPrefix(pub.Address, "crab://")
	each("/r/"+addr, func(_ int, s *served) bool {
		var body []byte
		resp, err := http.Get(s.api + "/r/" + addr)
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200 && string(body) == "hello from B"
	})
	t.Logf("bind published → all five nodes serve .blog content published on B: %.1f s", time.Since(start).Seconds())

	// E is down while .blog moves to v2; it catches up at its restart.
	e := nodes[4]
	e.stop()
	start = time.Now()
	a.ok("registry", "bind", "blog", v2, "--key", keyFiles[1], "--dir", rdir)
	publish(2)
	for i, s := range nodes[:4] {
		s.waitFor(fmt.Sprintf("node %d: .blog v2", i), func() bool { return pluginVersion(s, "blog") == "2.0.0" })
	}
	t.Logf("upgrade published → four running nodes serve v2: %.1f s", time.Since(start).Seconds())
	start = time.Now()
	nodes[4] = startServe(t, clis[4])
	nodes[4].waitFor("E catches up with v2", func() bool { return pluginVersion(nodes[4], "blog") == "2.0.0" })
	t.Logf("E restarted → serves v2: %.1f s", time.Since(start).Seconds())

	// A module that fails conformance is refused by every node.
	a.ok("registry", "bind", "bad", bad, "--key", keyFiles[0], "--dir", rdir)
	publish(1)
	badHash := plugins.HashBytes(mustRead(t, bad))
	each("the .bad module refused", func(i int, s *served) bool {
		return metric(s, `ron_registry_plugin{plugin="`+badHash+`",registry="`+id+`",state="refused",tld="bad"}`) == 1
	})
	for i, c := range clis {
		var list struct {
			Plugins []listed
		}
		c.json(&list, "plugin", "list")
		found := false
		for _, p := range list.Plugins {
			if p.TLD == "bad" {
				found = p.Status == "refused" && strings.Contains(p.Reason, "conformance: ") && strings.Contains(p.Reason, "split.") && p.Source == "registry "+id
			}
		}
		if !found || pluginVersion(nodes[i], "bad") != "" {
			t.Fatalf("node %d: plugin list %+v", i, list.Plugins)
		}
	}

	// Hostile heads, offered to every node: each is refused, logged and counted.
	w := workdir{rdir}
	l, err := w.load()
	if err != nil {
		t.Fatal(err)
	}
	refusedAt := func(reason string) func(i int, s *served) bool {
		return func(i int, s *served) bool {
			return metric(s, `ron_registry_heads_refused_total{reason="`+reason+`",registry="`+id+`"}`) >= 1 &&
				strings.Contains(s.log(), `msg="registry head refused"`) && strings.Contains(s.log(), "reason="+reason)
		}
	}
	offerAll := func(raw []byte, want int, wantBody string) {
		t.Helper()
		for i, s := range nodes {
			code, body := postHead(t, clis[i], s, raw)
			if code != want || !strings.Contains(body, wantBody) {
				t.Fatalf("node %d: %d %s, want %d %q", i, code, body, want, wantBody)
			}
		}
	}
	// An entry with one signature.
	p, err := l.Propose(&registry.Entry{Op: registry.OpBind, TLD: "evil", Plugin: badHash, Size: 1, Version: "1", ABI: 1}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p.Sign(privs[2])
	obj, head := p.Finish()
	for i, s := range nodes {
		postObject(t, clis[i], s, obj)
	}
	offerAll(head, 422, "1 valid maintainer signatures, the threshold is 2 of 3")
	each("the one-signature refusal", refusedAt("signatures"))
	// A replayed older head.
	offerAll(genesisHead, 409, "older than the accepted head")
	each("the rollback refusal", refusedAt("rollback"))
	// A head past its expiry.
	p, _ = l.Propose(nil, time.Now().Add(-2*time.Hour), time.Hour)
	p.Sign(privs[0])
	p.Sign(privs[1])
	_, head = p.Finish()
	offerAll(head, 422, "expired")
	each("the expiry refusal", refusedAt("expired"))

	// Revoking v2 quarantines .blog everywhere; /r/ answers 503 naming it.
	v2Hash := plugins.HashBytes(mustRead(t, v2))
	a.ok("registry", "revoke", v2Hash, "--reason", "sends readers' data away", "--key", keyFiles[2], "--dir", rdir)
	publish(0)
	each(".blog revoked", func(_ int, s *served) bool {
		resp, err := http.Get(s.api + "/r/" + addr)
		if err != nil {
			return false
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 503 && strings.Contains(string(body), "revoked") &&
			strings.Contains(string(body), "sends readers' data away") && pluginVersion(s, "blog") == ""
	})

	// C's operator installs v1 by hash, fetched from peers through the node:
	// a TLD installed by hand wins over the registry (v1 is not revoked).
	// A hash nobody holds fails cleanly.
	c3 := clis[2]
	if errs, _ := c3.fail("plugin", "install", "--allow-unsigned", "b3:"+strings.Repeat("0f", 32)); !strings.Contains(errs, "404") {
		t.Fatalf("installing a module nobody holds: %s", errs)
	}
	c3.ok("plugin", "install", "--allow-unsigned", plugins.HashBytes(mustRead(t, v1)))
	nodes[2].waitFor("C serving .blog v1 installed by hand", func() bool {
		resp, err := http.Get(nodes[2].api + "/r/" + addr)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200 && pluginVersion(nodes[2], "blog") == "1.0.0"
	})

	// A fork: maintainers 2 and 3 sign another entry after the bind of
	// .bad, where the revocation stands. Both are refused; the registry halts.
	l, _ = w.load()
	cur, _ := l.Head()
	p = forkProposal(t, objectsUpTo(t, rdir, l.Len()-1), cur.Head.Seq+1)
	p.Sign(privs[1])
	p.Sign(privs[2])
	obj, head = p.Finish()
	for i, s := range nodes {
		postObject(t, clis[i], s, obj)
	}
	offerAll(head, 409, "fork")
	each("the fork incident", func(_ int, s *served) bool {
		return metric(s, `ron_registry_halted{registry="`+id+`"}`) == 1 && strings.Contains(s.log(), "INCIDENT: registry fork")
	})
}

// objectsUpTo reads the working directory's first n entry objects.
func objectsUpTo(t *testing.T, dir string, n uint64) []*registry.Object {
	t.Helper()
	var out []*registry.Object
	for i := range n {
		o, err := registry.ParseObject(mustRead(t, filepath.Join(dir, "objects", fmt.Sprintf("%08d.json", i))))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

// forkProposal proposes, after objs, an entry other than the one published
// there, announced by a head numbered seq.
func forkProposal(t *testing.T, objs []*registry.Object, seq uint64) *registry.Proposal {
	t.Helper()
	l, err := registry.Build(objs)
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.Propose(&registry.Entry{Op: registry.OpRevoke, Plugin: "b3:" + strings.Repeat("ab", 32), Reason: "a fork"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p.Head.Head.Seq = seq
	return p
}
