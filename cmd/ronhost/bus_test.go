package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBusCreds(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	secret := filepath.Join(dir, "bus.secret")
	var first map[string]any
	c.json(&first, "bus", "creds", "--secret", secret, "--roles", "plugins,index")
	if first["roles"] != "index,plugins" || first["secret_created"] != true || !strings.HasPrefix(first["public_key"].(string), "U") ||
		first["role_key"] != filepath.Join(dir, "index+plugins.key") {
		t.Fatalf("bus creds: %v", first)
	}
	for _, p := range []string{secret, filepath.Join(dir, "index+plugins.key")} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
			t.Fatalf("%s: %v %v", p, fi, err)
		}
	}
	// Again: the same key, the secret kept.
	var again map[string]any
	c.json(&again, "bus", "creds", "--secret", secret, "--roles", "index,plugins")
	if again["public_key"] != first["public_key"] || again["secret_created"] != false {
		t.Fatalf("bus creds again: %v", again)
	}
	// Another role set into the same file is refused, and so are unknown roles.
	if errs, code := c.fail("bus", "creds", "--secret", secret, "--roles", "gateway", "--out", filepath.Join(dir, "index+plugins.key")); code != 1 ||
		!strings.Contains(errs, "holds another key") {
		t.Fatalf("another set into an existing key file: %d %s", code, errs)
	}
	if errs, code := c.fail("bus", "creds", "--secret", secret, "--roles", "gateway,root"); code != 2 || !strings.Contains(errs, "unknown role") {
		t.Fatalf("an unknown role: %d %s", code, errs)
	}
	// nats-conf: one user per set, with its public key.
	conf := c.ok("bus", "nats-conf", "--secret", secret, "index,plugins", "gateway")
	if !strings.Contains(conf, first["public_key"].(string)) || strings.Count(conf, "{nkey:") != 2 ||
		!strings.Contains(conf, `"ron.index.lookup"`) {
		t.Fatalf("nats-conf:\n%s", conf)
	}
	if errs, code := c.fail("bus", "nats-conf", "--secret", filepath.Join(dir, "none"), "gateway"); code != 1 || !strings.Contains(errs, "no such file") {
		t.Fatalf("nats-conf without a secret: %d %s", code, errs)
	}
}

// TestServeRefusesAWeakOrExposedBus: a weak bus password, and a listener
// on every address without TLS, stop `ronhost serve` at start with a clear
// error.
func TestServeRefusesAWeakOrExposedBus(t *testing.T) {
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"a 1-character password": {map[string]string{"RON_BUS_LISTEN": "127.0.0.1:0", "RON_BUS_PASSWORD": "x"}, "bus.password is too weak"},
		"0.0.0.0 without TLS": {map[string]string{"RON_BUS_LISTEN": "0.0.0.0:0", "RON_BUS_PASSWORD": "Zq8#vT2!mW4@xR6$pL"},
			`bus.listen "0.0.0.0" listens on every address (a wildcard) without TLS`},
		"a weak route password": {map[string]string{"RON_BUS_CLUSTER_NAME": "ron", "RON_BUS_CLUSTER_LISTEN": "127.0.0.1:0",
			"RON_BUS_CLUSTER_USER": "route", "RON_BUS_CLUSTER_PASSWORD": "routepw"}, "bus.cluster_password is too weak"},
	} {
		c := newCLI(t)
		useTestCache(t, c.data, "")
		for k, v := range tc.env {
			c.env[k] = v
		}
		errs, code := c.fail("serve", "--listen", "127.0.0.1:0")
		if code != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("%s: exit %d: %s", name, code, errs)
		}
	}
}
