package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/wasmbuild"
)

// mapManifest is a .map manifest for a single PNG, priced at 250 per access.
const mapManifest = `[meta]
tld = "map"
title = "Lyon cycle network"
price = 250

[payload]
media_type = "image/png"

[map]
format = "png"
bounds = [4.7718, 45.7073, 4.8983, 45.8082]
license = "ODbL-1.0"
attribution = "© OpenStreetMap contributors"

[[map.creators]]
name = "Lyon Cycling Collective"
payout = "ron1lyoncycling"
share = 7000

[[map.creators]]
name = "Ada Mapper"
payout = "ron1ada"
share = 3000
`

// publishBody builds the multipart body of POST /v1/publish.
func publishBody(t *testing.T, manifest string, payload []byte) (string, *bytes.Buffer) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if err := writePublishBody(mw, []byte(manifest), "tiles.png", bytes.NewReader(payload)); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), &body
}

// request sends one HTTP request with an optional token and returns the
// status, the headers and the body.
func request(t *testing.T, method, url, token, contentType string, body io.Reader, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// TestNodeEndToEnd drives a real `ronhost serve` process over HTTP and the
// CLI: publish -> resolve -> range GET -> name -> settle -> payouts.
func TestNodeEndToEnd(t *testing.T) {
	c := newCLI(t)
	useTestCache(t, c.data, "[payouts]\nauto_settle = false\n[node]\npayout = \"ron1operator\"\n")
	// The .map plugin, built from source, so the test does not depend on
	// `make build` having embedded the built-ins.
	mapWasm := writeFile(t, "map.wasm", wasmbuild.ForTest(t, "../../tlds/map"))
	c.ok("plugin", "install", "--allow-unsigned", "--replace-builtin", mapWasm)
	n := startServe(t, c)
	tokenBytes, err := os.ReadFile(filepath.Join(c.data, "operator.token"))
	if err != nil {
		t.Fatal(err)
	}
	op := strings.TrimSpace(string(tokenBytes))

	payload := randData(300_000)
	payloadCID := cid.Sum(payload)

	// Writes fail closed without a token, and with a token for another path.
	ct, body := publishBody(t, mapManifest, payload)
	if code, _, b := request(t, "POST", n.api+"/v1/publish", "", ct, body, nil); code != 401 || !bytes.Contains(b, []byte(`"code":"unauthorized"`)) {
		t.Fatalf("publish without a token: %d %s", code, b)
	}
	narrow := strings.TrimSpace(c.ok("token", "mint", "--path", "/v1/names", "--expires", "1h"))
	ct, body = publishBody(t, mapManifest, payload)
	if code, _, b := request(t, "POST", n.api+"/v1/publish", narrow, ct, body, nil); code != 403 {
		t.Fatalf("publish with a /v1/names token: %d %s", code, b)
	}
	// A manifest its plugin rejects: 422 with the plugin's field errors.
	bad := strings.Replace(mapManifest, `license = "ODbL-1.0"`, `license = ""`, 1)
	ct, body = publishBody(t, bad, payload)
	code, _, b := request(t, "POST", n.api+"/v1/publish", op, ct, body, nil)
	var rejected struct {
		Code   string `json:"code"`
		Errors []struct{ Path, Code string }
	}
	if err := json.Unmarshal(b, &rejected); err != nil || code != 422 || rejected.Code != "rejected" || len(rejected.Errors) == 0 ||
		!strings.HasPrefix(rejected.Errors[0].Path, "map.license") {
		t.Fatalf("rejected publish: %d %s", code, b)
	}
	// `ronhost publish` prints each field error, and with --json the error
	// as one JSON object on stderr.
	badMan, payloadFile := writeFile(t, "Bad.toml", []byte(bad)), writeFile(t, "tiles.pmtiles", payload)
	out, errs, exit := c.run("", "publish", payloadFile, "--manifest", badMan)
	if exit != 1 || out != "" || !strings.Contains(errs, "rejected") {
		t.Fatalf("publish of a rejected manifest: exit %d, stdout %q, stderr %q", exit, out, errs)
	}
	var fieldErrs struct {
		Code   string       `json:"code"`
		Errors []fieldError `json:"errors"`
	}
	_ = json.Unmarshal(b, &fieldErrs)
	for _, fe := range fieldErrs.Errors {
		if line := fmt.Sprintf("  %s: %s (%s)\n", fe.Path, fe.Message, fe.Code); !strings.Contains(errs, line) {
			t.Fatalf("publish's stderr lacks the field error %q:\n%s", line, errs)
		}
	}
	out, errs, exit = c.run("", "--json", "publish", payloadFile, "--manifest", badMan)
	var jsonErr struct {
		Code   string       `json:"code"`
		Errors []fieldError `json:"errors"`
	}
	dec := json.NewDecoder(strings.NewReader(errs))
	if exit != 1 || out != "" || dec.Decode(&jsonErr) != nil || dec.More() || jsonErr.Code != "rejected" ||
		!reflect.DeepEqual(jsonErr.Errors, fieldErrs.Errors) {
		t.Fatalf("publish --json of a rejected manifest: exit %d, stdout %q, stderr %q; want the field errors %+v", exit, out, errs, fieldErrs.Errors)
	}

	// Publish.
	ct, body = publishBody(t, mapManifest, payload)
	code, _, b = request(t, "POST", n.api+"/v1/publish", op, ct, body, nil)
	var pub struct {
		Address, Manifest, TLD, Payload string
		Size                            int64
	}
	if err := json.Unmarshal(b, &pub); err != nil || code != 201 || pub.TLD != "map" || pub.Payload != payloadCID.String() || pub.Size != int64(len(payload)) {
		t.Fatalf("publish: %d %s", code, b)
	}
	addr, err := cid.ParseAddress(pub.Address)
	if err != nil {
		t.Fatal(err)
	}
	rpath := "/r/" + addr.Hash.Hex() + ".map"

	// Resolve the address: the payload, typed by the manifest, cacheable forever.
	code, hdr, got := request(t, "GET", n.api+rpath, "", "", nil, nil)
	if code != 200 || !bytes.Equal(got, payload) || hdr.Get("Content-Type") != "image/png" ||
		hdr.Get("ETag") != `"`+payloadCID.String()+`"` || !strings.Contains(hdr.Get("Cache-Control"), "immutable") {
		t.Fatalf("GET %s: %d %v (%d bytes)", rpath, code, hdr, len(got))
	}
	// A range, and two ranges.
	code, hdr, got = request(t, "GET", n.api+rpath, "", "", nil, map[string]string{"Range": "bytes=1000-1999"})
	if code != 206 || !bytes.Equal(got, payload[1000:2000]) || hdr.Get("Content-Range") != fmt.Sprintf("bytes 1000-1999/%d", len(payload)) {
		t.Fatalf("range GET: %d %v", code, hdr)
	}
	code, hdr, _ = request(t, "GET", n.api+rpath, "", "", nil, map[string]string{"Range": "bytes=0-9,200000-200009"})
	if code != 206 || !strings.HasPrefix(hdr.Get("Content-Type"), "multipart/byteranges") {
		t.Fatalf("multi-range GET: %d %v", code, hdr)
	}
	if code, _, _ = request(t, "GET", n.api+rpath, "", "", nil, map[string]string{"Range": "bytes=400000-"}); code != 416 {
		t.Fatalf("unsatisfiable range: %d", code)
	}
	if code, _, _ = request(t, "GET", n.api+rpath, "", "", nil, map[string]string{"If-None-Match": `"` + payloadCID.String() + `"`}); code != 304 {
		t.Fatalf("If-None-Match: %d", code)
	}
	// The raw object, and an unknown TLD.
	if code, _, got = request(t, "GET", n.api+"/o/"+payloadCID.String(), "", "", nil, nil); code != 200 || !bytes.Equal(got, payload) {
		t.Fatalf("GET /o: %d", code)
	}
	if code, _, b = request(t, "GET", n.api+"/r/"+addr.Hash.Hex()+".nope", "", "", nil, nil); code != 404 {
		t.Fatalf("unknown TLD: %d %s", code, b)
	}

	// A name, set with the CLI (signed with DATA/keys/names.key), resolved over HTTP.
	var rec struct {
		Name, Address string
		Seq           uint64
	}
	c.json(&rec, "name", "set", "cycling", pub.Address)
	if rec.Seq != 1 || !strings.HasPrefix(rec.Name, "cycling.") {
		t.Fatalf("name set: %+v", rec)
	}
	c.json(&rec, "name", "set", "cycling", pub.Address)
	if rec.Seq != 2 {
		t.Fatalf("second name set: %+v", rec)
	}
	var resolved struct {
		Name, Address string
		Seq           uint64
	}
	if code := n.get("/resolve/"+rec.Name, &resolved); code != 200 || resolved.Address != pub.Address || resolved.Seq != 2 {
		t.Fatalf("resolve: %d %+v", code, resolved)
	}

	// Settle: 5 priced accesses so far (full, range, multi-range, the 416
	// and the 304 are not accesses; the three GETs are) plus two more.
	for range 2 {
		if code, _, _ := request(t, "GET", n.api+rpath, "", "", nil, nil); code != 200 {
			t.Fatal(code)
		}
	}
	const accesses, price = 5, 250
	var settled struct {
		Settlements []struct {
			Epoch          uint64
			Manifests      int
			Settled        int
			AlreadySettled int `json:"already_settled"`
			Amount         uint64
		}
	}
	c.json(&settled, "payouts", "settle")
	if len(settled.Settlements) != 1 || settled.Settlements[0].Settled != 1 || settled.Settlements[0].Amount != accesses*price {
		t.Fatalf("settle: %+v", settled)
	}
	var payouts struct {
		Balances []struct {
			Payee  string
			Amount uint64
		}
	}
	c.json(&payouts, "payouts")
	total, byPayee := uint64(0), map[string]uint64{}
	for _, b := range payouts.Balances {
		total += b.Amount
		byPayee[b.Payee] = b.Amount
	}
	if total != accesses*price || byPayee["ron1lyoncycling"] == 0 || byPayee["ron1ada"] == 0 || byPayee["ron1operator"] == 0 {
		t.Fatalf("balances %+v (total %d, want %d)", payouts.Balances, total, accesses*price)
	}
	// Settling again pays nothing more.
	c.json(&settled, "payouts", "settle")
	c.json(&payouts, "payouts")
	again := uint64(0)
	for _, b := range payouts.Balances {
		again += b.Amount
	}
	if again != total {
		t.Fatalf("a second settle changed the balances: %d -> %d", total, again)
	}
	// The store's commands go through the running node, which holds the
	// store: stat, unpin, gc (put, get and scrub: TestContentThroughNode).
	var usage struct {
		Objects int64 `json:"objects"`
		Pinned  int64 `json:"pinned"`
	}
	c.json(&usage, "stat")
	if usage.Objects == 0 || usage.Pinned == 0 {
		t.Fatalf("stat through the node: %+v", usage)
	}
	orphan := writeFile(t, "orphan.bin", randData(70_000))
	code, _, b = request(t, "POST", n.api+"/v1/objects", op, "application/octet-stream", bytes.NewReader(mustRead(t, orphan)), nil)
	var put struct{ CID string }
	if err := json.Unmarshal(b, &put); err != nil || code != 201 {
		t.Fatalf("put: %d %s", code, b)
	}
	c.ok("unpin", put.CID)
	var gc struct{ Objects int }
	c.json(&gc, "gc")
	if gc.Objects < 1 {
		t.Fatalf("gc through the node removed %d objects after an unpin", gc.Objects)
	}
	if code, _, _ := request(t, "GET", n.api+"/o/"+put.CID, "", "", nil, nil); code != 404 {
		t.Fatalf("GET of a collected object: %d", code)
	}
	n.stop()
	if _, err := os.Stat(filepath.Join(c.data, "node.json")); !os.IsNotExist(err) {
		t.Fatalf("node.json left behind: %v", err)
	}
}

// TestMailboxCLI sends a message between two `ronhost serve` processes with
// the CLI (tor off: the mailboxes reach each other on loopback; the onion
// path is internal/core/node's TestMailboxOverPrivateTor).
func TestMailboxCLI(t *testing.T) {
	a, b := newCLI(t), newCLI(t)
	for _, c := range []*cli{a, b} {
		useTestCache(t, c.data, "")
	}
	na, nb := startServe(t, a), startServe(t, b)
	var addr struct{ Address string }
	b.json(&addr, "mailbox", "address")
	if !strings.HasPrefix(addr.Address, "rmb1.") {
		t.Fatalf("address %q", addr.Address)
	}
	var sent struct{ ID string }
	a.json(&sent, "mailbox", "send", addr.Address, "hello from A")
	if errs, code := a.fail("mailbox", "send", "rmb1.nonsense@127.0.0.1:1", "x"); code != 1 || !strings.Contains(errs, "invalid") {
		t.Fatalf("bad address: %d %s", code, errs)
	}
	type inbox struct {
		Messages []struct {
			ID, From string
			Body     []byte
		}
	}
	var in inbox
	nb.waitFor("the message in B's inbox", func() bool {
		b.json(&in, "mailbox", "inbox")
		return len(in.Messages) == 1
	})
	var aAddr struct{ Address string }
	a.json(&aAddr, "mailbox", "address")
	if m := in.Messages[0]; m.ID != sent.ID || string(m.Body) != "hello from A" || m.From != aAddr.Address {
		t.Fatalf("inbox %+v", in)
	}
	b.ok("mailbox", "ack", sent.ID)
	b.json(&in, "mailbox", "inbox")
	if len(in.Messages) != 0 {
		t.Fatalf("after ack: %+v", in)
	}
	if errs, _ := b.fail("mailbox", "ack", sent.ID); !strings.Contains(errs, "not_found") {
		t.Fatalf("second ack: %s", errs)
	}
	na.stop()
	nb.stop()
}
