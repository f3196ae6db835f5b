package plugins

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSignAndVerify(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := ParsePrivateKey(k.MarshalText())
	if k2.Public().String() != k.Public().String() {
		t.Fatal("private key text does not round-trip")
	}
	pub, err := ParsePublicKey(k.Public().String())
	if err != nil || pub.String() != k.Public().String() {
		t.Fatalf("public key does not round-trip: %v", err)
	}
	hash := HashBytes([]byte("module"))
	sig := Sign(k, hash)
	parsed, err := ParseSignature(sig.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := parsed.Verify(hash); err != nil || got.String() != pub.String() {
		t.Fatalf("verify: %v", err)
	}
	if _, err := parsed.Verify(HashBytes([]byte("other"))); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a signature for another module verified: %v", err)
	}
	forged := parsed
	forged.Publisher = pub.String()
	other, _ := GenerateKey()
	forged.Publisher = other.Public().String()
	if _, err := forged.Verify(hash); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("a signature under another key verified: %v", err)
	}
	for _, bad := range []string{"", "ed25519:zz", "rsa:00", "ed25519:00"} {
		if _, err := ParsePublicKey(bad); err == nil {
			t.Errorf("ParsePublicKey(%q) accepted", bad)
		}
	}
}

func TestTrustPolicy(t *testing.T) {
	trusted, _ := GenerateKey()
	stranger, _ := GenerateKey()
	hash := HashBytes([]byte("module"))
	good, strange := Sign(trusted, hash), Sign(stranger, hash)
	tampered := Sign(trusted, HashBytes([]byte("other")))
	tp := TrustPolicy{Trusted: []PublicKey{trusted.Public()}}
	cases := []struct {
		name string
		tp   TrustPolicy
		sig  *Signature
		want error
	}{
		{"trusted", tp, &good, nil},
		{"unsigned", tp, nil, ErrUnsigned},
		{"stranger", tp, &strange, ErrUntrusted},
		{"tampered", tp, &tampered, ErrBadSignature},
		{"unsigned allowed", TrustPolicy{AllowUnsigned: true}, nil, nil},
		{"stranger allowed", TrustPolicy{AllowUnsigned: true}, &strange, nil},
		{"tampered never", TrustPolicy{AllowUnsigned: true}, &tampered, ErrBadSignature},
	}
	for _, c := range cases {
		err := c.tp.Check(hash, c.sig)
		if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestCatalog(t *testing.T) {
	dir := t.TempDir()
	c := NewCatalog(dir)
	if e, removed, err := c.Entries(); err != nil || len(e) != 0 || removed != nil {
		t.Fatalf("empty catalog: %v %v %v", e, removed, err)
	}
	k, _ := GenerateKey()
	mod := []byte("\x00asm module bytes")
	sig := Sign(k, HashBytes(mod))
	e, err := c.Put("demo", mod, &sig)
	if err != nil {
		t.Fatal(err)
	}
	if e.Plugin != HashBytes(mod) || e.Publisher != k.Public().String() {
		t.Fatalf("entry = %+v", e)
	}
	got, err := c.Module(e.Plugin)
	if err != nil || string(got) != string(mod) {
		t.Fatalf("module: %q %v", got, err)
	}
	if err := c.Remove("map", true); err != nil {
		t.Fatal(err)
	}
	entries, removed, _ := NewCatalog(dir).Entries()
	if entries["demo"].Plugin != e.Plugin || len(removed) != 1 || removed[0] != "map" {
		t.Fatalf("reopened: %v %v", entries, removed)
	}
	if err := c.Remove("nothing", false); !errors.Is(err, ErrUnknownTLD) {
		t.Fatalf("removing an unknown TLD: %v", err)
	}
	// Reinstalling a removed built-in clears its removal.
	if _, err := c.Put("map", mod, nil); err != nil {
		t.Fatal(err)
	}
	if _, removed, _ := c.Entries(); removed != nil {
		t.Fatalf("removed = %v", removed)
	}
	// A damaged module file is detected.
	path := filepath.Join(dir, "modules", e.Plugin[3:]+".wasm")
	if err := os.WriteFile(path, []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Module(e.Plugin); err == nil {
		t.Fatal("a damaged module was read")
	}
	// No temporary files are left behind.
	left, _ := filepath.Glob(filepath.Join(dir, "*", ".tmp-*"))
	left2, _ := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	if len(left)+len(left2) != 0 {
		t.Fatalf("temporary files left: %v %v", left, left2)
	}
}
