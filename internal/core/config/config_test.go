package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestMissingFileGivesDefaults(t *testing.T) {
	c, err := Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c.Node.Listen != "127.0.0.1:8470" || !c.Plugins.Builtins || c.Plugins.MemoryMiB != 64 {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestRoundTripAndOverrides(t *testing.T) {
	dir := t.TempDir()
	c := Default()
	c.Plugins.TrustedPublishers = []string{"ed25519:" + strings.Repeat("ab", 32)}
	c.Plugins.ValidateMillis = 20
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "# HTTP API address") {
		t.Fatalf("no comments in:\n%s", b)
	}
	if err := os.WriteFile(Path(dir), b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Plugins.ValidateMillis != 20 || len(got.Plugins.TrustedPublishers) != 1 {
		t.Fatalf("loaded = %+v", got.Plugins)
	}
}

func TestBadFilesAreRefusedClearly(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"[plugins]\nvalidate_ms = 500\n", "validate_ms 500 is outside 1..100"},
		{"[plugins]\nvalidat_ms = 50\n", "validat_ms"},
		{"[node]\nlog_level = \"loud\"\n", "log_level"},
		{"[node\n", "config:"},
		{"[plugins]\nregistries = [\"b3:xyz\"]\n", "is not a registry ID"},
		{"[plugins]\nregistry_poll = \"1ms\"\n", "registry_poll must be at least 100ms"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(Path(dir), []byte(c.body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.body, err, c.want)
		}
	}
}

func TestDefaultsRoundTripThroughTheFile(t *testing.T) {
	dir := t.TempDir()
	b, err := Default().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(Path(dir), b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, Default()) {
		t.Fatalf("init then load changed the defaults:\n got %+v\nwant %+v", got, Default())
	}
	// Every key is in the file, with a comment above it.
	for _, k := range Keys() {
		_, key, _ := strings.Cut(k, ".")
		i := strings.Index(string(b), "\n"+key+" = ")
		if i < 0 {
			t.Errorf("key %s missing from the file", k)
			continue
		}
		prev := string(b[:i])
		if !strings.HasPrefix(prev[strings.LastIndex(prev, "\n")+1:], "#") {
			t.Errorf("key %s has no comment", k)
		}
	}
}

func TestEnvOverrides(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(Path(dir), []byte("[node]\nlisten = \"127.0.0.1:9000\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"RON_NODE_LISTEN":                "127.0.0.1:9001",
		"RON_GATEWAY_MAX_BODY":           "10MiB",
		"RON_GATEWAY_REQUEST_TIMEOUT":    "2s",
		"RON_PLUGINS_TRUSTED_PUBLISHERS": "ed25519:aa, ed25519:bb",
		"RON_PAYOUTS_AUTO_SETTLE":        "false",
		"RON_PLUGINS_POOL_SIZE":          "3",
		"RON_DATA":                       "/ignored",
	}
	c, err := Resolve(dir, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Node.Listen != "127.0.0.1:9001" || c.Gateway.MaxBody != 10<<20 || c.Gateway.RequestTimeout.D() != 2*time.Second ||
		!reflect.DeepEqual(c.Plugins.TrustedPublishers, []string{"ed25519:aa", "ed25519:bb"}) || c.Payouts.AutoSettle || c.Plugins.PoolSize != 3 {
		t.Fatalf("resolved %+v", c)
	}
	for name, want := range map[string]string{
		"RON_PLUGINS_POOL_SIZE":   "RON_PLUGINS_POOL_SIZE",
		"RON_PAYOUTS_AUTO_SETTLE": "true or false",
		"RON_GATEWAY_MAX_BODY":    "not a size",
		"RON_PAYOUTS_EPOCH":       "not a duration",
		"RON_PLUGINS_MEMORY_MIB":  "memory_mib 65",
	} {
		bad := map[string]string{name: "x"}
		if name == "RON_PLUGINS_MEMORY_MIB" {
			bad[name] = "65"
		}
		_, err := Resolve(dir, func(k string) string { return bad[k] })
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", name, err, want)
		}
	}
}

func TestSetAndSafety(t *testing.T) {
	c := Default()
	if err := c.Set("bus.listen", "127.0.0.1:4222"); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("a bus listener without a password validated: %v", err)
	}
	if err := c.Set("bus.password", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set("bus.url", "nats://127.0.0.1:4222"); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err == nil {
		t.Fatal("bus.listen with bus.url validated")
	}
	if err := c.Set("bus.nope", "1"); err == nil {
		t.Fatal("an unknown key was set")
	}
	// Role credentials: the secret with a listener (no operator password
	// needed), a role key with url only.
	for name, set := range map[string]map[string]string{
		"secret_file without listen": {"bus.secret_file": "/k"},
		"role_key without url":       {"bus.role_key": "/k"},
		"role_key and a password":    {"bus.url": "nats://127.0.0.1:4222", "bus.role_key": "/k", "bus.password": "p"},
	} {
		c := Default()
		for k, v := range set {
			if err := c.Set(k, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Validate(); err == nil {
			t.Errorf("%s validated", name)
		}
	}
	for _, set := range []map[string]string{
		{"bus.listen": "127.0.0.1:4222", "bus.secret_file": "/k"},
		{"bus.url": "nats://127.0.0.1:4222", "bus.role_key": "/k"},
	} {
		c := Default()
		for k, v := range set {
			if err := c.Set(k, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%v: %v", set, err)
		}
	}
}

func TestSizes(t *testing.T) {
	for in, want := range map[string]Size{"0": 0, "1024": 1024, "10MB": 10e6, "1.5GiB": 3 << 29, "2T": 2 << 40, "4KiB": 4096} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
		back, err := ParseSize(got.String())
		if err != nil || back != got {
			t.Errorf("%q: String %q does not parse back", in, got.String())
		}
	}
	for _, bad := range []string{"", "-1", "lots", "1e30"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
		}
	}
}

func TestRoles(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil || len(c.Node.Roles) != len(AllRoles()) {
		t.Fatalf("default roles %v: %v", c.Node.Roles, err)
	}
	for _, tc := range []struct {
		roles []string
		bad   string
	}{
		{[]string{"gateway"}, ""},
		{[]string{"store", "dht"}, ""},
		{[]string{}, "empty"},
		{[]string{"gateway", "gateway"}, "twice"},
		{[]string{"relay"}, "unknown role"},
		{[]string{"dht"}, "run it with store"},
	} {
		err := CheckRoles(tc.roles)
		if (tc.bad == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.bad)) {
			t.Errorf("CheckRoles(%v) = %v, want %q", tc.roles, err, tc.bad)
		}
	}
	if _, err := c.ApplyEnv(func(k string) string {
		if k == "RON_NODE_ROLES" {
			return "index,plugins"
		}
		return ""
	}); err != nil || !reflect.DeepEqual(c.Node.Roles, []string{"index", "plugins"}) {
		t.Fatalf("RON_NODE_ROLES: %v %v", c.Node.Roles, err)
	}
	c.Bus.ClusterName = "ron"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "cluster_listen") {
		t.Fatalf("a cluster without a route listener: %v", err)
	}
}

func TestGatewayDomains(t *testing.T) {
	c := Default()
	if _, err := c.ApplyEnv(func(k string) string {
		if k == "RON_GATEWAY_DOMAINS" {
			return "gw.example.org,Example.NET."
		}
		return ""
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil || len(c.Gateway.Domains) != 2 {
		t.Fatalf("domains %v: %v", c.Gateway.Domains, err)
	}
	for _, bad := range []string{"gw.example.org:8080", "https://gw.example.org", "10.0.0.1", "a..b", "-x.example"} {
		c := Default()
		c.Gateway.PathHosts = []string{bad}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "gateway.domains") {
			t.Errorf("path_hosts %q: %v", bad, err)
		}
	}
}

func TestOverlayReachabilityKeys(t *testing.T) {
	d := Default().Overlay
	if d.Reachability != "auto" || d.RelayService || d.RelayData || !d.HolePunching ||
		d.RelayReservations != 128 || d.RelayCircuits != 16 || d.RelayCircuitBytes != 128<<10 || d.RelayCircuitDuration.D() != 2*time.Minute {
		t.Fatalf("overlay defaults = %+v", d)
	}
	for _, l := range d.Listen {
		if !strings.HasPrefix(l, "/ip4/127.0.0.1/") {
			t.Errorf("default listen %s is not loopback (make run must stay local)", l)
		}
	}
	for _, c := range []struct{ body, want string }{
		{"[overlay]\nreachability = \"maybe\"\n", "reachability \"maybe\""},
		{"[overlay]\nrelay_circuit_bytes = \"100\"\n", "relay_circuit_bytes"},
		{"[overlay]\nrelay_circuit_bytes = \"2TiB\"\n", "never carries unbounded"},
		{"[overlay]\nrelay_circuit_duration = \"0s\"\n", "relay_circuit_duration"},
		{"[overlay]\nrelay_reservations = 0\n", "relay_reservations 0"},
		{"[overlay]\nrelay_circuits = 5000\n", "relay_circuits 5000"},
		{"[overlay]\nrelays = [\"/ip4/1.2.3.4/tcp/4470\"]\n", "ending in /p2p/"},
		{"[overlay]\nannounce = [\"1.2.3.4\"]\n", "overlay.announce \"1.2.3.4\""},
		{"[overlay]\nannounce = [\"/ip4/1.2.3.4/tcp/1/p2p/12D3KooW\"]\n", "without /p2p/"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(Path(dir), []byte(c.body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.body, err, c.want)
		}
	}
}

func TestPublicProfile(t *testing.T) {
	c, err := Public([]string{"203.0.113.7", "2001:db8::7", "node.example.org", "/dns4/x.example.org/tcp/9999", ""})
	if err != nil {
		t.Fatal(err)
	}
	o := c.Overlay
	want := []string{"/ip4/0.0.0.0/tcp/4470", "/ip4/0.0.0.0/udp/4470/quic-v1", "/ip6/::/tcp/4470", "/ip6/::/udp/4470/quic-v1"}
	if !reflect.DeepEqual(o.Listen, want) {
		t.Errorf("listen = %v, want %v", o.Listen, want)
	}
	wantAnn := []string{
		"/ip4/203.0.113.7/tcp/4470", "/ip4/203.0.113.7/udp/4470/quic-v1",
		"/ip6/2001:db8::7/tcp/4470", "/ip6/2001:db8::7/udp/4470/quic-v1",
		"/dns/node.example.org/tcp/4470", "/dns/node.example.org/udp/4470/quic-v1",
		"/dns4/x.example.org/tcp/9999",
	}
	if !reflect.DeepEqual(o.Announce, wantAnn) {
		t.Errorf("announce = %v, want %v", o.Announce, wantAnn)
	}
	if !o.RelayService || o.RelayData || o.Reachability != "auto" {
		t.Errorf("public profile: relay_service %v relay_data %v reachability %q; want true, false, auto", o.RelayService, o.RelayData, o.Reachability)
	}
	// The API and the relay limits keep their safe defaults.
	if c.Node.Listen != Default().Node.Listen || o.RelayCircuitBytes != Default().Overlay.RelayCircuitBytes {
		t.Errorf("public profile changed node.listen (%s) or the relay limits", c.Node.Listen)
	}
	// It survives the file.
	dir := t.TempDir()
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(Path(dir), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := Load(dir); err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("reloaded public profile: %v\n got %+v\nwant %+v", err, got.Overlay, c.Overlay)
	}
	for _, bad := range []string{"not a host!", "-x.example.org", strings.Repeat("a", 64) + ".org"} {
		if _, err := Public([]string{bad}); err == nil {
			t.Errorf("Public(%q) accepted", bad)
		}
	}
}

// TestRequire: [node] require names tor or overlay, once each, and not one
// that is turned off.
func TestRequire(t *testing.T) {
	for _, tc := range []struct {
		require []string
		tor     string
		overlay string
		want    string
	}{
		{[]string{"tor"}, "auto", "on", ""},
		{[]string{"overlay", "tor"}, "managed", "on", ""},
		{[]string{"mailbox"}, "auto", "on", "is not one of"},
		{[]string{"tor", "tor"}, "auto", "on", "twice"},
		{[]string{"tor"}, "off", "on", "tor.mode is off"},
		{[]string{"overlay"}, "auto", "off", "overlay.mode is off"},
	} {
		c := Default()
		c.Node.Require, c.Tor.Mode, c.Overlay.Mode = tc.require, tc.tor, tc.overlay
		err := c.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("require %v, tor %s, overlay %s: %v, want %q", tc.require, tc.tor, tc.overlay, err, tc.want)
		}
	}
	c := Default()
	if err := c.Set("node.require", "tor"); err != nil || len(c.Node.Require) != 1 || c.Node.Require[0] != "tor" {
		t.Fatalf("Set node.require: %v %v", c.Node.Require, err)
	}
}
