package store

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/ronhost/ronhost/internal/core/cid"
)

// TestConcurrentPutsAndGC: goroutines put overlapping objects (pinned and
// not) while GC runs; every pinned object survives and verifies, and the
// store is consistent afterwards.
func TestConcurrentPutsAndGC(t *testing.T) {
	ctx := context.Background()
	s := openT(t, t.TempDir(), Options{})
	objs := make([][]byte, 12)
	for i := range objs {
		objs[i] = randBytes(uint64(100+i), []int{10, 3000, 70000, 200000}[i%4])
	}
	var mu sync.Mutex
	pinned := map[cid.CID][]byte{}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 3*len(objs); i++ {
				k := (i*7 + w*5) % len(objs)
				pin := k%2 == 0
				res, err := s.Put(ctx, bytes.NewReader(objs[k]), PutOptions{Pin: pin})
				if err != nil {
					t.Error(err)
					return
				}
				if pin {
					mu.Lock()
					pinned[res.CID] = objs[k]
					mu.Unlock()
				}
			}
		}()
	}
	stop := make(chan struct{})
	gcDone := make(chan struct{})
	go func() {
		defer close(gcDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.GC(ctx); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-gcDone
	for c, data := range pinned {
		if got := readAll(t, s, c, 0, -1); !bytes.Equal(got, data) {
			t.Fatalf("pinned %s lost or wrong", c)
		}
	}
	rep, err := s.Scrub(ctx, ScrubOptions{})
	if err != nil || len(rep.Damage) != 0 {
		t.Fatalf("scrub: %v %+v", err, rep.Damage)
	}
	assertNoTemp(t, s)
}
