package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/ronhost/ronhost/internal/core/cid"
)

func TestVerifyOutboardAcceptsHonest(t *testing.T) {
	for i, n := range []int{0, 1, GroupSize - 1, GroupSize, GroupSize + 1, 2 * GroupSize, 3*GroupSize + 5, 17 * GroupSize, 64*GroupSize + 1} {
		data := randBytes(uint64(i), n)
		ob, c := encode(data)
		if err := VerifyOutboard(c, int64(n), ob); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
	}
}

// TestVerifyOutboardRefusesForgeries flips every bit of outboards of several
// shapes, cuts and pads them, and states wrong sizes and CIDs.
func TestVerifyOutboardRefusesForgeries(t *testing.T) {
	for i, n := range []int{GroupSize + 1, 2 * GroupSize, 3 * GroupSize, 9*GroupSize + 5, 33 * GroupSize} {
		data := randBytes(uint64(50+i), n)
		ob, c := encode(data)
		size := int64(n)
		refuse := func(what string, c cid.CID, size int64, ob []byte) {
			t.Helper()
			if err := VerifyOutboard(c, size, ob); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%d bytes, %s: %v, want ErrCorrupt", n, what, err)
			}
		}
		for bit := 0; bit < 8*len(ob); bit++ {
			f := bytes.Clone(ob)
			f[bit/8] ^= 1 << (bit % 8)
			refuse("a flipped bit", c, size, f)
		}
		refuse("one byte short", c, size, ob[:len(ob)-1])
		refuse("one node short", c, size, ob[:len(ob)-32])
		refuse("one byte more", c, size, append(bytes.Clone(ob), 0))
		refuse("a pair of nodes more", c, size, append(bytes.Clone(ob), make([]byte, 64)...))
		refuse("no header", c, size, ob[8:])
		refuse("empty", c, size, nil)
		for _, d := range []int64{-1, 1, -GroupSize, GroupSize, 1 << 40} {
			refuse("a wrong size", c, size+d, ob)
		}
		refuse("a negative size", c, -1, ob)
		other := c
		other[31] ^= 1
		refuse("another CID", other, size, ob)
		// A wrong size with its header rewritten to match: refused whenever
		// the tree above the last group changes (here: one group more or less).
		for _, d := range []int64{-GroupSize, GroupSize} {
			f := bytes.Clone(ob)
			binary.LittleEndian.PutUint64(f, uint64(size+d))
			refuse("a wrong size in the header too", c, size+d, f)
		}
	}
	// One group or less: only the header can be checked.
	data := randBytes(60, 1000)
	ob, c := encode(data)
	refuse := func(c cid.CID, size int64, ob []byte) {
		t.Helper()
		if err := VerifyOutboard(c, size, ob); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("small object: %v, want ErrCorrupt", err)
		}
	}
	refuse(c, 999, ob)
	refuse(c, 1000, append(bytes.Clone(ob), 0))
	f := bytes.Clone(ob)
	f[1] ^= 1
	refuse(c, 1000, f)
	// The empty object has one CID.
	eob, ec := encode(nil)
	if err := VerifyOutboard(ec, 0, eob); err != nil {
		t.Fatal(err)
	}
	refuse(c, 0, eob)
}

// TestForgedSizeNeverCompletes shows the limit VerifyOutboard documents: a
// size that keeps the tree above the last group passes it, but no bytes
// verify against that last group, so nothing wrong is ever stored.
func TestForgedSizeNeverCompletes(t *testing.T) {
	ctx := context.Background()
	s := openT(t, t.TempDir(), Options{})
	n := 3 * GroupSize
	data := randBytes(61, n)
	ob, c := encode(data)
	forged := bytes.Clone(ob)
	lie := int64(n - 1)
	binary.LittleEndian.PutUint64(forged, uint64(lie))
	if err := VerifyOutboard(c, lie, forged); err != nil {
		t.Fatalf("the forged size is expected to pass the outboard check: %v", err)
	}
	in, err := s.NewIngest(ctx, c, lie, forged)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Abort()
	if err := in.WriteGroups(0, data[:2*GroupSize]); err != nil {
		t.Fatalf("the groups before the last verify: %v", err)
	}
	if err := in.WriteGroups(2*GroupSize, data[2*GroupSize:lie]); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("the last group under a forged size: %v", err)
	}
	if _, err := in.Commit(ctx, PutOptions{}); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("Commit: %v", err)
	}
}

func TestOutboardOfStoredObjects(t *testing.T) {
	ctx := context.Background()
	s := openT(t, t.TempDir(), Options{InlineMax: 2 * GroupSize})
	for i, n := range []int{0, 10, GroupSize + 3, 2*GroupSize + 1, 5 * GroupSize} {
		data := randBytes(uint64(70+i), n)
		res, err := s.Put(ctx, bytes.NewReader(data), PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := encode(data)
		size, ob, err := s.Outboard(ctx, res.CID)
		if err != nil || size != int64(n) || !bytes.Equal(ob, want) {
			t.Fatalf("%d bytes (inline %v): size %d, equal %v, %v", n, res.Inline, size, bytes.Equal(ob, want), err)
		}
		if err := VerifyOutboard(res.CID, size, ob); err != nil {
			t.Fatal(err)
		}
		ob[len(ob)-1] ^= 1 // the caller's copy
		if _, again, _ := s.Outboard(ctx, res.CID); !bytes.Equal(again, want) {
			t.Fatal("Outboard handed out the store's own buffer")
		}
	}
	if _, _, err := s.Outboard(ctx, cid.Sum([]byte("absent"))); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent: %v", err)
	}
	// A damaged stored outboard is not handed out.
	data := randBytes(80, 6*GroupSize)
	res, err := s.Put(ctx, bytes.NewReader(data), PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ob, _ := encode(data)
	ob[100] ^= 4
	s.cache.drop(res.CID)
	if err := s.db.Set(outboardKey(res.CID), ob, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Outboard(ctx, res.CID); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("damaged outboard: %v", err)
	}
}
