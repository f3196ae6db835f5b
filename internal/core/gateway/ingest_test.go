package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"lukechampine.com/blake3/bao"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/core/store"
)

// ingestObjects is the store with objects being received (as the node's
// fetches serve them): Info and ReadRange of such an object read its
// Ingest.
type ingestObjects struct {
	*store.Store
	mu  sync.Mutex
	ing map[cid.CID]*store.Ingest
}

func (o *ingestObjects) get(c cid.CID) *store.Ingest {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ing[c]
}

func (o *ingestObjects) Info(ctx context.Context, c cid.CID) (store.Object, error) {
	if in := o.get(c); in != nil {
		return store.Object{CID: c, Size: in.Size()}, nil
	}
	return o.Store.Info(ctx, c)
}

func (o *ingestObjects) ReadRange(ctx context.Context, c cid.CID, off, length int64) (io.ReadCloser, error) {
	if in := o.get(c); in != nil {
		return in.ReadRange(ctx, off, length)
	}
	return o.Store.ReadRange(ctx, c, off, length)
}

// receive starts receiving data as a fetch does and returns its Ingest.
func (o *ingestObjects) receive(t *testing.T, data []byte) (*store.Ingest, cid.CID) {
	t.Helper()
	ob, root := bao.EncodeBuf(data, store.Group, true)
	c := cid.CID(root)
	in, err := o.NewIngest(context.Background(), c, int64(len(data)), ob)
	if err != nil {
		t.Fatal(err)
	}
	o.mu.Lock()
	o.ing[c] = in
	o.mu.Unlock()
	t.Cleanup(in.Abort)
	return in, c
}

// writeShuffled writes data's groups into in in a random order, each as a
// lying peer's version first (refused).
func writeShuffled(t *testing.T, in *store.Ingest, data []byte, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 3))
	var offs []int64
	for off := int64(0); off < int64(len(data)); off += store.GroupSize {
		offs = append(offs, off)
	}
	rng.Shuffle(len(offs), func(i, j int) { offs[i], offs[j] = offs[j], offs[i] })
	for _, off := range offs {
		g := data[off:min(off+store.GroupSize, int64(len(data)))]
		bad := bytes.Clone(g)
		bad[rng.IntN(len(bad))] ^= 0x40
		if err := in.WriteGroups(off, bad); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("a corrupt group at %d: %v", off, err)
			return
		}
		if err := in.WriteGroups(off, g); err != nil {
			t.Error(err)
			return
		}
	}
}

// TestObjectStreamsFromAnIngest: a GET of an object being received streams
// its groups as they are verified and written (the gateway hands sections
// of the ingest's file to the connection), whole and ranged, with groups
// arriving in random order and every one first as a lying peer's version:
// the client gets exactly the object's bytes. An ingest aborted half-way
// gives the client a broken transfer, never a complete one.
func TestObjectStreamsFromAnIngest(t *testing.T) {
	var objs *ingestObjects
	e := newEnvObjects(t, Config{}, func(st *store.Store) Objects {
		objs = &ingestObjects{Store: st, ing: map[cid.CID]*store.Ingest{}}
		return objs
	})
	for i, tc := range []struct {
		name     string
		rg       string
		from, to int // the bytes the response holds
	}{
		{"whole", "", 0, 3<<20 + 77},
		{"range", "bytes=100-2000000", 100, 2000001},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := data(3<<20+77, uint64(41+i))
			in, c := objs.receive(t, data)
			hdr := map[string]string{}
			if tc.rg != "" {
				hdr["Range"] = tc.rg
			}
			type result struct {
				resp *http.Response
				body []byte
			}
			got := make(chan result, 1)
			go func() {
				resp, body := e.do(t, "GET", "/o/"+c.String(), hdr, nil)
				got <- result{resp, body}
			}()
			writeShuffled(t, in, data, 1)
			r := <-got
			if r.resp.StatusCode/100 != 2 || !bytes.Equal(r.body, data[tc.from:tc.to]) {
				t.Fatalf("GET %s: %s, %d bytes; want the object's %d-%d", tc.rg, r.resp.Status, len(r.body), tc.from, tc.to-1)
			}
			if _, err := in.Commit(context.Background(), store.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	}

	t.Run("aborted", func(t *testing.T) {
		data := data(3<<20+77, 40)
		in, c := objs.receive(t, data)
		half := int64(len(data)) / store.GroupSize / 2 * store.GroupSize
		if err := in.WriteGroups(0, data[:half]); err != nil {
			t.Fatal(err)
		}
		resp, err := e.c.Get(e.srv.URL + "/o/" + c.String())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		head := make([]byte, half)
		if _, err := io.ReadFull(resp.Body, head); err != nil || !bytes.Equal(head, data[:half]) {
			t.Fatalf("the first half: %v", err)
		}
		in.Abort()
		rest, err := io.ReadAll(resp.Body)
		if err == nil {
			t.Fatalf("the transfer ended cleanly after %d more bytes of an aborted ingest", len(rest))
		}
	})
}

// TestStalledReaderIsCutOnAnIngest: a client that stops reading a response
// sent from an ingest's file (sendfile) is cut by the write deadline, as
// one sent from memory is.
func TestStalledReaderIsCutOnAnIngest(t *testing.T) {
	var objs *ingestObjects
	e := newEnvObjects(t, Config{WriteIdle: 200 * time.Millisecond}, func(st *store.Store) Objects {
		objs = &ingestObjects{Store: st, ing: map[cid.CID]*store.Ingest{}}
		return objs
	})
	b := data(32<<20, 9)
	in, c := objs.receive(t, b)
	if err := in.WriteGroups(0, b); err != nil {
		t.Fatal(err)
	}
	e.stallOn(t, c)
}
