package ledger

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ronhost/ronhost/internal/pebbledb"

	"github.com/ronhost/ronhost/internal/core/cid"
)

// Balances returns every payee's balance, sorted by payee. Payees are
// listed once they have been credited more than 0.
func (l *Ledger) Balances(ctx context.Context) ([]Balance, error) {
	done, err := l.enter()
	if err != nil {
		return nil, err
	}
	defer done()
	out := []Balance{}
	err = scan(ctx, l.db, []byte{kBalance}, func(k, v []byte) error {
		x, err := decodeBalance(v)
		if err != nil {
			return fmt.Errorf("%w (payee %q)", err, k[1:])
		}
		out = append(out, Balance{Payee: string(k[1:]), Amount: x})
		return nil
	})
	return out, err
}

// Epochs returns the sealed epochs that have usage, oldest first, then the
// open epoch (always listed, even with no usage yet).
func (l *Ledger) Epochs(ctx context.Context) ([]EpochInfo, error) {
	done, err := l.enter()
	if err != nil {
		return nil, err
	}
	defer done()
	l.mu.Lock()
	o := l.open
	open := EpochInfo{Epoch: l.cur, Open: true, Start: o.start, Manifests: len(o.manifests),
		Requests: o.requests, Bytes: o.bytes, Amount: o.amount}
	l.mu.Unlock()
	out := []EpochInfo{}
	err = scan(ctx, l.db, []byte{kSummary}, func(k, v []byte) error {
		if len(k) != 9 {
			return fmt.Errorf("%w: epoch summary key %x", ErrCorrupt, k)
		}
		e := binary.BigEndian.Uint64(k[1:])
		if e >= open.Epoch {
			return nil // sealed after we looked at the open epoch
		}
		s, err := decodeSummary(v)
		if err != nil {
			return fmt.Errorf("%w (epoch %d)", err, e)
		}
		out = append(out, EpochInfo{Epoch: e, Sealed: true, Start: s.start, End: s.end,
			Manifests: int(s.manifests), Settled: int(s.settled), Requests: s.requests, Bytes: s.bytes,
			Amount: s.amount, Paid: s.paid})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return append(out, open), nil
}

// Usage returns the usage of every manifest metered in epoch (sealed or
// open), in CID order.
func (l *Ledger) Usage(ctx context.Context, epoch uint64) ([]ManifestUsage, error) {
	done, err := l.enter()
	if err != nil {
		return nil, err
	}
	defer done()
	if cur := l.current(); epoch == 0 || epoch > cur {
		return nil, fmt.Errorf("%w: %d (the open epoch is %d)", ErrNoEpoch, epoch, cur)
	}
	ms, err := usageOf(ctx, l.db, epoch)
	if ms == nil {
		ms = []ManifestUsage{}
	}
	return ms, err
}

// Allocations returns how a settled manifest's amount was split in epoch
// (empty for a manifest that owed nothing). It fails with ErrNotSettled if
// the manifest is not settled in that epoch.
func (l *Ledger) Allocations(ctx context.Context, epoch uint64, manifest cid.CID) ([]Allocation, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	done, err := l.enter()
	if err != nil {
		return nil, err
	}
	defer done()
	if cur := l.current(); epoch == 0 || epoch > cur {
		return nil, fmt.Errorf("%w: %d (the open epoch is %d)", ErrNoEpoch, epoch, cur)
	}
	v, err := l.get(allocKey(epoch, manifest))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s in epoch %d", ErrNotSettled, manifest, epoch)
	}
	if err != nil {
		return nil, err
	}
	as, err := decodeAllocations(v)
	if err != nil {
		return nil, fmt.Errorf("%w (%s in epoch %d)", err, manifest, epoch)
	}
	return as, nil
}

// Audit checks the ledger's invariants on a consistent snapshot: every
// settled manifest's allocations sum exactly to its metered amount; every
// payee's balance is exactly the sum of its allocations over all settled
// manifests (so the sum of the balances is the sum of everything settled);
// each sealed epoch's summary agrees with its usage and settlements; the
// open epoch's usage in memory agrees with the database. A money mismatch
// wraps ErrConservation, a structural one ErrCorrupt. It reads the whole
// ledger.
func (l *Ledger) Audit(ctx context.Context) error {
	done, err := l.enter()
	if err != nil {
		return err
	}
	defer done()
	l.mu.Lock()
	snap, err := l.db.NewSnapshot()
	if err != nil {
		l.mu.Unlock()
		return fmt.Errorf("ledger: database: %w", err)
	}
	cur := l.cur
	open := map[cid.CID]map[serverKey]usageRecord{}
	for m, om := range l.open.manifests {
		open[m] = map[serverKey]usageRecord{}
		for sk, s := range om.servers {
			open[m][sk] = s.r
		}
	}
	l.mu.Unlock()
	defer snap.Close()

	a := auditor{snap: snap, cur: cur, open: open, credited: map[string]uint64{}, seen: map[uint64]bool{}}
	return a.run(ctx)
}

type manifestTotals struct {
	tld                     string
	amount, requests, bytes uint64
	servers                 map[serverKey]usageRecord
}

type auditor struct {
	snap     *pebbledb.Snapshot
	cur      uint64
	open     map[cid.CID]map[serverKey]usageRecord
	credited map[string]uint64 // per payee, from the allocations
	seen     map[uint64]bool   // epochs with usage
	allocs   int               // allocation records checked
	total    [2]uint64         // sum of all allocations, 128 bits (hi, lo)
}

func (a *auditor) run(ctx context.Context) error {
	var epoch uint64
	var group map[cid.CID]*manifestTotals
	err := scan(ctx, a.snap, []byte{kUsage}, func(k, v []byte) error {
		e, m, sk, err := parseUsageKey(k)
		if err != nil {
			return err
		}
		u, err := decodeUsage(v)
		if err != nil {
			return fmt.Errorf("%w (epoch %d, %s)", err, e, m)
		}
		if group != nil && e != epoch {
			if err := a.epoch(ctx, epoch, group); err != nil {
				return err
			}
			group = nil
		}
		if group == nil {
			epoch, group = e, map[cid.CID]*manifestTotals{}
		}
		t := group[m]
		if t == nil {
			t = &manifestTotals{tld: u.tld, servers: map[serverKey]usageRecord{}}
			group[m] = t
		}
		var ok1, ok2, ok3 bool
		t.amount, ok1 = addMoney(t.amount, u.amount)
		t.requests, ok2 = add64(t.requests, u.requests)
		t.bytes, ok3 = add64(t.bytes, u.bytes)
		if t.tld != u.tld || !ok1 || !ok2 || !ok3 || u.amount > MaxMoney {
			return fmt.Errorf("%w: usage of %s in epoch %d", ErrCorrupt, m, e)
		}
		t.servers[sk] = u
		return nil
	})
	if err != nil {
		return err
	}
	if group != nil {
		if err := a.epoch(ctx, epoch, group); err != nil {
			return err
		}
	}
	if !a.seen[a.cur] && len(a.open) != 0 {
		return fmt.Errorf("%w: the open epoch %d has usage in memory, none in the database", ErrCorrupt, a.cur)
	}
	// Summaries and allocations only exist for epochs with usage.
	if err := scan(ctx, a.snap, []byte{kSummary}, func(k, _ []byte) error {
		if len(k) != 9 || !a.seen[binary.BigEndian.Uint64(k[1:])] {
			return fmt.Errorf("%w: epoch summary %x without usage", ErrCorrupt, k)
		}
		return nil
	}); err != nil {
		return err
	}
	n := 0
	if err := scan(ctx, a.snap, []byte{kAlloc}, func(_, _ []byte) error { n++; return nil }); err != nil {
		return err
	}
	if n != a.allocs {
		return fmt.Errorf("%w: %d allocation records, %d of them for manifests with usage", ErrCorrupt, n, a.allocs)
	}
	// Balances: each exactly what its allocations credited.
	var sum [2]uint64
	if err := scan(ctx, a.snap, []byte{kBalance}, func(k, v []byte) error {
		x, err := decodeBalance(v)
		if err != nil {
			return fmt.Errorf("%w (payee %q)", err, k[1:])
		}
		p := string(k[1:])
		if want := a.credited[p]; x != want {
			return fmt.Errorf("%w: %q has a balance of %d, its allocations credit %d", ErrConservation, p, x, want)
		}
		delete(a.credited, p)
		add128(&sum, x)
		return nil
	}); err != nil {
		return err
	}
	for p, x := range a.credited {
		if x != 0 {
			return fmt.Errorf("%w: %q was allocated %d and has no balance", ErrConservation, p, x)
		}
	}
	if sum != a.total {
		return fmt.Errorf("%w: the balances sum to %v, the allocations to %v", ErrConservation, sum, a.total)
	}
	return nil
}

// epoch checks one epoch's usage against its summary (or, for the open
// epoch, the memory mirror) and its settlements against its usage.
func (a *auditor) epoch(ctx context.Context, epoch uint64, group map[cid.CID]*manifestTotals) error {
	a.seen[epoch] = true
	if epoch > a.cur {
		return fmt.Errorf("%w: usage in epoch %d, after the open epoch %d", ErrCorrupt, epoch, a.cur)
	}
	var settled, paid uint64
	err := scan(ctx, a.snap, epochPrefix(kAlloc, epoch), func(k, v []byte) error {
		var m cid.CID
		copy(m[:], k[9:])
		t := group[m]
		if len(k) != 9+cid.Size || t == nil {
			return fmt.Errorf("%w: allocations %x without usage", ErrCorrupt, k)
		}
		as, err := decodeAllocations(v)
		if err != nil {
			return fmt.Errorf("%w (%s in epoch %d)", err, m, epoch)
		}
		credits, err := checkSplit(as, t.amount)
		if err != nil {
			return fmt.Errorf("%w (the settled allocations of %s in epoch %d)", err, m, epoch)
		}
		for p, x := range credits {
			a.credited[p] += x // each balance is checked against MaxMoney when credited
		}
		add128(&a.total, t.amount)
		a.allocs++
		settled++
		paid += t.amount
		return nil
	})
	if err != nil {
		return err
	}
	var amount, requests, bytes uint64
	for _, t := range group {
		amount += t.amount
		requests += t.requests
		bytes += t.bytes
	}
	if epoch == a.cur {
		if settled != 0 {
			return fmt.Errorf("%w: the open epoch %d has settled manifests", ErrCorrupt, epoch)
		}
		if len(group) != len(a.open) {
			return fmt.Errorf("%w: the open epoch has %d manifests in memory, %d in the database", ErrCorrupt, len(a.open), len(group))
		}
		for m, t := range group {
			om := a.open[m]
			if len(om) != len(t.servers) {
				return fmt.Errorf("%w: open usage of %s differs in memory", ErrCorrupt, m)
			}
			for sk, u := range t.servers {
				if om[sk] != u {
					return fmt.Errorf("%w: open usage of %s differs in memory", ErrCorrupt, m)
				}
			}
		}
		return nil
	}
	s, err := readSummary(a.snap, epoch)
	if err != nil {
		return err
	}
	if s.manifests != uint64(len(group)) || s.amount != amount || s.requests != requests || s.bytes != bytes {
		return fmt.Errorf("%w: epoch %d's summary (%d manifests, %d) disagrees with its usage (%d, %d)",
			ErrCorrupt, epoch, s.manifests, s.amount, len(group), amount)
	}
	if s.settled != settled || s.paid != paid {
		return fmt.Errorf("%w: epoch %d's summary says %d settled for %d, its allocations %d for %d",
			ErrConservation, epoch, s.settled, s.paid, settled, paid)
	}
	return nil
}

func add128(x *[2]uint64, v uint64) {
	var c uint64
	x[1], c = bits.Add64(x[1], v, 0)
	x[0] += c
}
