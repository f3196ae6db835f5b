package index

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/manifest"
	"github.com/ronhost/ronhost/internal/core/store"
	"github.com/ronhost/ronhost/internal/pebbledb"
	"github.com/ronhost/ronhost/internal/pebbledb/diskfulltest"
)

const testMinFree = 64 << 20

// The index's disk fills: publishes fail with ErrDiskFull (no panic, no
// hang), lookups and lists go on, a stored manifest is still served
// (unindexed); the index opens read-only on a full disk and recovers when
// space returns; ENOSPC met inside Pebble fails the publish and then every
// write at once, while lookups go on and Close returns.
func TestIndexDiskFull(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := store.Open(ctx, filepath.Join(dir, "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	disk := diskfulltest.New()
	open := func() *Index {
		x, err := Open(ctx, "index", Options{FS: disk.FS(), MinFree: testMinFree}, s, &testValidator{})
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	x := open()
	p := putPayload(t, s, bytes.Repeat([]byte("payload "), 2000))
	req := func(text string) Request {
		return Request{Manifest: []byte(strings.Replace(noteTOML, "HeLLo", text, 1)), Payload: p.CID, Size: p.Size}
	}
	e1, err := x.Publish(ctx, req("one"))
	if err != nil {
		t.Fatal(err)
	}
	lookupOK := func(x *Index) {
		t.Helper()
		if got, err := x.Lookup(ctx, e1.Manifest); err != nil || got.Address != e1.Address {
			t.Fatalf("lookup on a full disk: %+v %v", got, err)
		}
		if l, err := x.List(ctx, "note", 0); err != nil || len(l) == 0 {
			t.Fatalf("list on a full disk: %d entries, %v", len(l), err)
		}
	}

	disk.SetFree(testMinFree / 2)
	if _, err := x.Publish(ctx, req("two")); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("publish on a full disk: %v", err)
	}
	lookupOK(x)
	// A manifest stored offline is served, though it cannot be indexed.
	doc, _ := manifest.DecodeTOML([]byte("[meta]\ntld = \"note\"\n[note]\ntext = \"offline\"\n"))
	_ = manifest.SetPayload(doc, p.CID, p.Size, "", "")
	m, _ := manifest.Normalize(doc)
	if _, err := s.Put(ctx, bytes.NewReader(m.Canonical()), store.PutOptions{Pin: true, Refs: []cid.CID{p.CID}}); err != nil {
		t.Fatal(err)
	}
	if e, err := x.Adopt(ctx, m.CID()); err != nil || e.Payload != p.CID {
		t.Fatalf("adopting on a full disk: %+v %v", e, err)
	}
	if disk.Refused() != 0 {
		t.Fatal("a write reached the disk")
	}
	disk.SetFree(diskfulltest.Plenty)
	if _, err := x.Publish(ctx, req("two")); err != nil {
		t.Fatalf("publish once space returned: %v", err)
	}
	x.Close()

	// Full when it opens: read-only, then writable again by itself.
	disk.SetFree(0)
	disk.ENOSPC(true)
	x = open()
	if !x.Disk().ReadOnly {
		t.Fatalf("state: %+v", x.Disk())
	}
	lookupOK(x)
	if _, err := x.Publish(ctx, req("three")); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("publish to a read-only index: %v", err)
	}
	disk.ENOSPC(false)
	disk.SetFree(diskfulltest.Plenty)
	if _, err := x.Publish(ctx, req("three")); err != nil {
		t.Fatalf("publish once space returned: %v", err)
	}

	// ENOSPC inside Pebble (the disk filled after the check).
	disk.SetFree(testMinFree + testMinFree/2)
	disk.ENOSPC(true)
	if _, err := x.Publish(ctx, req("four")); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("publish meeting ENOSPC: %v", err)
	}
	disk.ENOSPC(false)
	disk.SetFree(diskfulltest.Plenty)
	if _, err := x.Publish(ctx, req("five")); !errors.Is(err, pebbledb.ErrFailed) {
		t.Fatalf("publish after Pebble failed: %v", err)
	}
	lookupOK(x)
	closed := make(chan struct{})
	go func() { x.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(time.Minute):
		t.Fatal("Close hangs after the failure")
	}
}
