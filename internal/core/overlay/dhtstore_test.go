package overlay

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	dsq "github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p"
	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multihash"
	"google.golang.org/protobuf/proto"

	"github.com/ronhost/ronhost/internal/poll"
)

// providerRecords counts the provider records of p in o's DHT store.
func providerRecords(t *testing.T, o *Overlay, p peer.ID) int {
	t.Helper()
	res, err := o.records.Query(context.Background(), dsq.Query{Prefix: providersPrefix, KeysOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	es, err := res.Rest()
	if err != nil {
		t.Fatal(err)
	}
	suffix := "/" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte(p))
	n := 0
	for _, e := range es {
		if strings.HasSuffix(e.Key, suffix) {
			n++
		}
	}
	return n
}

// TestDHTRecordsAreBounded: a hostile peer floods a DHT server with
// ADD_PROVIDER messages for random keys. The server keeps at most its
// budget of records, of which the flooder's take at most an eighth, and an
// honest peer's announcement is still stored.
func TestDHTRecordsAreBounded(t *testing.T) {
	const budget = 64 << 10
	ctx, cancel := context.WithTimeout(context.Background(), poll.Guard)
	defer cancel()
	a := New(Config{Key: mustKey(t), Reachability: ReachPublic})
	a.dhtBudget = budget
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })

	// sender connects a new peer to a and returns a function that sends n
	// ADD_PROVIDER messages for random keys, each naming the peer.
	sender := func() (peer.ID, func(n int)) {
		h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"), libp2p.DisableRelay())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		if err := h.Connect(ctx, peer.AddrInfo{ID: a.ID(), Addrs: a.Host().Addrs()}); err != nil {
			t.Fatal(err)
		}
		st, err := h.NewStream(ctx, a.ID(), ProtocolPrefix+"/kad/1.0.0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Reset() })
		self := pb.RawPeerInfosToPBPeers([]peer.AddrInfo{{ID: h.ID(), Addrs: h.Addrs()}})
		return h.ID(), func(n int) {
			t.Helper()
			st.SetWriteDeadline(time.Now().Add(poll.Guard))
			for range n {
				var digest [32]byte
				rand.Read(digest[:])
				mh, err := multihash.Encode(digest[:], multihash.BLAKE3)
				if err != nil {
					t.Fatal(err)
				}
				m := pb.NewMessage(pb.Message_ADD_PROVIDER, mh, 0)
				m.ProviderPeers = self
				b, err := proto.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := st.Write(append(binary.AppendUvarint(nil, uint64(len(b))), b...)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	hostile, flood := sender()
	// About 200 bytes a record: 3000 records are ten times the budget.
	flood(3000)
	poll.Until(t, "the flood to be written (dropped records)", func() bool {
		_, dropped := a.records.usage()
		return dropped >= 2000
	})
	used, _ := a.records.usage()
	if used > budget {
		t.Fatalf("the DHT store holds %d bytes, over its budget of %d", used, budget)
	}
	if n := providerRecords(t, a, hostile); n == 0 || n*200 > budget/perPeerShare {
		t.Fatalf("the flooder has %d records stored", n)
	}

	// An honest peer announces a root; A stores the record. kad-dht writes
	// records in batches of 256, and A reads the two peers' streams
	// concurrently, so the flood goes on, a batch at a time, until a batch
	// that came after the honest record has pushed it out (one flood of 300
	// read before the record, on a loaded machine, left it waiting).
	honest, announce := sender()
	announce(1)
	poll.Until(t, "A to store the honest peer's provider record", func() bool {
		if providerRecords(t, a, honest) == 1 {
			return true
		}
		flood(256)
		return false
	})
}
