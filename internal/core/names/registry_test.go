package names

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ronhost/ronhost/internal/pebbledb"
)

func openDB(t *testing.T, fs vfs.FS) *pebbledb.DB {
	t.Helper()
	db, err := pebbledb.Open("db", pebbledb.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestRegistry(t *testing.T) {
	ctx := context.Background()
	fs := vfs.NewMem()
	db := openDB(t, fs)
	g := NewRegistry(db, []byte("n/"))
	name := NameFor(pub(privA), "site")

	if _, err := g.GetAt(ctx, name, now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty: %v", err)
	}
	r2 := sign(t, privA, "site", addr1, 2, 0)
	if err := g.Put(ctx, r2, now); err != nil {
		t.Fatal(err)
	}
	got, err := g.GetAt(ctx, name, now)
	if err != nil || got.Seq != 2 || got.Address != addr1 {
		t.Fatalf("Get: %+v %v", got, err)
	}
	// Older and equal records are stale and change nothing.
	for _, r := range []Record{sign(t, privA, "site", addr2, 1, 0), r2} {
		if err := g.Put(ctx, r, now); !errors.Is(err, ErrStale) {
			t.Fatalf("seq %d: %v", r.Seq, err)
		}
	}
	// A bad record is refused and changes nothing.
	forged := sign(t, privA, "site", addr2, 9, 0)
	forged.Address = addr1
	if err := g.Put(ctx, forged, now); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged: %v", err)
	}
	if err := g.Put(ctx, sign(t, privA, "site", addr2, 9, now.Unix()), now); !errors.Is(err, ErrExpired) {
		t.Fatalf("put expired: %v", err)
	}
	if got, _ := g.GetAt(ctx, name, now); got.Seq != 2 {
		t.Fatalf("after refused puts: seq %d", got.Seq)
	}
	// A newer one wins.
	r3 := sign(t, privA, "site", addr2, 3, now.Unix()+60)
	if err := g.Put(ctx, r3, now); err != nil {
		t.Fatal(err)
	}
	if got, _ := g.GetAt(ctx, name, now); got.Seq != 3 || got.Address != addr2 {
		t.Fatalf("newer: %+v", got)
	}
	// Once expired it reads as ErrExpired, and still holds its seq.
	later := now.Add(time.Minute)
	if _, err := g.GetAt(ctx, name, later); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	if err := g.Put(ctx, sign(t, privA, "site", addr1, 2, 0), later); !errors.Is(err, ErrStale) {
		t.Fatalf("replay over an expired record: %v", err)
	}
	if _, err := g.Get(ctx, "not a name"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad name: %v", err)
	}

	// List: only this registry's prefix, in name order.
	other := sign(t, privB, "blog", addr1, 1, 0)
	if err := g.Put(ctx, other, now); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"m/zzz", "n", "n0", "o/"} {
		if err := db.Set([]byte(k), []byte("x"), pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	list, err := g.List(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("List: %d %v", len(list), err)
	}
	if list[0].Name > list[1].Name {
		t.Fatal("List is not in name order")
	}

	// Reopen the same file system: everything is still there.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, fs)
	defer db.Close()
	g = NewRegistry(db, []byte("n/"))
	if got, err := g.GetAt(ctx, name, now); err != nil || got.Seq != 3 || got.Address != addr2 {
		t.Fatalf("after reopen: %+v %v", got, err)
	}
	if list, err := g.List(ctx); err != nil || len(list) != 2 {
		t.Fatalf("List after reopen: %d %v", len(list), err)
	}

	// A corrupt stored value is reported, not served.
	if err := db.Set(g.key(other.Name), []byte(`{"name":"x"}`), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if _, err := g.GetAt(ctx, other.Name, now); !errors.Is(err, ErrCorrupt) || errors.Is(err, ErrMalformed) {
		t.Fatalf("corrupt: %v", err)
	}
	if _, err := g.List(ctx); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("List corrupt: %v", err)
	}
	// So is a valid record stored under another name's key.
	if err := db.Set(g.key(other.Name), mustJSON(t, r3), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if _, err := g.GetAt(ctx, other.Name, now); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("record under another name: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := g.Put(cctx, sign(t, privA, "site", addr1, 10, 0), now); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
}

// Two records with the same seq: two registries that receive them in
// opposite orders keep the same one.
func TestRegistryTieConverges(t *testing.T) {
	ctx := context.Background()
	a := sign(t, privA, "tie", addr1, 5, 0)
	b := sign(t, privA, "tie", addr2, 5, 0)
	var kept []Record
	for _, order := range [][]Record{{a, b}, {b, a}} {
		db := openDB(t, vfs.NewMem())
		g := NewRegistry(db, nil)
		stale := 0
		for _, r := range order {
			if err := g.Put(ctx, r, now); errors.Is(err, ErrStale) {
				stale++
			} else if err != nil {
				t.Fatal(err)
			}
		}
		got, err := g.GetAt(ctx, a.Name, now)
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, got)
		db.Close()
		// The second put is stale exactly when the first record is the winner.
		if wantStale := btoi(Newer(order[0], order[1])); stale != wantStale {
			t.Fatalf("order %s first: %d stale puts, want %d", order[0].Address, stale, wantStale)
		}
	}
	if kept[0].Address != kept[1].Address {
		t.Fatalf("diverged: %s vs %s", kept[0].Address, kept[1].Address)
	}
	want := a
	if Newer(b, a) {
		want = b
	}
	if kept[0].Address != want.Address {
		t.Fatal("the tie went to the lower signature")
	}
}

func mustJSON(t *testing.T, r Record) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Concurrent puts of one name: the highest seq ends up stored, and it was
// never refused. (Without Put's mutex two puts can both read the old record
// and the lower one can land last.)
func TestRegistryConcurrentPuts(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, vfs.NewMem())
	defer db.Close()
	g := NewRegistry(db, []byte("n/"))
	const rounds, n = 20, 16
	recs := make([]Record, n)
	for round := range rounds {
		label := fmt.Sprintf("race%d", round)
		for i := range recs {
			recs[i] = sign(t, privA, label, fmt.Sprintf("crab://%064x.map", i), uint64(n-i), 0)
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range recs {
			wg.Go(func() { errs[i] = g.Put(ctx, recs[i], now) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil && !errors.Is(err, ErrStale) {
				t.Fatalf("put %d: %v", i, err)
			}
		}
		if errs[0] != nil {
			t.Fatalf("round %d: the highest seq was refused: %v", round, errs[0])
		}
		got, err := g.GetAt(ctx, recs[0].Name, now)
		if err != nil || got.Seq != n {
			t.Fatalf("round %d: stored seq %d, %v", round, got.Seq, err)
		}
	}
}

// An acknowledged Put survives a crash (power cut) right after it.
func TestRegistryDurable(t *testing.T) {
	ctx := context.Background()
	mem := vfs.NewCrashableMem()
	db := openDB(t, mem)
	defer db.Close()
	r := sign(t, privA, "durable", addr1, 1, 0)
	if err := NewRegistry(db, []byte("n/")).Put(ctx, r, now); err != nil {
		t.Fatal(err)
	}
	crashed := openDB(t, mem.CrashClone(vfs.CrashCloneCfg{}))
	defer crashed.Close()
	if got, err := NewRegistry(crashed, []byte("n/")).GetAt(ctx, r.Name, now); err != nil || got.Seq != 1 {
		t.Fatalf("after a crash: %+v %v", got, err)
	}
}

func TestUpperBound(t *testing.T) {
	for in, want := range map[string]string{"n/": "n0", "a\xff": "b", "\xff\xff": "", "": ""} {
		if got := string(upperBound([]byte(in))); got != want {
			t.Errorf("upperBound(%q) = %q, want %q", in, got, want)
		}
	}
}
