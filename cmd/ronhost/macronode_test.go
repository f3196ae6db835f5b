package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/node"
	"github.com/ronhost/ronhost/internal/poll"
	"github.com/ronhost/ronhost/internal/secretfile"
	"github.com/ronhost/ronhost/internal/wasmbuild"
)

// natsMember is one server of the test's NATS cluster, restartable on the
// same ports.
type natsMember struct {
	t    *testing.T
	opts *server.Options
	srv  *server.Server
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// busKeys are a macronode's role keys, made with `ronhost bus creds` from
// one operator secret, and the nats-server authorization block that admits
// them (`ronhost bus nats-conf`).
type busKeys struct {
	dir, secret, conf string
}

func newBusKeys(t *testing.T, sets ...string) busKeys {
	t.Helper()
	dir := t.TempDir()
	k := busKeys{dir: dir, secret: filepath.Join(dir, "bus.secret"), conf: filepath.Join(dir, "auth.conf")}
	admin := newCLI(t)
	for _, set := range sets {
		admin.ok("bus", "creds", "--secret", k.secret, "--roles", set, "--out", k.key(set))
	}
	admin.ok(append([]string{"bus", "nats-conf", "--secret", k.secret, "--out", k.conf, "--"}, sets...)...)
	return k
}

// key is the role key file of a role set.
func (k busKeys) key(set string) string {
	return filepath.Join(k.dir, strings.ReplaceAll(set, ",", "+")+".key")
}

// natsCluster starts n NATS servers on 127.0.0.1 joined by routes, that
// admit the role keys of keys (the authorization block from nats-conf).
func natsCluster(t *testing.T, n int, keys busKeys) ([]*natsMember, string) {
	t.Helper()
	ports, routes := make([]int, n), make([]int, n)
	var routeURLs, clientURLs []string
	for i := range n {
		ports[i], routes[i] = freePort(t), freePort(t)
		routeURLs = append(routeURLs, fmt.Sprintf("nats-route://ron:routepw@127.0.0.1:%d", routes[i]))
		clientURLs = append(clientURLs, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	members := make([]*natsMember, n)
	for i := range n {
		opts, err := server.ProcessConfigFile(keys.conf)
		if err != nil {
			t.Fatal(err)
		}
		opts.ServerName = fmt.Sprintf("nats-%c", 'a'+i)
		opts.Host, opts.Port = "127.0.0.1", ports[i]
		opts.Cluster = server.ClusterOpts{Name: "ron", Host: "127.0.0.1", Port: routes[i], Username: "ron", Password: "routepw"}
		opts.Routes = server.RoutesFromStr(strings.Join(routeURLs, ","))
		opts.NoSigs, opts.NoLog = true, true
		members[i] = &natsMember{t: t, opts: opts}
		members[i].start()
		t.Cleanup(members[i].stop)
	}
	for _, m := range members {
		poll.Until(t, fmt.Sprintf("%s's %d routes", m.opts.ServerName, n-1), func() bool { return m.srv.NumRoutes() >= n-1 })
	}
	return members, strings.Join(clientURLs, ",")
}

func (m *natsMember) start() {
	m.t.Helper()
	s, err := server.NewServer(m.opts)
	if err != nil {
		m.t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		m.t.Fatalf("%s did not start", m.opts.ServerName)
	}
	m.srv = s
}

func (m *natsMember) stop() {
	if m.srv != nil {
		m.srv.Shutdown()
		m.srv.WaitForShutdown()
		m.srv = nil
	}
}

// roleProcess starts `ronhost serve --roles roles` on the NATS cluster,
// with the role key of its roles.
func roleProcess(t *testing.T, c *cli, natsURLs string, keys busKeys, roles string) *served {
	t.Helper()
	extra := fmt.Sprintf("[bus]\nurl = %q\nrole_key = %q\n[gateway]\nrequest_timeout = \"8s\"\n", natsURLs, keys.key(roles))
	useTestCache(t, c.data, extra)
	return startServe(t, c, "--roles", roles)
}

// TestMacronode runs a macronode: a NATS cluster of 3 servers and the roles
// as 5 `ronhost serve` processes (store+dht, index, plugins, ledger,
// gateway). It publishes through the gateway, kills -9 the store process
// and shuts one NATS server down, publishes meanwhile (each publish either
// fails or is acknowledged), restarts both, publishes again, and then
// fetches every acknowledged object, through the gateway and through a
// second gateway that never saw them (its bytes come from the store role
// over the blob protocol): nothing acknowledged is lost.
func TestMacronode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS cluster and six processes")
	}
	keys := newBusKeys(t, "store,dht", "plugins", "index", "ledger", "gateway")
	members, urls := natsCluster(t, 3, keys)

	storeCLI := newCLI(t)
	store := roleProcess(t, storeCLI, urls, keys, "store,dht")
	plugins := newCLI(t)
	mapWasm := writeFile(t, "map.wasm", wasmbuild.ForTest(t, "../../tlds/map"))
	useTestCache(t, plugins.data, "")
	plugins.ok("plugin", "install", "--allow-unsigned", "--replace-builtin", mapWasm)
	roleProcess(t, plugins, urls, keys, "plugins")
	roleProcess(t, newCLI(t), urls, keys, "index")
	roleProcess(t, newCLI(t), urls, keys, "ledger")
	gwCLI := newCLI(t)
	gw := roleProcess(t, gwCLI, urls, keys, "gateway")
	tok, err := os.ReadFile(filepath.Join(gwCLI.data, "operator.token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))

	type acked struct {
		path    string
		payload []byte
	}
	var ok []acked
	seq := 0
	publish := func() (int, []byte) {
		seq++
		payload := randData(200_000 + seq*7919)
		manifest := strings.Replace(mapManifest, "Lyon cycle network", fmt.Sprintf("Lyon cycle network %d", seq), 1)
		ct, body := publishBody(t, manifest, payload)
		code, _, b := request(t, "POST", gw.api+"/v1/publish", token, ct, body, nil)
		if code == http.StatusCreated {
			var pub struct{ Address, Payload string }
			if err := json.Unmarshal(b, &pub); err != nil || pub.Payload != cid.Sum(payload).String() {
				t.Fatalf("publish answered %s", b)
			}
			addr, err := cid.ParseAddress(pub.Address)
			if err != nil {
				t.Fatal(err)
			}
			ok = append(ok, acked{"/r/" + addr.Hash.Hex() + ".map", payload})
		}
		return code, b
	}

	for range 3 {
		if code, b := publish(); code != http.StatusCreated {
			t.Fatalf("publish on the healthy macronode: %d %s\n%s", code, b, gw.log())
		}
	}

	// The store dies (kill -9) and one NATS server goes away.
	if err := store.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-store.exited
	members[1].stop()
	failed := 0
	for range 2 {
		code, b := publish()
		switch code {
		case http.StatusCreated:
		case http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			failed++
		default:
			t.Fatalf("publish while the store is down: %d %s", code, b)
		}
	}
	t.Logf("while the store was down: %d publishes refused, %d acknowledged", failed, 2-failed)

	// Both come back; the gateway is ready again once the store answers.
	members[1].start()
	startServe(t, storeCLI, "--roles", "store,dht")
	gw.waitFor("the gateway ready again", func() bool { return gw.get("/readyz", nil) == 200 })
	for range 2 {
		var code int
		var b []byte
		gw.waitFor("a publish after the restarts", func() bool {
			code, b = publish()
			return code == http.StatusCreated
		})
		_ = b
	}

	// A GC loop on the store role during 4 concurrent publishers: each
	// payload is held on the store role from its replication until the
	// index has stored the manifest's pinned reference to it there, so
	// every publish is acknowledged and nothing acknowledged goes.
	// The loop calls store.gc with the store process's role key.
	storeKey, err := secretfile.Load(keys.key("store,dht"), bus.SecretSize)
	if err != nil {
		t.Fatal(err)
	}
	bc := bus.New(bus.Options{URL: urls, RoleKey: storeKey, Contract: node.BusContract(), Roles: []string{"store", "dht"},
		Name: "gc-loop", Logger: slog.New(slog.DiscardHandler)})
	if err := bc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer bc.Close()
	stop := make(chan struct{})
	gcDone := make(chan error, 1)
	gcs := 0
	go func() {
		for {
			select {
			case <-stop:
				gcDone <- nil
				return
			default:
			}
			if err := bc.Request(context.Background(), contract.StoreGC.Spec, contract.Empty{}, nil); err != nil {
				gcDone <- err
				return
			}
			gcs++
		}
	}()
	var mu sync.Mutex
	var refused []string
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			for i := range 2 {
				payload := randData(100_000 + p*7919 + i*131)
				manifest := strings.Replace(mapManifest, "Lyon cycle network", fmt.Sprintf("GC loop %d-%d", p, i), 1)
				var body bytes.Buffer
				mw := multipart.NewWriter(&body)
				if err := writePublishBody(mw, []byte(manifest), "tiles.png", bytes.NewReader(payload)); err != nil {
					panic(err)
				}
				req, _ := http.NewRequest("POST", gw.api+"/v1/publish", &body)
				req.Header.Set("Content-Type", mw.FormDataContentType())
				req.Header.Set("Authorization", "Bearer "+token)
				var pub struct{ Address string }
				resp, err := http.DefaultClient.Do(req)
				var b []byte
				if err == nil {
					b, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				if err != nil || resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &pub) != nil {
					refused = append(refused, fmt.Sprintf("%v %s", err, b))
				} else if addr, err := cid.ParseAddress(pub.Address); err == nil {
					ok = append(ok, acked{"/r/" + addr.Hash.Hex() + ".map", payload})
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(stop)
	if err := <-gcDone; err != nil {
		t.Fatalf("store.gc: %v", err)
	}
	if len(refused) > 0 || gcs == 0 {
		t.Fatalf("publishes during %d GCs: refused %q\n%s", gcs, refused, gw.log())
	}
	if err := bc.Request(context.Background(), contract.StoreGC.Spec, contract.Empty{}, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("8 publishes acknowledged during %d GCs of the store role", gcs)

	// Every acknowledged object, from the gateway and from a fresh one.
	gw2 := roleProcess(t, newCLI(t), urls, keys, "gateway")
	for _, g := range []*served{gw, gw2} {
		for _, a := range ok {
			code, _, got := request(t, "GET", g.api+a.path, "", "", nil, nil)
			if code != 200 || !bytes.Equal(got, a.payload) {
				t.Fatalf("GET %s on %s: %d, %d bytes (want %d)\n%s", a.path, g.api, code, len(got), len(a.payload), g.log())
			}
		}
	}
	t.Logf("%d acknowledged publishes, every one served by both gateways", len(ok))
	// Each process did all this with its role key alone: nothing it tried
	// was outside its roles.
	for _, g := range []*served{gw, gw2, store} {
		if l := strings.ToLower(g.log()); strings.Contains(l, "not allowed to this process") || strings.Contains(l, "permissions violation") {
			t.Fatalf("a process went outside its roles:\n%s", g.log())
		}
	}
}

// TestMacronodeEmbeddedCluster is the other layout: no NATS of its own,
// each of three ronhost processes embeds a NATS server joined to the others
// through routes in its config.toml. The gateway publishes and serves; the
// index+plugins process (a cluster member too) is killed -9 and restarted,
// and what was acknowledged is still served.
func TestMacronodeEmbeddedCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("three role processes")
	}
	const n = 3
	clients, routes := make([]int, n), make([]int, n)
	var routeURLs []string
	for i := range n {
		clients[i], routes[i] = freePort(t), freePort(t)
		routeURLs = append(routeURLs, fmt.Sprintf("nats-route://127.0.0.1:%d", routes[i]))
	}
	rj, _ := json.Marshal(routeURLs)
	member := func(i int) *cli {
		c := newCLI(t)
		useTestCache(t, c.data, fmt.Sprintf("[bus]\nlisten = \"127.0.0.1:%d\"\nuser = \"ronhost\"\npassword = \"operator-pw-4kQ9zT1x\"\n"+
			"cluster_name = \"ron\"\ncluster_listen = \"127.0.0.1:%d\"\nroutes = %s\ncluster_user = \"route\"\ncluster_password = \"members-pw-8Jc3vY6n\"\n"+
			"[gateway]\nrequest_timeout = \"8s\"\n", clients[i], routes[i], rj))
		return c
	}
	storeCLI := member(0)
	startServe(t, storeCLI, "--roles", "store,dht")
	rolesCLI := member(1)
	mapWasm := writeFile(t, "map.wasm", wasmbuild.ForTest(t, "../../tlds/map"))
	rolesCLI.ok("plugin", "install", "--allow-unsigned", "--replace-builtin", mapWasm)
	roles := startServe(t, rolesCLI, "--roles", "index,plugins")
	gwCLI := member(2)
	gw := startServe(t, gwCLI, "--roles", "ledger,gateway")
	tok, err := os.ReadFile(filepath.Join(gwCLI.data, "operator.token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))

	type acked struct {
		path    string
		payload []byte
	}
	var ok []acked
	publish := func(i int) int {
		payload := randData(150_000 + i*4099)
		manifest := strings.Replace(mapManifest, "Lyon cycle network", fmt.Sprintf("Lyon %d", i), 1)
		ct, body := publishBody(t, manifest, payload)
		code, _, b := request(t, "POST", gw.api+"/v1/publish", token, ct, body, nil)
		if code == http.StatusCreated {
			var pub struct{ Address string }
			if err := json.Unmarshal(b, &pub); err != nil {
				t.Fatal(err)
			}
			addr, err := cid.ParseAddress(pub.Address)
			if err != nil {
				t.Fatal(err)
			}
			ok = append(ok, acked{"/r/" + addr.Hash.Hex() + ".map", payload})
		}
		return code
	}
	for i := range 2 {
		if code := publish(i); code != http.StatusCreated {
			t.Fatalf("publish on the embedded cluster: %d\n%s", code, gw.log())
		}
	}
	// The index+plugins process, and the NATS member it embeds, die.
	if err := roles.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-roles.exited
	// Meanwhile a publish fails (the index is gone) or, if it was
	// acknowledged, it is checked with the others below.
	t.Logf("publish with the index down: %d", publish(10))
	startServe(t, rolesCLI, "--roles", "index,plugins")
	gw.waitFor("a publish after the restart", func() bool { return publish(20) == http.StatusCreated })
	for _, a := range ok {
		code, _, got := request(t, "GET", gw.api+a.path, "", "", nil, nil)
		if code != 200 || !bytes.Equal(got, a.payload) {
			t.Fatalf("GET %s: %d, %d bytes (want %d)\n%s", a.path, code, len(got), len(a.payload), gw.log())
		}
	}
	t.Logf("%d acknowledged publishes served after the member's restart", len(ok))
}
