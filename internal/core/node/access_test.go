package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/bus"
	"github.com/ronhost/ronhost/internal/bus/contract"
	"github.com/ronhost/ronhost/internal/bustest"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/config"
	"github.com/ronhost/ronhost/internal/core/gateway"
	"github.com/ronhost/ronhost/internal/core/manifest"
)

// TestBusContract: the contract that every process's permissions derive
// from names exactly the verbs the roles' services put on the bus, and
// docs/BUS.md documents exactly those.
func TestBusContract(t *testing.T) {
	c := BusContract()
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	if got, want := c.Roles(), config.AllRoles(); !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))) {
		t.Fatalf("contract roles %v, config roles %v", got, want)
	}
	n := New(Options{DataDir: t.TempDir(), Config: config.Default()})
	services := map[string][]bus.Endpoint{}
	for _, s := range n.roleServices() {
		services[s.role] = s.eps()
	}
	declared := map[string]bus.Spec{}
	for _, s := range contract.Verbs() {
		declared[s.String()] = s
	}
	verbs := map[string][]string{}
	for role, eps := range services {
		for _, ep := range eps {
			if ep.Spec.Role != role || declared[ep.Spec.String()] != ep.Spec {
				t.Errorf("the %s service serves %+v, not a verb the contract declares", role, ep.Spec)
			}
			verbs[role] = append(verbs[role], ep.Spec.Verb)
		}
	}
	doc, err := os.ReadFile("../../../docs/BUS.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c {
		got := slices.Sorted(slices.Values(verbs[r.Role]))
		if want := slices.Sorted(slices.Values(r.Serves)); !slices.Equal(got, want) {
			t.Errorf("%s: the service has verbs %v, the contract %v", r.Role, got, want)
		}
		if len(r.Serves) == 0 {
			continue
		}
		// The verbs in the role's table of docs/BUS.md.
		sec := regexp.MustCompile("(?s)\n### " + r.Role + "\n(.*?)\n(##|$)").FindSubmatch(doc)
		if sec == nil {
			t.Errorf("docs/BUS.md has no section for %s", r.Role)
			continue
		}
		// Each verb's row ends with whether it is idempotent, as declared.
		var documented []string
		for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|.*\\| (yes|no) \\|$").FindAllSubmatch(sec[1], -1) {
			documented = append(documented, string(m[1]))
			if s, ok := declared[r.Role+"."+string(m[1])]; ok && s.Idempotent != (string(m[2]) == "yes") {
				t.Errorf("docs/BUS.md says %s.%s is idempotent: %s; the contract: %v", r.Role, m[1], m[2], s.Idempotent)
			}
		}
		if slices.Sort(documented); !slices.Equal(documented, slices.Sorted(slices.Values(r.Serves))) {
			t.Errorf("docs/BUS.md documents %s verbs %v, the contract %v", r.Role, documented, r.Serves)
		}
	}
}

// busNode starts a node running roles with a bus listener on loopback that
// admits role keys derived from a fresh secret; it returns the node, its
// API, its token and the secret.
func busNode(t *testing.T, roles ...string) (*Node, string, string, []byte) {
	t.Helper()
	secret := bytes.Repeat([]byte{0x5a}, bus.SecretSize)
	path := filepath.Join(t.TempDir(), "bus.secret")
	if err := os.WriteFile(path, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	n, api, tok := startNode(t, func(c *config.Config) {
		c.Node.Roles = roles
		c.Bus.Listen = "127.0.0.1:0"
		c.Bus.SecretFile = path
	})
	return n, api, tok, secret
}

// roleClient connects to n's bus listener with the role key of roles.
func roleClient(t *testing.T, n *Node, secret []byte, roles ...string) *bus.Bus {
	t.Helper()
	key, err := bus.RoleKey(secret, roles)
	if err != nil {
		t.Fatal(err)
	}
	b := bus.New(bus.Options{Name: "rogue-" + strings.Join(roles, "+"), URL: n.bus.ListenURL(), Contract: BusContract(),
		Roles: roles, RoleKey: key, Retries: -1, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func httpDo(t *testing.T, method, url, token string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestForgedLookupCannotChangeWhatRServes: a gateway and a store in one
// process, the index answered over the bus by clients with role keys. A
// client with the store's key cannot answer index.lookup at all; one with
// the index's key (a compromised index) answers with an entry that points
// the address at its own bytes, and the gateway refuses it (502) without
// serving them; the same client answering the genuine entry is served.
func TestForgedLookupCannotChangeWhatRServes(t *testing.T) {
	n, api, tok, secret := busNode(t, "gateway", "store")

	// Two objects on the node: the real payload and the attacker's bytes.
	put := func(b []byte) cid.CID {
		code, out := httpDo(t, "POST", api+"/v1/objects", tok, b)
		var r struct{ CID cid.CID }
		if code != http.StatusCreated || json.Unmarshal(out, &r) != nil {
			t.Fatalf("POST /v1/objects: %d %s", code, out)
		}
		return r.CID
	}
	real := []byte("# The real note\n\nWhat the publisher published.\n")
	evil := []byte("<script>the attacker's bytes, under someone else's address</script>")
	realCID, evilCID := put(real), put(evil)
	doc, err := manifest.DecodeTOML([]byte(strings.Replace(noteManifest, "price = 3\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := manifest.SetPayload(doc, realCID, int64(len(real)), "", ""); err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Normalize(doc)
	if err != nil {
		t.Fatal(err)
	}
	genuine := gateway.Entry{Address: m.Address().String(), Manifest: m.CID(), TLD: "notes", Payload: realCID,
		Size: int64(len(real)), MediaType: m.Payload.MediaType, Doc: m.Canonical()}
	path := api + "/r/" + m.CID().Hex() + ".notes"

	// The store's key cannot answer the index's verb: the server refuses
	// its subscription (and this package refuses to try).
	storeKey := roleClient(t, n, secret, "store")
	lookup := map[string]bus.Handler{"lookup": func(context.Context, []byte) (any, error) {
		return gateway.Entry{Address: genuine.Address, Manifest: genuine.Manifest, TLD: "notes", Payload: evilCID, Size: int64(len(evil)), Doc: genuine.Doc}, nil
	}}
	if err := storeKey.AddService("index", "1.0.0", "", lookup); !errors.Is(err, bus.ErrForbidden) {
		t.Fatalf("the store's key serving index.lookup: %v", err)
	}
	rawStore, _ := bustest.RawConn(t, n.bus.ListenURL(), secret, nil, "store")
	if _, err := rawStore.SubscribeSync("ron.index.lookup"); err != nil || rawStore.Flush() != nil {
		t.Fatal(err)
	}
	if code, body := httpDo(t, "GET", path, "", nil); code != http.StatusServiceUnavailable || bytes.Contains(body, evil) {
		t.Fatalf("GET with only the store's key on index.lookup: %d %s", code, body)
	}

	// A compromised index: its answers point the address at other bytes.
	var answer gateway.Entry
	idx := roleClient(t, n, secret, "index")
	if err := idx.AddService("index", "1.0.0", "", map[string]bus.Handler{"lookup": func(context.Context, []byte) (any, error) {
		return answer, nil
	}}); err != nil {
		t.Fatal(err)
	}
	for name, forge := range map[string]func(e *gateway.Entry){
		"another payload":         func(e *gateway.Entry) { e.Payload, e.Size = evilCID, int64(len(evil)) },
		"another payload and doc": func(e *gateway.Entry) { e.Payload, e.Size, e.Doc = evilCID, int64(len(evil)), []byte(`{"payload":{}}`) },
		"an HTML media type":      func(e *gateway.Entry) { e.MediaType = "text/html" },
		"a doc that names the attack": func(e *gateway.Entry) {
			e.Doc = bytes.Replace(e.Doc, []byte(realCID.String()), []byte(evilCID.String()), 1)
		},
	} {
		answer = genuine
		forge(&answer)
		code, body := httpDo(t, "GET", path, "", nil)
		if code != http.StatusBadGateway || bytes.Contains(body, evil) || !strings.Contains(string(body), "refused") {
			t.Fatalf("%s: GET answered %d %s", name, code, body)
		}
	}
	answer = genuine
	if code, body := httpDo(t, "GET", path, "", nil); code != http.StatusOK || !bytes.Equal(body, real) {
		t.Fatalf("the genuine entry: %d %q", code, body)
	}
}
