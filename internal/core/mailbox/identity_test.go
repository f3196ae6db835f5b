package mailbox

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/curve25519"
)

func x25519Base(priv []byte) ([]byte, error) { return curve25519.X25519(priv, curve25519.Basepoint) }

func TestAddressRoundTrip(t *testing.T) {
	id, err := GenerateIdentity()
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1:8080", "[::1]:1", "abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion:80"} {
		a, err := id.Address(host)
		if err != nil {
			t.Fatal(err)
		}
		s := a.String()
		if !strings.HasPrefix(s, "rmb1.") {
			t.Fatal(s)
		}
		b, err := ParseAddress(s)
		if err != nil || b != a {
			t.Fatalf("%s: %+v, %v", s, b, err)
		}
		txt, _ := a.MarshalText()
		var c Address
		if err := c.UnmarshalText(txt); err != nil || c != a {
			t.Fatalf("text: %v", err)
		}
	}
	good, _ := id.Address("x.onion:80")
	gs := good.String()
	ks := id.Keys().String()
	for _, bad := range []string{
		"", ks, ks + "@", ks + "@x.onion", ks + "@x.onion:0", ks + "@x.onion:65536", ks + "@x.onion:080",
		ks + "@X.onion:80", ks + "@x..onion:80", ks + "@.x:80", ks + "@x y:80", ks + "@::1:80",
		strings.ToUpper(gs[:10]) + gs[10:], "rmb2" + gs[4:], gs[:20] + gs[21:], gs[:20] + "1" + gs[21:],
		ks + "@" + strings.Repeat("a", 300) + ":80",
	} {
		if _, err := ParseAddress(bad); !errors.Is(err, ErrBadAddress) {
			t.Errorf("ParseAddress(%q): %v", bad, err)
		}
	}
}

func TestIdentityDerivation(t *testing.T) {
	seed := bytes.Repeat([]byte{42}, 32)
	a, _ := NewIdentity(seed)
	b, _ := NewIdentity(seed)
	if a.Keys() != b.Keys() {
		t.Fatal("not deterministic")
	}
	pub, _ := x25519Base(a.box[:])
	if !bytes.Equal(pub, a.keys.Box[:]) {
		t.Fatal("box key")
	}
	if a.box[0]&7 != 0 || a.box[31]&0xc0 != 0x40 {
		t.Fatal("not clamped")
	}
	c, _ := GenerateIdentity()
	if c.Keys() == a.Keys() {
		t.Fatal("random identity equals a fixed one")
	}
	if _, err := NewIdentity(seed[:31]); err == nil {
		t.Fatal("short seed accepted")
	}
}

func TestLoadOrCreateIdentity(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mailbox.key")
	a, err := LoadOrCreateIdentity(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Fatalf("key file %v %v", fi, err)
	}
	b, err := LoadOrCreateIdentity(p)
	if err != nil || b.Keys() != a.Keys() {
		t.Fatalf("reloaded: %v", err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateIdentity(p); err == nil || !strings.Contains(err.Error(), "mode") {
		t.Fatalf("world-readable key: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "short"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateIdentity(filepath.Join(dir, "short")); err == nil {
		t.Fatal("short key file accepted")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Fatalf("temporary files left: %v", ents)
	}
}
