package token

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLoadOrCreateKey(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "token.key")
	k1, err := LoadOrCreateKey(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != KeySize {
		t.Fatalf("key file: %v %v", fi.Mode(), err)
	}
	k2, err := LoadOrCreateKey(p)
	if err != nil || k2 != k1 || k1 == (Key{}) {
		t.Fatalf("reload: %v (same key %v)", err, k2 == k1)
	}
	// A token minted with the first load verifies with the second.
	tok, _ := Mint(k1)
	if err := k2.Verify(tok, Request{}); err != nil {
		t.Fatal(err)
	}

	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("mode 0640: %v", err)
	}
	if err := os.WriteFile(p, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o600)
	if _, err := LoadOrCreateKey(p); err == nil || !strings.Contains(err.Error(), "5 bytes") {
		t.Fatalf("short file: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "short" {
		t.Fatal("a refused key file was replaced")
	}
	if _, err := LoadOrCreateKey(dir); err == nil {
		t.Fatal("a directory loaded as a key")
	}
	if _, err := LoadOrCreateKey(filepath.Join(dir, "missing", "k")); err == nil {
		t.Fatal("created a key in a missing directory")
	}
}

// Processes starting at once (the node and the CLI) must end up with one key.
func TestLoadOrCreateKeyRace(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "token.key")
	keys := make([]Key, 8)
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() { keys[i], errs[i] = LoadOrCreateKey(p) })
	}
	wg.Wait()
	for i := range keys {
		if errs[i] != nil || keys[i] != keys[0] {
			t.Fatalf("caller %d: %v (same key %v)", i, errs[i], keys[i] == keys[0])
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("left %d files behind", len(ents))
	}
}
