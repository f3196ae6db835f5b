package names

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLoadOrCreateKey(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "names.key")
	k1, err := LoadOrCreateKey(p)
	if err != nil || len(k1) != ed25519.PrivateKeySize {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != ed25519.SeedSize {
		t.Fatalf("key file: %v %v", fi.Mode(), err)
	}
	k2, err := LoadOrCreateKey(p)
	if err != nil || !k2.Equal(k1) {
		t.Fatalf("reload: %v", err)
	}
	// A record signed with the first load verifies under the name of the second.
	r := sign(t, k1, "x", addr1, 1, 0)
	if r.Name != NameFor(pub(k2), "x") || r.Verify(now) != nil {
		t.Fatal("the reloaded key is another key")
	}
	os.Chmod(p, 0o604)
	if _, err := LoadOrCreateKey(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("mode 0604: %v", err)
	}
	os.WriteFile(p, make([]byte, 64), 0o600)
	os.Chmod(p, 0o600)
	if _, err := LoadOrCreateKey(p); err == nil || !strings.Contains(err.Error(), "64 bytes") {
		t.Fatalf("64-byte file: %v", err)
	}
	if _, err := LoadOrCreateKey(dir); err == nil {
		t.Fatal("a directory loaded as a key")
	}
}

func TestLoadOrCreateKeyRace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "names.key")
	keys := make([]ed25519.PrivateKey, 8)
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() { keys[i], errs[i] = LoadOrCreateKey(p) })
	}
	wg.Wait()
	for i := range keys {
		if errs[i] != nil || !keys[i].Equal(keys[0]) {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("left %d files behind", len(ents))
	}
}
