package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ronhost/ronhost/internal/core/cid"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func stored(t *testing.T, s *Store, c cid.CID) bool {
	t.Helper()
	_, err := s.Info(context.Background(), c)
	if err != nil && !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// TestHoldsKeepObjectsFromGC: a put's hold and Store.Hold keep an object,
// and what it references, through GC until released or expired; a hold
// of a missing object fails.
func TestHoldsKeepObjectsFromGC(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	s := openT(t, t.TempDir(), Options{FS: vfs.NewMem(), Now: clock.Now})
	small := randBytes(1, 100)
	big := randBytes(2, 3*GroupSize)

	ps, err := s.Put(ctx, bytes.NewReader(small), PutOptions{Hold: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	pb, err := s.Put(ctx, onlyReader{bytes.NewReader(big)}, PutOptions{Hold: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if s.Held() != 2 {
		t.Fatalf("Held = %d, want 2", s.Held())
	}
	if res, err := s.GC(ctx); err != nil || res.Objects != 0 {
		t.Fatalf("GC with both held: %+v %v", res, err)
	}
	// A held manifest keeps its payload too.
	ps.Release()
	man, err := s.Put(ctx, strings.NewReader("manifest of "+ps.CID.String()), PutOptions{Refs: []cid.CID{ps.CID}, Hold: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := s.GC(ctx); res.Objects != 0 || !stored(t, s, ps.CID) {
		t.Fatalf("GC with the referencing manifest held: %+v", res)
	}
	man.Release()
	man.Release() // idempotent
	if res, _ := s.GC(ctx); res.Objects != 2 || stored(t, s, ps.CID) || stored(t, s, man.CID) || !stored(t, s, pb.CID) {
		t.Fatalf("GC after the release: %+v", res)
	}
	// An expired hold holds nothing, and is forgotten.
	clock.Add(time.Hour + time.Second)
	if s.Held() != 0 {
		t.Fatalf("Held after expiry = %d", s.Held())
	}
	if res, _ := s.GC(ctx); res.Objects != 1 || stored(t, s, pb.CID) {
		t.Fatalf("GC after the hold expired: %+v", res)
	}
	pb.Release() // after expiry: harmless

	// Store.Hold: on a stored object it holds; on a missing one ErrNotFound.
	p2, _ := s.Put(ctx, bytes.NewReader(big), PutOptions{})
	release, err := s.Hold(ctx, p2.CID, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := s.GC(ctx); res.Objects != 0 {
		t.Fatalf("GC collected a held object: %+v", res)
	}
	release()
	if res, _ := s.GC(ctx); res.Objects != 1 {
		t.Fatalf("GC after release: %+v", res)
	}
	if _, err := s.Hold(ctx, p2.CID, time.Minute); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Hold of a collected object: %v", err)
	}
	if _, err := s.Hold(ctx, ps.CID, 0); err == nil {
		t.Fatal("a hold of 0 was accepted")
	}
	// A put without a hold still returns a Release to call.
	p3, _ := s.Put(ctx, bytes.NewReader(small), PutOptions{})
	p3.Release()
}

// TestRefsMustBeStored: a put naming a reference that is not stored fails,
// whatever the object's size or path (new, deduplicated, ingested), and
// leaves nothing behind: no object, pin or reference.
func TestRefsMustBeStored(t *testing.T) {
	ctx := context.Background()
	s := openT(t, t.TempDir(), Options{})
	missing := cid.Sum([]byte("never stored"))
	for i, data := range [][]byte{randBytes(3, 50), randBytes(4, 2*GroupSize)} {
		for _, streamed := range []bool{false, true} {
			var r = bytesReader(data)
			if !streamed {
				r = bytes.NewReader(data)
			}
			_, err := s.Put(ctx, r, PutOptions{Pin: true, Refs: []cid.CID{missing}})
			if !errors.Is(err, ErrMissingRef) || !errors.Is(err, ErrNotFound) {
				t.Fatalf("object %d (streamed %v): %v, want ErrMissingRef", i, streamed, err)
			}
			if stored(t, s, cid.Sum(data)) {
				t.Fatalf("object %d was stored", i)
			}
		}
	}
	// Already stored: the dedup path checks too, and adds no pin or ref.
	d, _ := s.Put(ctx, bytes.NewReader(randBytes(5, 70)), PutOptions{})
	if _, err := s.Put(ctx, bytes.NewReader(randBytes(5, 70)), PutOptions{Pin: true, Refs: []cid.CID{missing}}); !errors.Is(err, ErrMissingRef) {
		t.Fatalf("dedup: %v", err)
	}
	if info, _ := s.Info(ctx, d.CID); info.Pinned {
		t.Fatal("a refused put pinned its object")
	}
	// An ingest's commit checks too.
	data := randBytes(6, 2*GroupSize+5)
	in := newIngestT(t, s, data)
	if err := in.WriteGroups(0, data); err != nil {
		t.Fatal(err)
	}
	if _, err := in.Commit(ctx, PutOptions{Refs: []cid.CID{missing}}); !errors.Is(err, ErrMissingRef) {
		t.Fatalf("ingest: %v", err)
	}
	pins, _ := s.Pins(ctx)
	refs, _ := s.Refs(ctx, d.CID)
	if len(pins) != 0 || len(refs) != 0 {
		t.Fatalf("refused puts left pins %v refs %v", pins, refs)
	}
	if rep, err := s.Scrub(ctx, ScrubOptions{}); err != nil || len(rep.Damage) != 0 {
		t.Fatalf("scrub: %v %+v", err, rep.Damage)
	}
	assertNoTemp(t, s)
}

// TestPublishWindowUnderGC is a publish at the store's level: store a
// payload held, reference it from a pinned manifest, release; GC runs in a
// loop meanwhile. Every manifest and payload is there afterwards.
func TestPublishWindowUnderGC(t *testing.T) {
	ctx := context.Background()
	s := openT(t, t.TempDir(), Options{})
	type pub struct {
		man     cid.CID
		payload []byte
	}
	var mu sync.Mutex
	var pubs []pub
	var stop atomic.Bool
	gcErr := make(chan error, 1)
	gcs := 0
	go func() {
		for !stop.Load() {
			if _, err := s.GC(ctx); err != nil {
				gcErr <- err
				return
			}
			gcs++
		}
		gcErr <- nil
	}()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 25 {
				payload := randBytes(uint64(w*1000+i), []int{300, 5000, 2*GroupSize + 1}[i%3])
				p, err := s.Put(ctx, onlyReader{bytes.NewReader(payload)}, PutOptions{Hold: time.Minute})
				if err != nil {
					t.Error(err)
					return
				}
				m, err := s.Put(ctx, strings.NewReader(fmt.Sprintf("manifest %d/%d of %s", w, i, p.CID)), PutOptions{Pin: true, Refs: []cid.CID{p.CID}})
				p.Release()
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				pubs = append(pubs, pub{m.CID, payload})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	stop.Store(true)
	if err := <-gcErr; err != nil {
		t.Fatal(err)
	}
	if _, err := s.GC(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range pubs {
		refs, err := s.Refs(ctx, p.man)
		if err != nil || len(refs) != 1 {
			t.Fatalf("refs of %s: %v %v", p.man, refs, err)
		}
		if got := readAll(t, s, refs[0], 0, -1); !bytes.Equal(got, p.payload) {
			t.Fatalf("payload of %s lost", p.man)
		}
	}
	if rep, err := s.Scrub(ctx, ScrubOptions{}); err != nil || len(rep.Damage) != 0 {
		t.Fatalf("scrub: %v %+v", err, rep.Damage)
	}
	if s.Held() != 0 {
		t.Fatalf("%d holds left", s.Held())
	}
	t.Logf("%d publishes, %d GCs", len(pubs), gcs)
}

// TestScrubChecksReferences: a referenced payload that is gone (as the
// GC race of issue 14 left stores) and a pin of a missing object are
// damage, reported with what references them.
func TestScrubChecksReferences(t *testing.T) {
	ctx := context.Background()
	s := openT(t, t.TempDir(), Options{})
	small, _ := s.Put(ctx, bytes.NewReader(randBytes(7, 200)), PutOptions{})
	big, _ := s.Put(ctx, bytes.NewReader(randBytes(8, 3*GroupSize)), PutOptions{})
	man, err := s.Put(ctx, strings.NewReader("manifest"), PutOptions{Pin: true, Refs: []cid.CID{small.CID, big.CID}})
	if err != nil {
		t.Fatal(err)
	}
	if rep, _ := s.Scrub(ctx, ScrubOptions{}); len(rep.Damage) != 0 {
		t.Fatalf("clean store: %+v", rep.Damage)
	}
	// Remove the small payload's record and the pinned manifest's record
	// behind the store's back, keeping the counters right.
	b := s.db.NewBatch()
	b.Delete(objectKey(small.CID), nil)
	b.Delete(objectKey(man.CID), nil)
	u := s.used
	u.Objects -= 2
	u.Bytes -= small.Size + man.Size
	b.Set([]byte{kUsage}, u.encode(), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	b.Close()
	s.used = u
	rep, err := s.Scrub(ctx, ScrubOptions{Repair: true})
	if err != nil {
		t.Fatal(err)
	}
	var refs, pins int
	for _, d := range rep.Damage {
		switch {
		case d.Kind == DamageRef && d.CID == small.CID && d.ReferencedBy == man.CID && strings.Contains(d.Detail, "(pinned)") && !d.Repaired:
			refs++
		case d.Kind == DamagePin && d.CID == man.CID && !d.Repaired:
			pins++
		default:
			t.Errorf("unexpected damage %+v", d)
		}
	}
	if refs != 1 || pins != 1 {
		t.Fatalf("damage %+v: want the missing payload (ref) and the missing pinned manifest (pin)", rep.Damage)
	}
}
