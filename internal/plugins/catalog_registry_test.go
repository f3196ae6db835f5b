package plugins

import (
	"os"
	"testing"
)

// The registry rows live beside the operator's entries without touching
// them, modules are written only under their own hash, and a damaged module
// file is never reported as held.
func TestCatalogRegistryRows(t *testing.T) {
	c := NewCatalog(t.TempDir())
	mine := []byte("operator's module")
	if _, err := c.Put("blog", mine, nil); err != nil {
		t.Fatal(err)
	}
	good, other := []byte("registry module"), []byte("another module")
	rows := []CatalogEntry{
		{TLD: "news", Plugin: HashBytes(good), Origin: "b3:reg", Version: "2"},
		{TLD: "blog", Plugin: HashBytes(other), Origin: "b3:reg", Status: StatusRevoked, Reason: "bad"},
	}
	// A module offered under another module's hash is not written.
	if err := c.SetRegistry(rows, map[string][]byte{HashBytes(good): good, HashBytes(other): good}); err != nil {
		t.Fatal(err)
	}
	if !c.HasModule(HashBytes(good)) || c.HasModule(HashBytes(other)) {
		t.Fatal("modules written under the wrong hashes")
	}
	got, err := c.Registry()
	if err != nil || len(got) != 2 || got[0].TLD != "blog" || got[0].Status != StatusRevoked || got[1].Version != "2" {
		t.Fatalf("rows %+v, %v", got, err)
	}
	entries, _, _ := c.Entries()
	if e, ok := entries["blog"]; !ok || e.Plugin != HashBytes(mine) || e.Origin != "" {
		t.Fatalf("the operator's entry changed: %+v", entries)
	}
	if err := os.WriteFile(c.modulePath(HashBytes(good)), []byte("tampered"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c.HasModule(HashBytes(good)) {
		t.Fatal("a tampered module is reported as held")
	}
}
