package ledger

import (
	"context"
	"fmt"
	"math/bits"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/ronhost/ronhost/internal/core/cid"
)

// openEpoch mirrors the open epoch's usage records in memory, so that Meter
// writes without reading and checks the totals against MaxMoney. It holds
// one entry per (manifest, server) metered in the epoch.
type openEpoch struct {
	start                   time.Time
	manifests               map[cid.CID]*openManifest
	requests, bytes, amount uint64
}

type openManifest struct {
	tld     string
	amount  uint64
	servers map[serverKey]*openServer
}

type openServer struct {
	key []byte // its usage key
	r   usageRecord
}

func newOpenEpoch(start time.Time) openEpoch {
	return openEpoch{start: start, manifests: map[cid.CID]*openManifest{}}
}

// add mirrors a record read from the database at Open.
func (o *openEpoch) add(m cid.CID, sk serverKey, r usageRecord, key []byte) error {
	om := o.manifests[m]
	if om == nil {
		om = &openManifest{tld: r.tld, servers: map[serverKey]*openServer{}}
		o.manifests[m] = om
	}
	var ok1, ok2, ok3, ok4 bool
	om.amount, ok1 = addMoney(om.amount, r.amount)
	o.amount, ok2 = addMoney(o.amount, r.amount)
	o.requests, ok3 = add64(o.requests, r.requests)
	o.bytes, ok4 = add64(o.bytes, r.bytes)
	if om.tld != r.tld || om.servers[sk] != nil || !ok1 || !ok2 || !ok3 || !ok4 {
		return fmt.Errorf("%w: usage of %s in the open epoch", ErrCorrupt, m)
	}
	om.servers[sk] = &openServer{key: append([]byte(nil), key...), r: r}
	return nil
}

// add64 is a+b and whether it did not wrap.
func add64(a, b uint64) (uint64, bool) {
	s, carry := bits.Add64(a, b, 0)
	return s, carry == 0
}

// addMoney is a+b and whether it is at most MaxMoney.
func addMoney(a, b uint64) (uint64, bool) {
	s, ok := add64(a, b)
	return s, ok && s <= MaxMoney
}

func checkAccess(a Access) error {
	if a.Manifest.IsZero() {
		return fmt.Errorf("%w: no manifest", ErrInvalid)
	}
	if err := cid.CheckTLD(a.TLD); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(a.Node) > MaxNameBytes || len(a.Payout) > MaxNameBytes {
		return fmt.Errorf("%w: node or payout longer than %d bytes", ErrInvalid, MaxNameBytes)
	}
	if a.Price > MaxMoney {
		return fmt.Errorf("%w: price %d", ErrOverflow, a.Price)
	}
	return nil
}

// Meter adds one access to the open epoch and returns the epoch's number.
// Usage is aggregated per (epoch, manifest, server); the manifest's amount is
// the sum of its accesses' prices (an access with Price 0 counts for usage
// and owes nothing). An access that would take the manifest's or the
// epoch's amount over MaxMoney fails with ErrOverflow and changes nothing.
//
// Meter appends the access to Pebble's write-ahead log as one record (the
// server's new aggregate) without waiting for an fsync (pebble.NoSync).
// Pebble keeps such records in its log buffer (up to a 32 KiB block) until
// the next sync, which comes within Options.SyncEvery (default 1 s), or at
// the next Seal, Settle or Close. A crash of the process or of the machine
// may therefore lose the accesses metered since the last sync, but never
// part of one, never one out of order, and never counts one twice: the log
// replays a prefix of whole records. Seal syncs, so a sealed epoch's usage
// is durable and final.
func (l *Ledger) Meter(ctx context.Context, a Access) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := checkAccess(a); err != nil {
		return 0, err
	}
	done, err := l.enter()
	if err != nil {
		return 0, err
	}
	defer done()
	l.mu.Lock()
	defer l.mu.Unlock()

	o := &l.open
	om := o.manifests[a.Manifest]
	sk := serverKey{node: a.Node, payout: a.Payout}
	var srv *openServer
	var mAmount uint64
	if om != nil {
		if om.tld != a.TLD {
			return 0, fmt.Errorf("%w: %s was metered under .%s, not .%s", ErrInvalid, a.Manifest, om.tld, a.TLD)
		}
		srv = om.servers[sk]
		mAmount = om.amount
	}
	var r usageRecord
	if srv != nil {
		r = srv.r
	}
	r.tld = a.TLD
	mAmount, ok1 := addMoney(mAmount, a.Price)
	eAmount, ok2 := addMoney(o.amount, a.Price)
	if !ok1 || !ok2 {
		return 0, fmt.Errorf("%w: metering %d more for %s in epoch %d", ErrOverflow, a.Price, a.Manifest, l.cur)
	}
	var ok3, ok4, ok5, ok6 bool
	r.requests, ok3 = add64(r.requests, 1)
	r.bytes, ok4 = add64(r.bytes, a.Bytes)
	r.amount += a.Price // at most mAmount
	eRequests, ok5 := add64(o.requests, 1)
	eBytes, ok6 := add64(o.bytes, a.Bytes)
	if !ok3 || !ok4 || !ok5 || !ok6 {
		return 0, fmt.Errorf("%w: usage counters of %s in epoch %d", ErrOverflow, a.Manifest, l.cur)
	}

	var key []byte
	if srv != nil {
		key = srv.key
	} else {
		l.key = appendUsageKey(l.key[:0], l.cur, a.Manifest, sk)
		key = l.key
	}
	l.val = r.appendTo(l.val[:0])
	if err := l.db.Set(key, l.val, pebble.NoSync); err != nil {
		return 0, fmt.Errorf("ledger: metering: %w", err)
	}

	if !l.dirty.Load() {
		l.dirty.Store(true)
	}
	// Committed: mirror it.
	if om == nil {
		om = &openManifest{tld: a.TLD, servers: map[serverKey]*openServer{}}
		o.manifests[a.Manifest] = om
	}
	if srv == nil {
		srv = &openServer{key: append([]byte(nil), key...)}
		om.servers[sk] = srv
	}
	srv.r = r
	om.amount = mAmount
	o.amount, o.requests, o.bytes = eAmount, eRequests, eBytes
	return l.cur, nil
}

// Seal closes the open epoch N and opens N+1, durably (one synced write,
// which also makes every access metered in N durable), and returns N. From
// then on Meter counts in N+1, so N's usage never changes and N can be
// settled.
func (l *Ledger) Seal(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	done, err := l.enter()
	if err != nil {
		return 0, err
	}
	defer done()
	l.mu.Lock()
	defer l.mu.Unlock()
	n, now := l.cur, l.now().UTC()
	o := &l.open
	b := l.db.NewBatch()
	defer b.Close()
	if len(o.manifests) > 0 {
		s := summary{start: o.start, end: now, manifests: uint64(len(o.manifests)),
			requests: o.requests, bytes: o.bytes, amount: o.amount}
		b.Set(summaryKey(n), s.encode(), nil)
	}
	b.Set(keyCurrent, encodeCurrent(n+1, now), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return 0, fmt.Errorf("ledger: sealing epoch %d: %w", n, err)
	}
	l.dirty.Store(false)
	l.log.Info("ledger: sealed an epoch", "epoch", n, "manifests", len(o.manifests), "requests", o.requests, "amount", o.amount)
	l.cur = n + 1
	l.open = newOpenEpoch(now)
	return n, nil
}

// current returns the open epoch's number.
func (l *Ledger) current() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur
}
