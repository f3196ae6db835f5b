package ledger

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ronhost/ronhost/internal/pebbledb"

	"github.com/ronhost/ronhost/internal/core/cid"
)

// Settle pays a sealed epoch: for each of its manifests not yet settled, in
// CID order, it asks s to split the manifest's amount, checks that the split
// conserves it, and commits in one synced batch the manifest's allocations
// (which mark it settled) and the credits to each payee's balance. A
// manifest is therefore settled entirely or not at all, whatever the moment
// of a crash, and settling again pays only the manifests not yet paid.
//
// A manifest whose amount is 0 is marked settled without calling s. A
// manifest whose split fails (an error from s, or allocations that do not
// sum exactly to the amount, an empty payee, an overflow) is left unsettled
// and reported in Settlement.Failed; the others proceed. The error is
// non-nil only when the settlement itself cannot go on (ErrOpenEpoch,
// ErrNoEpoch, ctx done, the database failing); the Settlement then reports
// what was done before.
func (l *Ledger) Settle(ctx context.Context, epoch uint64, s Splitter) (Settlement, error) {
	st := Settlement{Epoch: epoch, Failed: []Failure{}}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	done, err := l.enter()
	if err != nil {
		return st, err
	}
	defer done()
	l.settleMu.Lock()
	defer l.settleMu.Unlock()
	switch cur := l.current(); {
	case epoch == 0 || epoch > cur:
		return st, fmt.Errorf("%w: %d (the open epoch is %d)", ErrNoEpoch, epoch, cur)
	case epoch == cur:
		return st, fmt.Errorf("%w: %d", ErrOpenEpoch, epoch)
	}
	ms, err := usageOf(ctx, l.db, epoch)
	if err != nil {
		return st, err
	}
	st.Manifests = len(ms)
	if len(ms) == 0 {
		return st, nil
	}
	sum, err := readSummary(l.db, epoch)
	if err != nil {
		return st, err
	}
	ep := strconv.FormatUint(epoch, 10)

	// Manifests that owe nothing: marked settled together.
	zero := l.db.NewBatch()
	defer zero.Close()
	nzero := 0
	for _, m := range ms {
		switch {
		case m.Settled:
			st.AlreadySettled++
		case m.Amount == 0:
			zero.Set(allocKey(epoch, m.Manifest), encodeAllocations(nil), nil)
			nzero++
		}
	}
	if nzero > 0 {
		next := sum
		next.settled += uint64(nzero)
		zero.Set(summaryKey(epoch), next.encode(), nil)
		if err := zero.Commit(pebble.Sync); err != nil {
			return st, fmt.Errorf("ledger: settling epoch %d: %w", epoch, err)
		}
		sum = next
		st.Settled += nzero
	}

	for _, m := range ms {
		if m.Settled || m.Amount == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return st, err
		}
		allocs, err := s.Split(ctx, m.Manifest, m.TLD, ep, m.Amount, m.Usage)
		if err != nil && ctx.Err() != nil {
			return st, ctx.Err() // given up, not the manifest's fault
		}
		if err == nil {
			err = l.pay(epoch, m, allocs, &sum)
		}
		var dbErr *databaseError
		if errors.As(err, &dbErr) {
			return st, err
		}
		if err != nil {
			st.Failed = append(st.Failed, Failure{Manifest: m.Manifest, TLD: m.TLD, Error: err.Error()})
			l.log.Warn("ledger: a manifest could not be settled; it stays unpaid until a later settlement",
				"epoch", epoch, "manifest", m.Manifest.String(), "tld", m.TLD, "amount", m.Amount, "err", err)
			continue
		}
		st.Settled++
		st.Amount += m.Amount // at most the epoch's amount, itself at most MaxMoney
	}
	l.log.Info("ledger: settled an epoch", "epoch", epoch, "manifests", st.Manifests, "settled", st.Settled,
		"already_settled", st.AlreadySettled, "failed", len(st.Failed), "amount", st.Amount)
	return st, nil
}

// databaseError is a failure of the database during a settlement, which
// stops it (as opposed to a failure of one manifest's split).
type databaseError struct{ err error }

func (e *databaseError) Error() string { return e.err.Error() }
func (e *databaseError) Unwrap() error { return e.err }

// pay checks allocs against m's amount and commits them, the credits and
// the epoch's summary (updated in *sum on success) in one synced batch.
func (l *Ledger) pay(epoch uint64, m ManifestUsage, allocs []Allocation, sum *summary) error {
	credits, err := checkSplit(allocs, m.Amount)
	if err != nil {
		return err
	}
	b := l.db.NewBatch()
	defer b.Close()
	payees := make([]string, 0, len(credits))
	for p := range credits {
		payees = append(payees, p)
	}
	slices.Sort(payees)
	for _, p := range payees {
		if credits[p] == 0 {
			continue
		}
		have, err := l.balance(p)
		if err != nil {
			return &databaseError{err}
		}
		next, ok := addMoney(have, credits[p])
		if !ok {
			return fmt.Errorf("%w: the balance of %q (%d) cannot take %d more", ErrOverflow, p, have, credits[p])
		}
		b.Set(balanceKey(p), encodeBalance(next), nil)
	}
	next := *sum
	next.settled++
	next.paid += m.Amount
	b.Set(allocKey(epoch, m.Manifest), encodeAllocations(allocs), nil)
	b.Set(summaryKey(epoch), next.encode(), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		return &databaseError{fmt.Errorf("ledger: settling %s in epoch %d: %w", m.Manifest, epoch, err)}
	}
	*sum = next
	return nil
}

// checkSplit checks that allocs conserve amount exactly and returns the
// credit of each payee.
func checkSplit(allocs []Allocation, amount uint64) (map[string]uint64, error) {
	credits := make(map[string]uint64, len(allocs))
	var total uint64
	for i, a := range allocs {
		if a.Payee == "" {
			return nil, fmt.Errorf("%w: allocation %d has no payee", ErrConservation, i)
		}
		if len(a.Payee) > MaxNameBytes || len(a.Role) > MaxNameBytes {
			return nil, fmt.Errorf("%w: allocation %d: payee or role longer than %d bytes", ErrConservation, i, MaxNameBytes)
		}
		var ok bool
		if total, ok = addMoney(total, a.Amount); !ok {
			return nil, fmt.Errorf("%w: %w: the allocations add up past %d", ErrConservation, ErrOverflow, uint64(MaxMoney))
		}
		credits[a.Payee] += a.Amount // at most total
	}
	if total != amount {
		return nil, fmt.Errorf("%w: the allocations sum to %d, not the amount %d", ErrConservation, total, amount)
	}
	return credits, nil
}

func (l *Ledger) balance(payee string) (uint64, error) {
	v, err := l.get(balanceKey(payee))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	x, err := decodeBalance(v)
	if err != nil {
		return 0, fmt.Errorf("%w (payee %q)", err, payee)
	}
	return x, nil
}

func readSummary(r pebbledb.Reader, epoch uint64) (summary, error) {
	v, err := getFrom(r, summaryKey(epoch))
	if errors.Is(err, pebble.ErrNotFound) {
		return summary{}, fmt.Errorf("%w: epoch %d has usage but no summary", ErrCorrupt, epoch)
	}
	if err != nil {
		return summary{}, err
	}
	s, err := decodeSummary(v)
	if err != nil {
		return summary{}, fmt.Errorf("%w (epoch %d)", err, epoch)
	}
	return s, nil
}

// usageOf returns the usage of every manifest metered in epoch, in CID
// order, each with its servers in (node, payout) order and whether it is
// settled.
func usageOf(ctx context.Context, r pebbledb.Reader, epoch uint64) ([]ManifestUsage, error) {
	var ms []ManifestUsage
	err := scanUsage(ctx, r, epoch, func(m cid.CID, sk serverKey, u usageRecord, _ []byte) error {
		if len(ms) == 0 || ms[len(ms)-1].Manifest != m {
			ms = append(ms, ManifestUsage{Manifest: m, TLD: u.tld})
		}
		mu := &ms[len(ms)-1]
		var ok1, ok2, ok3 bool
		mu.Amount, ok1 = addMoney(mu.Amount, u.amount)
		mu.Usage.Requests, ok2 = add64(mu.Usage.Requests, u.requests)
		mu.Usage.Bytes, ok3 = add64(mu.Usage.Bytes, u.bytes)
		if mu.TLD != u.tld || !ok1 || !ok2 || !ok3 {
			return fmt.Errorf("%w: usage of %s in epoch %d", ErrCorrupt, m, epoch)
		}
		mu.Usage.Servers = append(mu.Usage.Servers, Server{Node: sk.node, Payout: sk.payout, Requests: u.requests, Bytes: u.bytes})
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range ms {
		slices.SortFunc(ms[i].Usage.Servers, func(a, b Server) int {
			return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.Payout, b.Payout))
		})
	}
	i := 0
	err = scan(ctx, r, epochPrefix(kAlloc, epoch), func(k, _ []byte) error {
		var m cid.CID
		if len(k) != 9+cid.Size {
			return fmt.Errorf("%w: allocations key %x", ErrCorrupt, k)
		}
		copy(m[:], k[9:])
		for i < len(ms) && cmpCID(ms[i].Manifest, m) < 0 {
			i++
		}
		if i == len(ms) || ms[i].Manifest != m {
			return fmt.Errorf("%w: %s is settled in epoch %d but has no usage", ErrCorrupt, m, epoch)
		}
		ms[i].Settled = true
		return nil
	})
	return ms, err
}

// scanUsage calls fn for every usage record of epoch, in key order.
func scanUsage(ctx context.Context, r pebbledb.Reader, epoch uint64, fn func(m cid.CID, sk serverKey, u usageRecord, key []byte) error) error {
	return scan(ctx, r, epochPrefix(kUsage, epoch), func(k, v []byte) error {
		_, m, sk, err := parseUsageKey(k)
		if err != nil {
			return err
		}
		u, err := decodeUsage(v)
		if err != nil {
			return fmt.Errorf("%w (epoch %d, %s)", err, epoch, m)
		}
		return fn(m, sk, u, k)
	})
}

func cmpCID(a, b cid.CID) int { return bytes.Compare(a[:], b[:]) }
