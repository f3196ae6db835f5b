package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/wasmbuild"
)

// installMap installs the .map plugin, built from source, in c's data
// directory (the tests do not depend on `make build` having embedded the
// built-ins).
func installMap(t *testing.T, c *cli) {
	t.Helper()
	mapWasm := writeFile(t, "map.wasm", wasmbuild.ForTest(t, "../../tlds/map"))
	c.ok("plugin", "install", "--allow-unsigned", "--replace-builtin", mapWasm)
}

// damage flips one byte of a stored object's file.
func damage(t *testing.T, c *cli, obj string, at int) {
	t.Helper()
	p := filepath.Join(c.data, "store", "objects", obj[3:5], obj[3:])
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[at] ^= 1
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestContentThroughNode: put, put --manifest, get and scrub work on a
// data directory a real `ronhost serve` holds, through its API, and print
// what they print offline on a data directory without a node, byte for
// byte (issue 16: one CLI). A manifest the .map plugin rejects is refused
// on both paths with the plugin's field errors, and nothing pinned; writes
// through the node need a token that allows them.
func TestContentThroughNode(t *testing.T) {
	off, on := newCLI(t), newCLI(t)
	for _, c := range []*cli{off, on} {
		useTestCache(t, c.data, "")
		installMap(t, c)
	}
	n := startServe(t, on)

	payload := randData(300_000)
	tiles := writeFile(t, "tiles.png", payload)
	loose := writeFile(t, "loose.bin", randData(5_000))
	man := writeFile(t, "Manifest.toml", []byte(mapManifest))
	bad := writeFile(t, "Bad.toml", []byte(strings.Replace(mapManifest, `license = "ODbL-1.0"`, `license = ""`, 1)))
	tilesCID := cid.Sum(payload).String()

	// same runs args on both and wants the same exit status and stdout.
	same := func(want int, args ...string) string {
		t.Helper()
		o1, e1, c1 := off.run("", args...)
		o2, e2, c2 := on.run("", args...)
		if c1 != want || c2 != want || o1 != o2 {
			t.Fatalf("ronhost %v:\noffline: exit %d, stdout %q, stderr %q\nthrough the node: exit %d, stdout %q, stderr %q\n(want exit %d and the same stdout)",
				args, c1, o1, e1, c2, o2, e2, want)
		}
		return o1
	}

	// A rejected manifest: exit 1, each field error on stderr (and in
	// --json one JSON object with them), on both paths; nothing pinned.
	for _, c := range []*cli{off, on} {
		out, errs, code := c.run("", "put", tiles, "--manifest", bad)
		if code != 1 || out != "" || !strings.Contains(errs, "rejected") || !strings.Contains(errs, "\n  map.license") {
			t.Fatalf("put --manifest of a rejected manifest: exit %d, stdout %q, stderr %q", code, out, errs)
		}
		out, errs, code = c.run("", "--json", "put", tiles, "--manifest", bad)
		var e struct {
			Code   string       `json:"code"`
			Errors []fieldError `json:"errors"`
		}
		dec := json.NewDecoder(strings.NewReader(errs))
		if code != 1 || out != "" || dec.Decode(&e) != nil || dec.More() || e.Code != "rejected" ||
			len(e.Errors) == 0 || !strings.HasPrefix(e.Errors[0].Path, "map.license") {
			t.Fatalf("put --json --manifest of a rejected manifest: exit %d, stdout %q, stderr %q", code, out, errs)
		}
		var u struct{ Pinned int64 }
		c.json(&u, "stat")
		if u.Pinned != 0 {
			t.Fatalf("a rejected manifest left %d pinned objects", u.Pinned)
		}
	}

	// The same output either way.
	if out := same(0, "put", tiles); out != tilesCID+"\n" {
		t.Fatalf("put: %q", out)
	}
	var res putOutput
	if err := json.Unmarshal([]byte(same(0, "--json", "put", "--no-pin", loose)), &res); err != nil || res.Deduplicated {
		t.Fatalf("put --no-pin: %+v %v", res, err)
	}
	if err := json.Unmarshal([]byte(same(0, "--json", "put", tiles, "--manifest", man)), &res); err != nil ||
		res.CID != tilesCID || !res.Deduplicated || !strings.HasSuffix(res.Address, ".map") {
		t.Fatalf("put --manifest: %+v %v", res, err)
	}
	if out := same(0, "get", res.Address); out != string(payload) {
		t.Fatalf("get ADDRESS: %d bytes differ", len(out))
	}
	if out := same(0, "get", tilesCID, "--range", "1000-1999"); out != string(payload[1000:2000]) {
		t.Fatal("get --range differs")
	}
	if out := same(0, "scrub"); !strings.HasPrefix(out, "verified ") {
		t.Fatalf("scrub: %q", out)
	}
	var st struct{ Pinned bool }
	on.json(&st, "stat", res.Address)
	if !st.Pinned {
		t.Fatalf("the published manifest is not pinned on the node: %+v", st)
	}
	// One flipped byte: scrub names the object and the 64 KiB group, exits 1.
	damage(t, off, tilesCID, 140_000)
	damage(t, on, tilesCID, 140_000)
	if out := same(1, "scrub"); !strings.Contains(out, tilesCID+": data: bytes 131072-196607") {
		t.Fatalf("scrub after damage: %q", out)
	}
	same(1, "--json", "scrub")

	// Writes through the node need a token that allows them.
	on.env["RON_TOKEN"] = "ront1.bogus"
	for _, args := range [][]string{{"put", loose}, {"scrub"}, {"put", tiles, "--manifest", man}} {
		if _, errs, code := on.run("", args...); code != 1 || !strings.Contains(errs, "unauthorized") {
			t.Fatalf("%v with a bogus token: exit %d, %q", args, code, errs)
		}
	}
	delete(on.env, "RON_TOKEN")
	narrow := strings.TrimSpace(on.ok("token", "mint", "--path", "/v1/names", "--expires", "1h"))
	for _, args := range [][]string{{"put", loose, "--token", narrow}, {"scrub", "--token", narrow}} {
		if _, errs, code := on.run("", args...); code != 1 || !strings.Contains(errs, "forbidden") {
			t.Fatalf("%v with a /v1/names token: exit %d, %q", args, code, errs)
		}
	}
	// Reads need none.
	on.env["RON_TOKEN"] = "ront1.bogus"
	if out := on.ok("get", tilesCID, "--range", "0-99"); out != string(payload[:100]) {
		t.Fatal("get with a bogus token")
	}
	n.stop()
}

// TestExitCodesAndJSONErrors: the exit statuses come from one mapping
// (exitCode), and with --json every error is one JSON object on stderr:
// the CLI's own (usage, error, problems) as the node's.
func TestExitCodesAndJSONErrors(t *testing.T) {
	c := newCLI(t)
	kc := strings.TrimSpace(c.ok("put", writeFile(t, "k", randData(200_000))))
	damage(t, c, kc, 100)
	for _, tc := range []struct {
		args []string
		exit int
		code string
	}{
		{[]string{"put"}, 2, "usage"},
		{[]string{"put", "--no-such-flag", "x"}, 2, "usage"},
		{[]string{"nope"}, 2, "usage"},
		{[]string{"put", "/nonexistent/file"}, 1, "error"},
		{[]string{"get", cid.Sum([]byte("absent")).String(), "-o", filepath.Join(t.TempDir(), "x")}, 1, "error"},
		{[]string{"scrub"}, 1, "problems"},
	} {
		out, errs, exit := c.run("", append([]string{"--json"}, tc.args...)...)
		var e struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		dec := json.NewDecoder(strings.NewReader(errs))
		if exit != tc.exit || dec.Decode(&e) != nil || dec.More() || e.Code != tc.code || e.Message == "" {
			t.Errorf("--json %v: exit %d, stdout %q, stderr %q; want exit %d and one JSON error with code %q", tc.args, exit, out, errs, tc.exit, tc.code)
		}
		_, errs, exit = c.run("", tc.args...)
		if exit != tc.exit || !strings.HasPrefix(errs, "ronhost: ") {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and a line", tc.args, exit, errs, tc.exit)
		}
	}
	if out, _, exit := c.run("", "--help"); exit != 0 || !strings.Contains(out, "Exit status: 0 done; 1 failed") {
		t.Fatalf("--help: exit %d, %q: want the exit statuses", exit, out)
	}
}
