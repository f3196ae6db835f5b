package overlay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ronhost/ronhost/internal/core/blob"
	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
	"github.com/ronhost/ronhost/internal/poll"
)

// TestFiftyNodesFetch: 50 nodes on libp2p's mock network, each with its own
// store (Pebble on an in-memory filesystem) and blob service. An object put
// and provided on one node is found through the DHT and fetched, verified,
// by every one of the 49 others, which then hold an identical copy.
func TestFiftyNodesFetch(t *testing.T) {
	if testing.Short() {
		t.Skip("50 nodes")
	}
	const n = 50
	nodes, _ := mockNodes(t, n, 3, 0)
	// A guard against a hang, not a verdict on speed: under the race
	// detector on a loaded 2-core machine the 49 fetches took over 2 minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()

	stores := make([]*store.Store, n)
	blobs := make([]*blob.Service, n)
	for i, o := range nodes {
		st, err := store.Open(ctx, "/store", store.Options{FS: vfs.NewMem()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		stores[i] = st
		blobs[i] = blob.New(o.Host(), st, nil, blob.Config{})
		if err := blobs[i].Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { blobs[i].Close() })
	}

	// 3 MiB and a bit: many chunk groups and a short last one.
	data := make([]byte, 3<<20+12345)
	rng := rand.New(rand.NewPCG(50, 50))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	origin := n / 2
	res, err := stores[origin].Put(ctx, bytes.NewReader(data), store.PutOptions{Pin: true})
	if err != nil {
		t.Fatal(err)
	}
	obj := res.CID
	poll.UntilErr(t, 5*time.Minute, "Provide", func() error { return nodes[origin].Provide(ctx, obj) })

	var (
		wg     sync.WaitGroup
		sem    = make(chan struct{}, 6)
		mu     sync.Mutex
		failed = map[int]error{}
	)
	for i := range nodes {
		if i == origin {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := fetchOne(ctx, nodes[i], blobs[i], stores[i], obj, data); err != nil {
				mu.Lock()
				failed[i] = err
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d of %d nodes could not find and fetch the object: %v", len(failed), n-1, failed)
	}
}

// fetchOne finds c's providers from o (polling: provider records spread
// after Provide returns), fetches c into st and checks the stored copy.
func fetchOne(ctx context.Context, o *Overlay, b *blob.Service, st *store.Store, c cid.CID, want []byte) error {
	var provs []peerInfo
	err := poll.Wait(ctx, func() error {
		got, err := o.FindProviders(ctx, c, 4)
		if err == nil && len(got) == 0 {
			err = errNoProvider
		}
		provs = got
		return err
	})
	if err != nil {
		return fmt.Errorf("finding a provider of %s: %w", c, err)
	}
	size, ob, err := b.Outboard(ctx, c, provs)
	if err != nil {
		return err
	}
	ing, err := st.NewIngest(ctx, c, size, ob)
	if err != nil {
		return err
	}
	if _, err := b.Fetch(ctx, c, ing, provs); err != nil {
		ing.Abort()
		return err
	}
	if _, err := ing.Commit(ctx, store.PutOptions{}); err != nil {
		return err
	}
	rc, err := st.Get(ctx, c)
	if err != nil {
		return err
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return errMismatch
	}
	return nil
}

type peerInfo = peer.AddrInfo

var errMismatch = errors.New("the stored copy differs from the original")

var errNoProvider = errors.New("no provider found yet")
