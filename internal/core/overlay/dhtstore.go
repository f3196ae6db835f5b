package overlay

import (
	"context"
	"encoding/base32"
	"strings"
	"sync"

	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The DHT's records.
//
// Any peer may send a DHT server ADD_PROVIDER (and PUT_VALUE) messages for
// any key, and kad-dht keeps what it is sent for 48 h in its datastore, by
// default a map in memory without a bound: one hostile peer sending records
// for random keys would grow the node's memory until it died. The DHT
// here runs on a dhtStore instead: an in-memory store holding at most
// budget bytes of records (Config.MaxMemory/4; each record counts its key,
// its value and recordOverhead), of which the provider records of one
// provider peer take at most budget/perPeerShare. A record over either
// bound is dropped without an error (kad-dht writes provider records in
// batches, and one failed write would hold back the others): the store
// stays full of what it holds until kad-dht's hourly sweep drops expired
// records. This node's own provider records are always kept.

const (
	// recordOverhead is what a record costs beyond its key and value bytes
	// (the map entry, the string and slice headers).
	recordOverhead = 96
	// perPeerShare: one provider peer's records take at most 1/perPeerShare
	// of the budget.
	perPeerShare = 8
	// providersPrefix is kad-dht's datastore prefix of provider records,
	// "/providers/<key>/<provider peer>" in unpadded base32.
	providersPrefix = "/providers/"
)

// dhtStore is the DHT's bounded datastore. Safe for concurrent use.
type dhtStore struct {
	self   string // this node's peer ID, as in provider keys
	budget int64

	mu      sync.Mutex
	m       *ds.MapDatastore
	used    int64
	perPeer map[string]int64 // bytes of provider records, by provider (no zero entries)
	dropped int64            // records dropped for the bounds
}

func newDHTStore(self peer.ID, budget int64) *dhtStore {
	return &dhtStore{
		self:    base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte(self)),
		budget:  budget,
		m:       ds.NewMapDatastore(),
		perPeer: map[string]int64{},
	}
}

// provider returns the provider peer of a provider record's key ("" for
// other records).
func provider(k ds.Key) string {
	s := k.String()
	if !strings.HasPrefix(s, providersPrefix) {
		return ""
	}
	return s[strings.LastIndexByte(s, '/')+1:]
}

func recordCost(k ds.Key, size int) int64 {
	return int64(len(k.String())+size) + recordOverhead
}

func (d *dhtStore) Put(ctx context.Context, k ds.Key, value []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var old int64
	if n, err := d.m.GetSize(ctx, k); err == nil {
		old = recordCost(k, n)
	}
	cost := recordCost(k, len(value))
	p := provider(k)
	if p != d.self && cost > old &&
		(d.used+cost-old > d.budget || p != "" && d.perPeer[p]+cost-old > d.budget/perPeerShare) {
		d.dropped++
		return nil
	}
	if err := d.m.Put(ctx, k, value); err != nil {
		return err
	}
	d.used += cost - old
	if p != "" {
		d.perPeer[p] += cost - old
	}
	return nil
}

func (d *dhtStore) Delete(ctx context.Context, k ds.Key) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, err := d.m.GetSize(ctx, k)
	if err != nil {
		return nil // deleting what is not there is no error
	}
	if err := d.m.Delete(ctx, k); err != nil {
		return err
	}
	cost := recordCost(k, n)
	d.used -= cost
	if p := provider(k); p != "" {
		if d.perPeer[p] -= cost; d.perPeer[p] <= 0 {
			delete(d.perPeer, p)
		}
	}
	return nil
}

func (d *dhtStore) Get(ctx context.Context, k ds.Key) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m.Get(ctx, k)
}

func (d *dhtStore) Has(ctx context.Context, k ds.Key) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m.Has(ctx, k)
}

func (d *dhtStore) GetSize(ctx context.Context, k ds.Key) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m.GetSize(ctx, k)
}

// Query answers from a copy the map store makes of what matches.
func (d *dhtStore) Query(ctx context.Context, q dsq.Query) (dsq.Results, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m.Query(ctx, q)
}

func (d *dhtStore) Sync(context.Context, ds.Key) error { return nil }

// Batch applies its writes through Put and Delete, so they are bounded and
// counted.
func (d *dhtStore) Batch(context.Context) (ds.Batch, error) { return ds.NewBasicBatch(d), nil }

func (d *dhtStore) Close() error { return nil }

// usage returns the bytes the records take, as counted, and how many
// records were dropped for the bounds.
func (d *dhtStore) usage() (used, dropped int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.used, d.dropped
}
