package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

type cli struct {
	t    *testing.T
	data string
	env  map[string]string
}

func newCLI(t *testing.T) *cli {
	return &cli{t: t, data: t.TempDir(), env: map[string]string{}}
}

// run runs ronhost with args and returns stdout, stderr and the exit code.
func (c *cli) run(stdin string, args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	c.env["RON_DATA"] = c.data
	a := newApp(strings.NewReader(stdin), &out, &errb, func(k string) string { return c.env[k] })
	code := a.run(context.Background(), args)
	return out.String(), errb.String(), code
}

func (c *cli) ok(args ...string) string {
	c.t.Helper()
	out, errs, code := c.run("", args...)
	if code != 0 {
		c.t.Fatalf("ronhost %v: exit %d: %s", args, code, errs)
	}
	return out
}

func (c *cli) json(v any, args ...string) {
	c.t.Helper()
	out := c.ok(append([]string{"--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("ronhost %v: bad JSON %q: %v", args, out, err)
	}
}

func writeFile(t *testing.T, name string, b []byte) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func randData(n int) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 9))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestPutGet(t *testing.T) {
	c := newCLI(t)
	data := randData(300_000)
	f := writeFile(t, "a.bin", data)
	want := cid.Sum(data).String()

	out, errs, code := c.run("", "put", f)
	if code != 0 || out != want+"\n" || errs != "" { // no progress bar off a terminal
		t.Fatalf("put: %d %q %q", code, out, errs)
	}
	var res putOutput
	c.json(&res, "put", f)
	if res.CID != want || res.Size != int64(len(data)) || !res.Deduplicated || res.Address != "" {
		t.Fatalf("put --json: %+v", res)
	}
	if got := c.ok("get", want); got != string(data) {
		t.Fatalf("get: %d bytes differ", len(got))
	}
	if got := c.ok("get", want, "--range", "1000-1999"); got != string(data[1000:2000]) {
		t.Fatal("get --range differs")
	}
	if got := c.ok("get", "--range", "299990-", want); got != string(data[299990:]) {
		t.Fatal("get --range A- differs")
	}
	o := filepath.Join(t.TempDir(), "out.bin")
	var g struct {
		Bytes int64 `json:"bytes"`
		File  string
	}
	c.json(&g, "get", want, "-o", o)
	if b, _ := os.ReadFile(o); !bytes.Equal(b, data) || g.Bytes != int64(len(data)) {
		t.Fatalf("get -o: %+v", g)
	}
	// stdin, streamed.
	if out, _, code := c.run("hello from stdin", "put", "-"); code != 0 || out != cid.Sum([]byte("hello from stdin")).String()+"\n" {
		t.Fatalf("put -: %d %q", code, out)
	}
	// Errors are clear and exit non-zero.
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"get", "b3:XYZ"}, 1, "cid: invalid CID"},
		{[]string{"get", cid.Sum([]byte("absent")).String()}, 1, "object not found"},
		{[]string{"get", want, "--range", "5-2"}, 2, "bad end"},
		{[]string{"get", want, "--range", "0-300000"}, 1, "outside"},
		{[]string{"--json", "get", want}, 2, "needs -o"},
		{[]string{"put"}, 2, "wrong number"},
		{[]string{"put", "/nonexistent/file"}, 1, "no such file"},
		{[]string{"get", "crab://nope.map"}, 1, "invalid address"},
	} {
		_, errs, code := c.run("", tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tc.args, code, errs, tc.code, tc.msg)
		}
	}
}

func TestPutManifestAddress(t *testing.T) {
	c := newCLI(t)
	useTestCache(t, c.data, "")
	installMap(t, c)
	data := randData(70_000)
	f := writeFile(t, "tiles.bin", data)
	m := writeFile(t, "Manifest.toml", []byte(mapManifest))
	var res putOutput
	c.json(&res, "put", f, "--manifest", m)
	if res.CID != cid.Sum(data).String() || !strings.HasPrefix(res.Address, "crab://") || !strings.HasSuffix(res.Address, ".map") {
		t.Fatalf("put --manifest: %+v", res)
	}
	addr, err := cid.ParseAddress(res.Address)
	if err != nil || addr.Hash.String() != res.Manifest {
		t.Fatalf("address %q: %v", res.Address, err)
	}
	// The stored manifest is the canonical JSON the plugin normalized, with
	// the payload filled in.
	man := c.ok("get", res.Manifest)
	if !strings.Contains(man, `"cid":"`+res.CID+`"`) || !strings.Contains(man, `"size":70000`) ||
		!strings.Contains(man, `"filename":"tiles.bin"`) || !strings.Contains(man, `"license":"ODbL-1.0"`) {
		t.Fatalf("stored manifest %s", man)
	}
	if got := c.ok("get", res.Address); got != string(data) {
		t.Fatal("get ADDRESS differs from the payload")
	}
	if got := c.ok("get", strings.Replace(res.Address, "crab://", "🦀://", 1)); got != string(data) {
		t.Fatal("get 🦀:// differs")
	}
	_, errs, code := c.run("", "get", strings.TrimSuffix(res.Address, ".map")+".img")
	if code != 1 || !strings.Contains(errs, "the manifest is for .map, not .img") {
		t.Fatalf("wrong TLD: %d %q", code, errs)
	}
	_, errs, code = c.run("", "get", res.Address+"/12/1/1")
	if code != 1 || !strings.Contains(errs, "needs the .map plugin") {
		t.Fatalf("path: %d %q", code, errs)
	}
	var st struct {
		Pinned  bool
		TLD     string
		Payload string
		Refs    []string
	}
	c.json(&st, "stat", res.Address)
	if !st.Pinned || st.TLD != "map" || st.Payload != res.CID || len(st.Refs) != 1 || st.Refs[0] != res.CID {
		t.Fatalf("stat ADDRESS: %+v", st)
	}
	// The manifest's pin keeps the payload through gc; unpinning lets both go.
	var gc store.GCResult
	c.json(&gc, "gc")
	if gc.Objects != 0 {
		t.Fatalf("gc removed %+v", gc)
	}
	c.ok("unpin", res.Address)
	c.json(&gc, "gc")
	if gc.Objects != 2 {
		t.Fatalf("gc after unpin: %+v", gc)
	}
	// Bad manifests are refused, with their field errors: the host's
	// checks, and the plugin's (issue 15: put --manifest validated it
	// with no plugin).
	bad := writeFile(t, "Bad.toml", []byte("[meta]\ntld = \"Map\"\n"))
	_, errs, code = c.run("", "put", f, "--manifest", bad)
	if code != 1 || !strings.Contains(errs, "meta.tld") {
		t.Fatalf("bad manifest: %d %q", code, errs)
	}
	wrong := writeFile(t, "Wrong.toml", []byte("[meta]\ntld = \"map\"\n[payload]\nsize = 5\n"))
	_, errs, code = c.run("", "put", f, "--manifest", wrong)
	if code != 1 || !strings.Contains(errs, "payload.size") {
		t.Fatalf("mismatched manifest: %d %q", code, errs)
	}
	unlicensed := writeFile(t, "Unlicensed.toml", []byte(strings.Replace(mapManifest, `license = "ODbL-1.0"`, `license = ""`, 1)))
	_, errs, code = c.run("", "put", f, "--manifest", unlicensed)
	if code != 1 || !strings.Contains(errs, "the .map plugin rejected the manifest") || !strings.Contains(errs, "\n  map.license") {
		t.Fatalf("a manifest the plugin rejects: %d %q", code, errs)
	}
	_, errs, code = c.run("", "put", f, "--manifest", m, "--no-pin")
	if code != 2 || !strings.Contains(errs, "--no-pin does not go with --manifest") {
		t.Fatalf("--no-pin --manifest: %d %q", code, errs)
	}
}

func TestPinGCScrubStat(t *testing.T) {
	c := newCLI(t)
	keep := randData(200_000)
	drop := randData(100_000)
	kc := strings.TrimSpace(c.ok("put", writeFile(t, "k", keep)))
	dc := strings.TrimSpace(c.ok("put", "--no-pin", writeFile(t, "d", drop)))
	var u store.Usage
	c.json(&u, "stat")
	if u.Objects != 2 || u.Pinned != 1 || u.PayloadBytes != 300_000 {
		t.Fatalf("stat: %+v", u)
	}
	var gc store.GCResult
	c.json(&gc, "gc")
	if gc.Objects != 1 {
		t.Fatalf("gc: %+v", gc)
	}
	if _, errs, code := c.run("", "get", dc); code != 1 || !strings.Contains(errs, "not found") {
		t.Fatalf("collected object still readable: %d %q", code, errs)
	}
	if out := c.ok("scrub"); !strings.Contains(out, "verified 1 objects") {
		t.Fatalf("scrub: %q", out)
	}
	// Damage one byte: scrub names the object and the exact 64 KiB group.
	p := filepath.Join(c.data, "store", "objects", kc[3:5], kc[3:])
	b, _ := os.ReadFile(p)
	b[140_000] ^= 1
	os.WriteFile(p, b, 0o644)
	out, errs, code := c.run("", "scrub")
	if code != 1 || !strings.Contains(out, kc+": data: bytes 131072-196607") || !strings.Contains(errs, "1 problems") {
		t.Fatalf("scrub after damage: %d %q %q", code, out, errs)
	}
	if _, errs, code := c.run("", "get", kc, "--range", "140000-140010"); code != 1 || !strings.Contains(errs, "fail verification") {
		t.Fatalf("get over damage: %d %q", code, errs)
	}
	if got := c.ok("get", kc, "--range", "0-99"); got != string(keep[:100]) {
		t.Fatal("an undamaged range should still read")
	}
	if _, errs, code := c.run("", "unpin", dc); code != 1 || !strings.Contains(errs, "not pinned") {
		t.Fatalf("unpin unpinned: %d %q", code, errs)
	}
}

func TestQuotaAndLock(t *testing.T) {
	c := newCLI(t)
	c.env["RON_STORE_QUOTA"] = "100KiB"
	_, errs, code := c.run("", "put", writeFile(t, "big", randData(200_000)))
	if code != 1 || !strings.Contains(errs, "quota exceeded") {
		t.Fatalf("over quota: %d %q", code, errs)
	}
	c.ok("put", writeFile(t, "small", randData(50_000)))
	c.env["RON_STORE_QUOTA"] = "lots"
	if _, errs, code := c.run("", "stat"); code != 1 || !strings.Contains(errs, "RON_STORE_QUOTA") {
		t.Fatalf("bad quota: %d %q", code, errs)
	}
	delete(c.env, "RON_STORE_QUOTA")

	// A node holding the store: the CLI says so.
	s, err := store.Open(context.Background(), filepath.Join(c.data, "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, errs, code = c.run("", "stat")
	if code != 1 || !strings.Contains(errs, "a node is serving the data directory") {
		t.Fatalf("locked: %d %q", code, errs)
	}
}

// TestScrubMissingReference: a pinned manifest whose payload is gone from
// the index (as issue 14's GC race left stores: the payload collected
// between its put and the manifest's reference) is damage: scrub names the
// payload and the manifest, in text and in --json, and exits 1.
func TestScrubMissingReference(t *testing.T) {
	c := newCLI(t)
	useTestCache(t, c.data, "")
	installMap(t, c)
	m := writeFile(t, "Manifest.toml", []byte(mapManifest))
	var res putOutput
	c.json(&res, "put", writeFile(t, "small.bin", randData(700)), "--manifest", m)
	if out := c.ok("scrub"); !strings.Contains(out, "verified 2 objects") {
		t.Fatalf("scrub of a sound store: %q", out)
	}
	// Remove the payload's object record behind the store's back.
	db, err := pebble.Open(filepath.Join(c.data, "store", "index"), &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := cid.Parse(res.CID)
	if err := db.Delete(append([]byte{'o'}, payload[:]...), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	out, errs, code := c.run("", "scrub")
	want := res.CID + ": ref: referenced by " + res.Manifest + " (pinned), but not stored"
	if code != 1 || !strings.Contains(out, want) || !strings.Contains(errs, "problems") {
		t.Fatalf("scrub: exit %d, %q %q; want %q", code, out, errs, want)
	}
	out, _, code = c.run("", "--json", "scrub")
	var rep store.ScrubReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 {
		t.Fatalf("scrub --json: exit %d, %q (%v)", code, out, err)
	}
	found := false
	for _, d := range rep.Damage {
		if d.Kind == store.DamageRef && d.CID.String() == res.CID && d.ReferencedBy.String() == res.Manifest && !d.Repaired {
			found = true
		}
	}
	if !found {
		t.Fatalf("scrub --json: %s", out)
	}
}
