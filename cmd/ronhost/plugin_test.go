package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ronhost/ronhost/internal/core/node"
	"github.com/ronhost/ronhost/internal/wasmbuild"
)

func goBuild(ctx context.Context, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, ".")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, b)
	}
	return nil
}

var chaosBuild = struct {
	sync.Once
	v1, v2 string
}{}

// chaosModules builds the plugin host's test plugin in two versions.
func chaosModules(t *testing.T) (v1, v2 string) {
	t.Helper()
	chaosBuild.Do(func() {
		dir, err := os.MkdirTemp("", "ronhost-chaos-")
		if err != nil {
			return
		}
		ctx := context.Background()
		a, b := filepath.Join(dir, "chaos.wasm"), filepath.Join(dir, "chaos2.wasm")
		if wasmbuild.Build(ctx, "../../internal/plugins/testdata/chaos", a) == nil &&
			wasmbuild.Build(ctx, "../../internal/plugins/testdata/chaos", b, "-ldflags=-X main.version=2") == nil {
			chaosBuild.v1, chaosBuild.v2 = a, b
		}
	})
	if chaosBuild.v1 == "" {
		t.Fatal("building the chaos plugin failed")
	}
	return chaosBuild.v1, chaosBuild.v2
}

func (c *cli) fail(args ...string) (string, int) {
	c.t.Helper()
	_, errs, code := c.run("", args...)
	if code == 0 {
		c.t.Fatalf("ronhost %v succeeded, want a failure", args)
	}
	return errs, code
}

func TestPluginTrustAndCatalog(t *testing.T) {
	c := newCLI(t)
	useTestCache(t, c.data, "")
	v1, _ := chaosModules(t)
	mod := writeFile(t, "chaos.wasm", mustRead(t, v1))

	var key struct{ PublicKey, PrivateKeyFile string }
	keyFile := filepath.Join(t.TempDir(), "pub.key")
	c.json(&struct {
		PublicKey      *string `json:"public_key"`
		PrivateKeyFile *string `json:"private_key_file"`
	}{&key.PublicKey, &key.PrivateKeyFile}, "plugin", "keygen", "-o", keyFile)
	if !strings.HasPrefix(key.PublicKey, "ed25519:") {
		t.Fatalf("public key %q", key.PublicKey)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if errs, _ := c.fail("plugin", "keygen", "-o", keyFile); !strings.Contains(errs, "exists") {
		t.Fatalf("keygen overwrote a key: %s", errs)
	}

	// Unsigned: refused unless the operator allows it.
	if errs, code := c.fail("plugin", "install", mod); code != 1 || !strings.Contains(errs, "not signed") || !strings.Contains(errs, "--allow-unsigned") {
		t.Fatalf("unsigned install: exit %d: %s", code, errs)
	}
	// Signed by a publisher the node does not trust: refused.
	c.ok("plugin", "sign", mod, "--key", keyFile)
	if errs, _ := c.fail("plugin", "install", mod); !strings.Contains(errs, "not in the node's trusted publishers") {
		t.Fatalf("untrusted install: %s", errs)
	}
	// Trusted: installed, with the publisher recorded.
	useTestCache(t, c.data, fmt.Sprintf("trusted_publishers = [%q]\n", key.PublicKey))
	out := c.ok("plugin", "install", mod)
	if !strings.Contains(out, "for .chaos") || !strings.Contains(out, key.PublicKey) {
		t.Fatalf("install: %s", out)
	}
	var list struct {
		Plugins []struct{ TLD, Plugin, Source, Publisher string }
	}
	c.json(&list, "plugin", "list")
	found := false
	for _, p := range list.Plugins {
		if p.TLD == "chaos" {
			found = p.Source == "installed" && p.Publisher == key.PublicKey && strings.HasPrefix(p.Plugin, "b3:")
		}
	}
	if !found {
		t.Fatalf("list = %+v", list)
	}
	var info map[string]any
	c.json(&info, "plugin", "info", "chaos")
	if info["tld"] != "chaos" || info["source"] != "installed" {
		t.Fatalf("info = %v", info)
	}
	// A tampered module no longer matches its signature.
	tampered := mustRead(t, mod)
	tampered = append(tampered, 0) // a trailing byte: another hash
	tmod := writeFile(t, "tampered.wasm", tampered)
	if err := os.WriteFile(tmod+".sig", mustRead(t, mod+".sig"), 0o644); err != nil {
		t.Fatal(err)
	}
	if errs, _ := c.fail("plugin", "install", "--allow-unsigned", tmod); !strings.Contains(errs, "bad signature") {
		t.Fatalf("tampered install: %s", errs)
	}
	// The TLD must be the one the plugin describes.
	if errs, _ := c.fail("plugin", "install", "--tld", "other", mod); !strings.Contains(errs, "TLD mismatch") {
		t.Fatalf("mismatch: %s", errs)
	}
	c.ok("plugin", "remove", "chaos")
	if errs, _ := c.fail("plugin", "remove", "chaos"); !strings.Contains(errs, "unknown TLD") {
		t.Fatalf("second remove: %s", errs)
	}
	if errs, code := c.fail("plugin", "install"); code != 2 || !strings.Contains(errs, "wrong number of arguments") {
		t.Fatalf("usage error: exit %d %s", code, errs)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The template `plugin new` writes builds and passes the conformance suite
// as generated, through the CLI a plugin author uses.
func TestPluginNewPassesConformance(t *testing.T) {
	c := newCLI(t)
	useTestCache(t, c.data, "")
	dir := filepath.Join(t.TempDir(), "ron-demo")
	c.ok("plugin", "new", "demo", "--dir", dir, "--sdk-replace", "../../sdk-wasm")
	wasm := filepath.Join(t.TempDir(), "demo.wasm")
	if err := wasmbuild.Build(context.Background(), dir, wasm); err != nil {
		t.Fatal(err)
	}
	junit := filepath.Join(t.TempDir(), "junit.xml")
	out, errs, code := c.run("", "plugin", "test", wasm, "--junit", junit)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	if code != 0 || !strings.HasSuffix(last, " passed, 0 failed") {
		t.Fatalf("plugin test: exit %d, last line %q\n%s\n%s", code, last, out, errs)
	}
	if x := string(mustRead(t, junit)); !strings.Contains(x, "<testsuite") || !strings.Contains(x, `failures="0"`) {
		t.Fatalf("junit: %s", x)
	}
	// The chaos test plugin accepts input the host never sends (a string
	// context, invalid UTF-8, a 900 KiB key): warnings with advice, not
	// failures, so the exit is 0 and the report says so. (A plugin that
	// faults or runs out of fuel fails with exit 1:
	// TestPluginTestEndsOnHostCallLoops.)
	v1, _ := chaosModules(t)
	out, _, code = c.run("", "plugin", "test", v1)
	if code != 0 || !strings.Contains(out, "WARN ") || !strings.Contains(out, "passed with warnings") || !strings.HasSuffix(strings.TrimSpace(out), " 0 failed") {
		t.Fatalf("chaos plugin: exit %d, want 0 with warnings\n%s", code, out)
	}
}

// A real `ronhost serve` process picks up installs, upgrades and removals
// made by the CLI while it runs, and stops cleanly on SIGTERM.
func TestServeHotReloadsTheCatalog(t *testing.T) {
	v1, v2 := chaosModules(t)
	c := newCLI(t)
	useTestCache(t, c.data, "")
	n := startServe(t, c)
	get := n.get
	versionOf := func(tld string) string {
		var list struct {
			Plugins []struct{ TLD, Version string }
		}
		get("/v1/plugins", &list)
		for _, p := range list.Plugins {
			if p.TLD == tld {
				return p.Version
			}
		}
		return ""
	}
	c.ok("plugin", "install", "--allow-unsigned", v1)
	n.waitFor("chaos v1 to be served", func() bool { return versionOf("chaos") == "1" })
	c.ok("plugin", "install", "--allow-unsigned", v2)
	n.waitFor("the upgrade to chaos v2", func() bool { return versionOf("chaos") == "2" })
	var errBody struct {
		Code      string
		Message   string
		Retryable bool
	}
	if code := get("/no/such/thing", &errBody); code != 404 || errBody.Code != "not_found" {
		t.Fatalf("unknown endpoint: %d %+v", code, errBody)
	}
	resp, err := http.Get(n.api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `ron_plugin_quarantined{plugin="b3:`) {
		t.Fatalf("metrics lack the plugin gauges:\n%s", metrics)
	}
	c.ok("plugin", "remove", "chaos")
	n.waitFor("chaos to be removed", func() bool { return versionOf("chaos") == "" })
	n.stop()
}

// An unsigned install does not silently replace a built-in TLD's plugin,
// even with --allow-unsigned: it needs a trusted publisher's signature or
// --replace-builtin, and the error says so. Installing the built-in's own
// module, or a TLD no built-in serves, is unaffected.
func TestInstallDoesNotReplaceABuiltinSilently(t *testing.T) {
	v1, v2 := chaosModules(t)
	c := newCLI(t)
	useTestCache(t, c.data, "")
	builtin := []node.Builtin{{TLD: "chaos", Wasm: mustRead(t, v1)}}
	run := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		c.env["RON_DATA"] = c.data
		a := newApp(strings.NewReader(""), &out, &errb, func(k string) string { return c.env[k] })
		a.builtins = func() []node.Builtin { return builtin }
		code := a.run(context.Background(), args)
		return out.String(), errb.String(), code
	}
	mod := writeFile(t, "chaos2.wasm", mustRead(t, v2))
	_, errs, code := run("plugin", "install", "--allow-unsigned", mod)
	if code == 0 || !strings.Contains(errs, "built-in") || !strings.Contains(errs, "--replace-builtin") || !strings.Contains(errs, "unsigned") {
		t.Fatalf("unsigned install over the built-in .chaos: exit %d: %s", code, errs)
	}
	// Signed by a publisher the node does not trust, and allowed: still refused.
	keyFile := filepath.Join(t.TempDir(), "pub.key")
	var key struct {
		PublicKey string `json:"public_key"`
	}
	c.json(&key, "plugin", "keygen", "-o", keyFile)
	c.ok("plugin", "sign", mod, "--key", keyFile)
	if _, errs, code := run("plugin", "install", "--allow-unsigned", mod); code == 0 || !strings.Contains(errs, "not a trusted publisher") {
		t.Fatalf("untrusted install over the built-in: exit %d: %s", code, errs)
	}
	var list struct {
		Plugins []struct{ TLD, Plugin, Source string }
	}
	out, _, _ := run("--json", "plugin", "list")
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Plugins) != 1 || list.Plugins[0].Source != "builtin" {
		t.Fatalf("after the refusals the built-in must still serve .chaos: %s", out)
	}
	// The operator says so explicitly: replaced.
	if _, errs, code := run("plugin", "install", "--allow-unsigned", "--replace-builtin", mod); code != 0 {
		t.Fatalf("--replace-builtin: exit %d: %s", code, errs)
	}
	c.ok("plugin", "remove", "chaos")
	// A trusted publisher's signature replaces it without the flag.
	useTestCache(t, c.data, fmt.Sprintf("trusted_publishers = [%q]\n", key.PublicKey))
	if _, errs, code := run("plugin", "install", mod); code != 0 {
		t.Fatalf("trusted install over the built-in: exit %d: %s", code, errs)
	}
}
