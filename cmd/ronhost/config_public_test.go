package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/internal/core/config"
)

// TestConfigInitPublic: config init --public writes the profile of a node
// on the internet (the overlay on every interface on port 4470, the given
// address announced, relaying on, the API still on loopback) into the file
// a node then loads; plain config init keeps the loopback defaults; bad
// input (--announce without --public, an address that is none) fails and
// writes nothing.
func TestConfigInitPublic(t *testing.T) {
	c := newCLI(t)
	path := config.Path(c.data)

	if _, errs, code := c.run("", "config", "init", "--announce", "203.0.113.7"); code == 0 || !strings.Contains(errs, "--public") {
		t.Errorf("--announce without --public: exit %d, %q", code, errs)
	}
	if _, errs, code := c.run("", "config", "init", "--public", "--announce", "not a host!"); code == 0 || !strings.Contains(errs, "not a host!") {
		t.Errorf("--announce of a bad address: exit %d, %q", code, errs)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("a refused config init left %s (%v)", path, err)
	}

	c.ok("config", "init", "--public", "--announce", "203.0.113.7,node.example.org")
	got, err := config.Load(c.data)
	if err != nil {
		t.Fatal(err)
	}
	o := got.Overlay
	for _, want := range []string{"/ip4/0.0.0.0/tcp/4470", "/ip4/0.0.0.0/udp/4470/quic-v1", "/ip6/::/tcp/4470"} {
		if !slices.Contains(o.Listen, want) {
			t.Errorf("overlay.listen = %v, want %s among them", o.Listen, want)
		}
	}
	for _, want := range []string{"/ip4/203.0.113.7/tcp/4470", "/dns/node.example.org/udp/4470/quic-v1"} {
		if !slices.Contains(o.Announce, want) {
			t.Errorf("overlay.announce = %v, want %s among them", o.Announce, want)
		}
	}
	def := config.Default()
	if !o.RelayService || o.RelayData || o.Reachability != def.Overlay.Reachability {
		t.Errorf("relay_service %v, relay_data %v, reachability %q; want true, false, %q", o.RelayService, o.RelayData, o.Reachability, def.Overlay.Reachability)
	}
	if got.Node.Listen != def.Node.Listen {
		t.Errorf("node.listen = %q, want the loopback default %q", got.Node.Listen, def.Node.Listen)
	}

	// Without --public (and --force over the public file): loopback again.
	c.ok("config", "init", "--force")
	if got, err = config.Load(c.data); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Overlay.Listen, def.Overlay.Listen) || got.Overlay.RelayService || len(got.Overlay.Announce) != 0 {
		t.Errorf("plain config init: listen %v relay_service %v announce %v; want the defaults", got.Overlay.Listen, got.Overlay.RelayService, got.Overlay.Announce)
	}
	for _, a := range got.Overlay.Listen {
		if !strings.Contains(a, "127.0.0.1") && !strings.Contains(a, "/::1/") {
			t.Errorf("plain config init listens on %s, not loopback", a)
		}
	}
}
