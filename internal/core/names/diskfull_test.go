package names

import (
	"context"
	"errors"
	"testing"

	"github.com/ronhost/ronhost/internal/pebbledb"
	"github.com/ronhost/ronhost/internal/pebbledb/diskfulltest"
)

// A name record that does not fit the disk is refused with ErrDiskFull
// (before Pebble, or from Pebble's ENOSPC), never a panic; the stored
// record keeps resolving.
func TestRegistryDiskFull(t *testing.T) {
	ctx := context.Background()
	disk := diskfulltest.New()
	db, err := pebbledb.Open("db", pebbledb.Options{FS: disk.FS(), MinFree: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g := NewRegistry(db, []byte("n/"))
	if err := g.Put(ctx, sign(t, privA, "site", addr1, 1, 0), now); err != nil {
		t.Fatal(err)
	}
	resolves := func() {
		t.Helper()
		if got, err := g.GetAt(ctx, NameFor(pub(privA), "site"), now); err != nil || got.Seq != 1 {
			t.Fatalf("get on a full disk: %+v %v", got, err)
		}
	}
	disk.SetFree(1 << 20)
	if err := g.Put(ctx, sign(t, privA, "site", addr2, 2, 0), now); !errors.Is(err, pebbledb.ErrDiskFull) {
		t.Fatalf("put on a full disk: %v", err)
	}
	resolves()
	disk.SetFree(100 << 20) // under twice the reserve: the disk fills after the check
	disk.ENOSPC(true)
	if err := g.Put(ctx, sign(t, privA, "site", addr2, 3, 0), now); !errors.Is(err, pebbledb.ErrDiskFull) {
		t.Fatalf("put meeting ENOSPC: %v", err)
	}
	// Pebble applied the failed batch in memory before its log write
	// failed: reads may see it until a restart (see internal/pebbledb).
	if _, err := g.GetAt(ctx, NameFor(pub(privA), "site"), now); err != nil {
		t.Fatalf("get after Pebble failed: %v", err)
	}
}
