package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/ronhost/ronhost/internal/core/cid"
)

var bg = context.Background()

func openT(t testing.TB, fs vfs.FS, dir string) *Ledger {
	t.Helper()
	l, err := Open(bg, dir, Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// tb is what the helpers need of a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

func man(i int) cid.CID { return cid.Sum([]byte(fmt.Sprint("manifest ", i))) }

func meter(t tb, l *Ledger, a Access) uint64 {
	t.Helper()
	e, err := l.Meter(bg, a)
	if err != nil {
		t.Fatalf("Meter(%+v): %v", a, err)
	}
	return e
}

// fairSplit is a deterministic, conserving split: half the amount to the
// servers' payouts in proportion to their requests (rounded down), the rest
// to the TLD's creator.
func fairSplit(m cid.CID, tld string, amount uint64, u Usage) []Allocation {
	pool, given := amount/2, uint64(0)
	var servers []Allocation
	if u.Requests > 0 {
		for _, s := range u.Servers {
			hi, lo := bits.Mul64(pool, s.Requests)
			x, _ := bits.Div64(hi, lo, u.Requests)
			if x > 0 {
				servers = append(servers, Allocation{Payee: s.Payout, Role: "server", Amount: x})
				given += x
			}
		}
	}
	return append([]Allocation{{Payee: "creator-" + tld, Role: "creator", Amount: amount - given}}, servers...)
}

// counting is a Splitter with fairSplit that counts its calls.
type counting struct {
	mu    sync.Mutex
	calls map[cid.CID]int
}

func (c *counting) Split(_ context.Context, m cid.CID, tld, _ string, amount uint64, u Usage) ([]Allocation, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = map[cid.CID]int{}
	}
	c.calls[m]++
	return fairSplit(m, tld, amount, u), nil
}

func balances(t tb, l *Ledger) map[string]uint64 {
	t.Helper()
	bs, err := l.Balances(bg)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for i, b := range bs {
		if i > 0 && bs[i-1].Payee >= b.Payee {
			t.Fatalf("balances not sorted by payee: %v", bs)
		}
		out[b.Payee] = b.Amount
	}
	return out
}

func audit(t tb, l *Ledger) {
	t.Helper()
	if err := l.Audit(bg); err != nil {
		t.Fatalf("audit: %v", err)
	}
}

func TestMeterAggregatesByServer(t *testing.T) {
	l := openT(t, vfs.NewMem(), "/ledger")
	m1, m2 := man(1), man(2)
	for _, a := range []Access{
		{Manifest: m1, TLD: "map", Price: 5, Node: "nb", Payout: "pb", Bytes: 100},
		{Manifest: m1, TLD: "map", Price: 5, Node: "na", Payout: "pa", Bytes: 10},
		{Manifest: m1, TLD: "map", Price: 5, Node: "nb", Payout: "pb", Bytes: 200},
		{Manifest: m1, TLD: "map", Price: 7, Node: "na", Payout: "pa2", Bytes: 1},
		{Manifest: m2, TLD: "ai", Price: 0, Node: "na", Payout: "pa", Bytes: 50},
	} {
		if e := meter(t, l, a); e != 1 {
			t.Fatalf("metered in epoch %d, want 1", e)
		}
	}
	us, err := l.Usage(bg, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := map[cid.CID]ManifestUsage{
		m1: {Manifest: m1, TLD: "map", Amount: 22, Usage: Usage{Requests: 4, Bytes: 311, Servers: []Server{
			{Node: "na", Payout: "pa", Requests: 1, Bytes: 10},
			{Node: "na", Payout: "pa2", Requests: 1, Bytes: 1},
			{Node: "nb", Payout: "pb", Requests: 2, Bytes: 300},
		}}},
		m2: {Manifest: m2, TLD: "ai", Amount: 0, Usage: Usage{Requests: 1, Bytes: 50, Servers: []Server{
			{Node: "na", Payout: "pa", Requests: 1, Bytes: 50},
		}}},
	}
	if len(us) != 2 || cmpCID(us[0].Manifest, us[1].Manifest) >= 0 {
		t.Fatalf("usage: %+v", us)
	}
	for _, u := range us {
		w := want[u.Manifest]
		if u.TLD != w.TLD || u.Amount != w.Amount || u.Settled || u.Usage.Requests != w.Usage.Requests ||
			u.Usage.Bytes != w.Usage.Bytes || !slices.Equal(u.Usage.Servers, w.Usage.Servers) {
			t.Fatalf("usage of %s:\n got %+v\nwant %+v", u.Manifest, u, w)
		}
	}
	es, err := l.Epochs(bg)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || !es[0].Open || es[0].Sealed || es[0].Epoch != 1 || es[0].Manifests != 2 ||
		es[0].Requests != 5 || es[0].Bytes != 361 || es[0].Amount != 22 || es[0].Start.IsZero() {
		t.Fatalf("epochs: %+v", es)
	}
	audit(t, l)
}

func TestMeterRejects(t *testing.T) {
	l := openT(t, vfs.NewMem(), "/ledger")
	m := man(1)
	for _, c := range []struct {
		a    Access
		want error
	}{
		{Access{TLD: "map", Price: 1}, ErrInvalid},
		{Access{Manifest: m, TLD: "", Price: 1}, ErrInvalid},
		{Access{Manifest: m, TLD: "Map", Price: 1}, ErrInvalid},
		{Access{Manifest: m, TLD: "map", Node: strings.Repeat("n", MaxNameBytes+1)}, ErrInvalid},
		{Access{Manifest: m, TLD: "map", Price: MaxMoney + 1}, ErrOverflow},
	} {
		if _, err := l.Meter(bg, c.a); !errors.Is(err, c.want) || !strings.HasPrefix(err.Error(), "ledger: ") {
			t.Errorf("Meter(%+v) = %v, want %v", c.a, err, c.want)
		}
	}
	meter(t, l, Access{Manifest: m, TLD: "map", Price: MaxMoney - 1, Node: "n", Payout: "p"})
	meter(t, l, Access{Manifest: m, TLD: "map", Price: 1, Node: "n", Payout: "p"})
	// At MaxMoney: one more unit overflows the manifest (and the epoch).
	if _, err := l.Meter(bg, Access{Manifest: m, TLD: "map", Price: 1, Node: "n", Payout: "p"}); !errors.Is(err, ErrOverflow) {
		t.Fatalf("metering past MaxMoney: %v", err)
	}
	if _, err := l.Meter(bg, Access{Manifest: man(2), TLD: "map", Price: 1}); !errors.Is(err, ErrOverflow) {
		t.Fatalf("metering past MaxMoney in the epoch: %v", err)
	}
	// Free accesses still count.
	meter(t, l, Access{Manifest: m, TLD: "map", Price: 0, Node: "n", Payout: "p", Bytes: 3})
	if _, err := l.Meter(bg, Access{Manifest: m, TLD: "ai", Price: 0}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("the same manifest under another TLD: %v", err)
	}
	us, err := l.Usage(bg, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 1 || us[0].Amount != MaxMoney || us[0].Usage.Requests != 3 || us[0].Usage.Bytes != 3 {
		t.Fatalf("a refused access changed the usage: %+v", us)
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := l.Meter(ctx, Access{Manifest: m, TLD: "map"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	audit(t, l)
}

func TestSealMovesAccessesToTheNextEpoch(t *testing.T) {
	l := openT(t, vfs.NewMem(), "/ledger")
	a := Access{Manifest: man(1), TLD: "map", Price: 3, Node: "n", Payout: "p", Bytes: 1}
	meter(t, l, a)
	meter(t, l, a)
	if n, err := l.Seal(bg); err != nil || n != 1 {
		t.Fatalf("Seal = %d, %v", n, err)
	}
	if e := meter(t, l, a); e != 2 {
		t.Fatalf("metered in epoch %d after sealing 1", e)
	}
	meter(t, l, Access{Manifest: man(2), TLD: "ai", Price: 1})
	us, err := l.Usage(bg, 1)
	if err != nil || len(us) != 1 || us[0].Amount != 6 || us[0].Usage.Requests != 2 {
		t.Fatalf("sealed epoch 1 changed: %+v, %v", us, err)
	}
	us, err = l.Usage(bg, 2)
	if err != nil || len(us) != 2 {
		t.Fatalf("epoch 2: %+v, %v", us, err)
	}
	if _, err := l.Settle(bg, 2, &counting{}); !errors.Is(err, ErrOpenEpoch) {
		t.Fatalf("settling the open epoch: %v", err)
	}
	for _, e := range []uint64{0, 3} {
		if _, err := l.Settle(bg, e, &counting{}); !errors.Is(err, ErrNoEpoch) {
			t.Fatalf("settling epoch %d: %v", e, err)
		}
		if _, err := l.Usage(bg, e); !errors.Is(err, ErrNoEpoch) {
			t.Fatalf("usage of epoch %d: %v", e, err)
		}
	}
	// An epoch with no usage seals too, and is not listed.
	if n, err := l.Seal(bg); err != nil || n != 2 {
		t.Fatal(n, err)
	}
	if n, err := l.Seal(bg); err != nil || n != 3 {
		t.Fatal(n, err)
	}
	es, err := l.Epochs(bg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, fmt.Sprintf("%d open=%v sealed=%v m=%d a=%d", e.Epoch, e.Open, e.Sealed, e.Manifests, e.Amount))
	}
	if want := []string{"1 open=false sealed=true m=1 a=6", "2 open=false sealed=true m=2 a=4", "4 open=true sealed=false m=0 a=0"}; !slices.Equal(got, want) {
		t.Fatalf("epochs:\n%q\nwant\n%q", got, want)
	}
	if es[0].End.IsZero() || es[0].End.Before(es[0].Start) {
		t.Fatalf("epoch 1 times: %+v", es[0])
	}
	if st, err := l.Settle(bg, 3, &counting{}); err != nil || st.Manifests != 0 {
		t.Fatalf("settling an empty epoch: %+v, %v", st, err)
	}
	audit(t, l)
}

// fillEpoch meters n priced manifests (and one free one) in the open epoch
// and returns the manifests and their amounts.
func fillEpoch(t tb, l *Ledger, n int) map[cid.CID]uint64 {
	t.Helper()
	amounts := map[cid.CID]uint64{}
	for i := 0; i < n; i++ {
		m := man(i)
		for j := 0; j <= i%3; j++ {
			price := uint64(10*i + 7)
			meter(t, l, Access{Manifest: m, TLD: []string{"map", "ai"}[i%2], Price: price,
				Node: fmt.Sprint("node", j), Payout: fmt.Sprint("payout", j), Bytes: uint64(100 * j)})
			amounts[m] += price
		}
	}
	free := man(1000)
	meter(t, l, Access{Manifest: free, TLD: "mod", Price: 0, Node: "node0", Payout: "payout0", Bytes: 5})
	amounts[free] = 0
	return amounts
}

// expectedBalances is what fairSplit credits for the given manifests.
func expectedBalances(t tb, l *Ledger, epoch uint64, settled func(cid.CID) bool) map[string]uint64 {
	t.Helper()
	us, err := l.Usage(bg, epoch)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{}
	for _, u := range us {
		if !settled(u.Manifest) {
			continue
		}
		for _, a := range fairSplit(u.Manifest, u.TLD, u.Amount, u.Usage) {
			if a.Amount > 0 {
				want[a.Payee] += a.Amount
			}
		}
	}
	return want
}

func TestSettlePaysOnce(t *testing.T) {
	l := openT(t, vfs.NewMem(), "/ledger")
	amounts := fillEpoch(t, l, 6)
	var total uint64
	for _, a := range amounts {
		total += a
	}
	if _, err := l.Seal(bg); err != nil {
		t.Fatal(err)
	}
	sp := &counting{}
	st, err := l.Settle(bg, 1, sp)
	if err != nil {
		t.Fatal(err)
	}
	if st.Epoch != 1 || st.Manifests != 7 || st.Settled != 7 || st.AlreadySettled != 0 || st.Amount != total || len(st.Failed) != 0 {
		t.Fatalf("first settlement: %+v (total %d)", st, total)
	}
	if len(sp.calls) != 6 || sp.calls[man(1000)] != 0 {
		t.Fatalf("splitter calls: %v (the free manifest must not be split)", sp.calls)
	}
	want := expectedBalances(t, l, 1, func(cid.CID) bool { return true })
	if got := balances(t, l); !mapsEqual(got, want) {
		t.Fatalf("balances %v, want %v", got, want)
	}
	var sum uint64
	for _, x := range want {
		sum += x
	}
	if sum != total {
		t.Fatalf("balances sum to %d, the epoch's amount is %d", sum, total)
	}
	st, err = l.Settle(bg, 1, sp)
	if err != nil {
		t.Fatal(err)
	}
	if st.Settled != 0 || st.AlreadySettled != 7 || st.Amount != 0 || len(st.Failed) != 0 {
		t.Fatalf("second settlement: %+v", st)
	}
	for m, n := range sp.calls {
		if n != 1 {
			t.Fatalf("%s split %d times", m, n)
		}
	}
	if got := balances(t, l); !mapsEqual(got, want) {
		t.Fatalf("settling twice changed the balances: %v, want %v", got, want)
	}
	as, err := l.Allocations(bg, 1, man(4))
	us, _ := l.Usage(bg, 1)
	var u4 ManifestUsage
	for _, u := range us {
		if u.Manifest == man(4) {
			u4 = u
		}
		if !u.Settled {
			t.Fatalf("%s not marked settled", u.Manifest)
		}
	}
	if err != nil || !slices.Equal(as, fairSplit(man(4), u4.TLD, u4.Amount, u4.Usage)) {
		t.Fatalf("allocations of manifest 4: %v, %v", as, err)
	}
	if as, err := l.Allocations(bg, 1, man(1000)); err != nil || len(as) != 0 {
		t.Fatalf("allocations of the free manifest: %v, %v", as, err)
	}
	if _, err := l.Allocations(bg, 1, man(99)); !errors.Is(err, ErrNotSettled) {
		t.Fatalf("allocations of an unknown manifest: %v", err)
	}
	es, _ := l.Epochs(bg)
	if len(es) != 2 || es[0].Settled != 7 || es[0].Paid != total || es[0].Amount != total {
		t.Fatalf("epochs: %+v", es)
	}
	audit(t, l)
}

func mapsEqual(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestSettleFailuresLeaveManifestsUnsettled(t *testing.T) {
	l := openT(t, vfs.NewMem(), "/ledger")
	amounts := fillEpoch(t, l, 6)
	if _, err := l.Seal(bg); err != nil {
		t.Fatal(err)
	}
	faults := map[cid.CID]func(amount uint64, as []Allocation) ([]Allocation, error){
		man(0): func(uint64, []Allocation) ([]Allocation, error) {
			return nil, errors.New("plugins: .map: trap")
		},
		man(1): func(_ uint64, as []Allocation) ([]Allocation, error) { // one unit short
			as[0].Amount--
			return as, nil
		},
		man(2): func(_ uint64, as []Allocation) ([]Allocation, error) { // one unit extra
			return append(as, Allocation{Payee: "thief", Role: "creator", Amount: 1}), nil
		},
		man(3): func(_ uint64, as []Allocation) ([]Allocation, error) {
			as[0].Payee = ""
			return as, nil
		},
		man(4): func(amount uint64, _ []Allocation) ([]Allocation, error) { // wraps around 2^64 to the amount
			return []Allocation{{Payee: "x", Role: "creator", Amount: 1<<63 + amount}, {Payee: "y", Role: "creator", Amount: 1 << 63}}, nil
		},
	}
	bad := SplitterFunc(func(ctx context.Context, m cid.CID, tld, epoch string, amount uint64, u Usage) ([]Allocation, error) {
		if epoch != "1" {
			t.Errorf("epoch %q", epoch)
		}
		as := fairSplit(m, tld, amount, u)
		if f := faults[m]; f != nil {
			return f(amount, as)
		}
		return as, nil
	})
	st, err := l.Settle(bg, 1, bad)
	if err != nil {
		t.Fatal(err)
	}
	if st.Settled != 2 || st.AlreadySettled != 0 || st.Amount != amounts[man(5)] || len(st.Failed) != 5 {
		t.Fatalf("settlement with faults: %+v", st)
	}
	for i := 1; i < len(st.Failed); i++ {
		if cmpCID(st.Failed[i-1].Manifest, st.Failed[i].Manifest) >= 0 {
			t.Fatalf("failures not in CID order: %+v", st.Failed)
		}
	}
	for i, want := range []string{"trap", "sum to", "sum to", "no payee", "over the money limit"} {
		f := st.Failed[slices.IndexFunc(st.Failed, func(f Failure) bool { return f.Manifest == man(i) })]
		if f.TLD != []string{"map", "ai"}[i%2] || !strings.Contains(f.Error, want) {
			t.Fatalf("failure of manifest %d: %+v, want a message with %q", i, f, want)
		}
	}
	isGood := func(m cid.CID) bool { return m == man(5) }
	if got, want := balances(t, l), expectedBalances(t, l, 1, isGood); !mapsEqual(got, want) {
		t.Fatalf("balances %v, want only manifest 5's %v", got, want)
	}
	audit(t, l)
	// The failed ones are paid by a later settlement, once.
	st, err = l.Settle(bg, 1, &counting{})
	if err != nil || st.Settled != 5 || st.AlreadySettled != 2 || len(st.Failed) != 0 {
		t.Fatalf("retry: %+v, %v", st, err)
	}
	if got, want := balances(t, l), expectedBalances(t, l, 1, func(cid.CID) bool { return true }); !mapsEqual(got, want) {
		t.Fatalf("balances %v, want %v", got, want)
	}
	audit(t, l)
}

func TestSettleBalanceOverflowIsAFailure(t *testing.T) {
	l := openT(t, vfs.NewMem(), "/ledger")
	meter(t, l, Access{Manifest: man(1), TLD: "map", Price: MaxMoney, Node: "n", Payout: "p"})
	l.Seal(bg)
	meter(t, l, Access{Manifest: man(2), TLD: "map", Price: 1, Node: "n", Payout: "p"})
	l.Seal(bg)
	all := SplitterFunc(func(_ context.Context, _ cid.CID, _, _ string, amount uint64, _ Usage) ([]Allocation, error) {
		return []Allocation{{Payee: "rich", Role: "creator", Amount: amount}}, nil
	})
	if st, err := l.Settle(bg, 1, all); err != nil || st.Settled != 1 {
		t.Fatal(st, err)
	}
	st, err := l.Settle(bg, 2, all)
	if err != nil || st.Settled != 0 || len(st.Failed) != 1 || !strings.Contains(st.Failed[0].Error, "over the money limit") {
		t.Fatalf("crediting past MaxMoney: %+v, %v", st, err)
	}
	if got := balances(t, l); got["rich"] != MaxMoney || len(got) != 1 {
		t.Fatalf("balances: %v", got)
	}
	audit(t, l)
}

func TestSettleStopsWhenCancelled(t *testing.T) {
	l := openT(t, vfs.NewMem(), "/ledger")
	fillEpoch(t, l, 4)
	l.Seal(bg)
	ctx, cancel := context.WithCancel(bg)
	n := 0
	st, err := l.Settle(ctx, 1, SplitterFunc(func(ctx context.Context, m cid.CID, tld, _ string, amount uint64, u Usage) ([]Allocation, error) {
		if n++; n == 2 {
			cancel()
			return nil, ctx.Err()
		}
		return fairSplit(m, tld, amount, u), nil
	}))
	if !errors.Is(err, context.Canceled) || st.Settled != 2 || len(st.Failed) != 0 {
		t.Fatalf("cancelled settlement: %+v, %v (one paid manifest and the free one)", st, err)
	}
	st, err = l.Settle(bg, 1, &counting{})
	if err != nil || st.Settled != 3 || st.AlreadySettled != 2 {
		t.Fatalf("after cancel: %+v, %v", st, err)
	}
	audit(t, l)
}

func TestReopenKeepsEpochAndBalances(t *testing.T) {
	fs := vfs.NewMem()
	l, err := Open(bg, "/data/ledger", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	fillEpoch(t, l, 3)
	l.Seal(bg)
	if _, err := l.Settle(bg, 1, &counting{}); err != nil {
		t.Fatal(err)
	}
	meter(t, l, Access{Manifest: man(7), TLD: "alg", Price: 9, Node: "n", Payout: "p", Bytes: 4})
	wantBal := balances(t, l)
	wantEp, _ := l.Epochs(bg)
	wantUse, _ := l.Usage(bg, 2)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := l.Meter(bg, Access{Manifest: man(7), TLD: "alg"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Meter after Close: %v", err)
	}
	if _, err := l.Balances(bg); !errors.Is(err, ErrClosed) {
		t.Fatalf("Balances after Close: %v", err)
	}

	l = openT(t, fs, "/data/ledger")
	if got := balances(t, l); !mapsEqual(got, wantBal) {
		t.Fatalf("balances after reopen %v, want %v", got, wantBal)
	}
	gotEp, _ := l.Epochs(bg)
	if !slices.EqualFunc(gotEp, wantEp, func(a, b EpochInfo) bool {
		return a.Epoch == b.Epoch && a.Open == b.Open && a.Manifests == b.Manifests && a.Settled == b.Settled &&
			a.Amount == b.Amount && a.Paid == b.Paid && a.Start.Equal(b.Start) && a.End.Equal(b.End)
	}) {
		t.Fatalf("epochs after reopen:\n%+v\nwant\n%+v", gotEp, wantEp)
	}
	gotUse, _ := l.Usage(bg, 2)
	if len(gotUse) != 1 || len(wantUse) != 1 || gotUse[0].Amount != 9 || gotUse[0].Usage.Bytes != 4 {
		t.Fatalf("open epoch usage after reopen: %+v", gotUse)
	}
	if e := meter(t, l, Access{Manifest: man(7), TLD: "alg", Price: 1, Node: "n", Payout: "p"}); e != 2 {
		t.Fatalf("metered in epoch %d after reopen", e)
	}
	if n, _ := l.Seal(bg); n != 2 {
		t.Fatalf("sealed %d", n)
	}
	audit(t, l)
}

func TestCloseWaitsForSettlement(t *testing.T) {
	l, err := Open(bg, "/ledger", Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	fillEpoch(t, l, 3)
	l.Seal(bg)
	entered, release := make(chan struct{}), make(chan struct{})
	var st Settlement
	var serr error
	settled := make(chan struct{})
	go func() {
		defer close(settled)
		first := true
		st, serr = l.Settle(bg, 1, SplitterFunc(func(ctx context.Context, m cid.CID, tld, _ string, amount uint64, u Usage) ([]Allocation, error) {
			if first {
				first = false
				close(entered)
				<-release
			}
			return fairSplit(m, tld, amount, u), nil
		}))
	}()
	<-entered
	closed := make(chan error)
	go func() { closed <- l.Close() }()
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	// Settle's goroutine may still be returning; had Close not waited for
	// it, the settlement would have failed on the closed database.
	<-settled
	if serr != nil || st.Settled != 4 {
		t.Fatalf("settlement during Close: %+v, %v", st, serr)
	}
}

func TestConcurrentMeterAndSeal(t *testing.T) {
	l := openT(t, vfs.NewMem(), "/ledger")
	const workers, each = 4, 200
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := l.Meter(bg, Access{Manifest: man(i % 5), TLD: "map", Price: 2, Node: fmt.Sprint("n", w), Payout: "p", Bytes: 1}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < 5; i++ {
		if _, err := l.Seal(bg); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	es, _ := l.Epochs(bg)
	var req, amount uint64
	for _, e := range es {
		req += e.Requests
		amount += e.Amount
		if e.Sealed {
			if _, err := l.Settle(bg, e.Epoch, &counting{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if req != workers*each || amount != 2*workers*each {
		t.Fatalf("epochs count %d requests for %d, want %d", req, amount, workers*each)
	}
	audit(t, l)
}

func TestJSONNames(t *testing.T) {
	b, _ := json.Marshal(struct {
		U Usage
		A Allocation
		S Settlement
		E EpochInfo
		B Balance
		M ManifestUsage
	}{U: Usage{Servers: []Server{{}}}, S: Settlement{Failed: []Failure{{}}}, E: EpochInfo{Start: time.Unix(1, 0).UTC()}})
	got := string(b)
	for _, w := range []string{
		`"U":{"requests":0,"bytes":0,"servers":[{"node":"","payout":"","requests":0,"bytes":0}]}`,
		`"A":{"payee":"","role":"","amount":0}`,
		`"S":{"epoch":0,"manifests":0,"settled":0,"already_settled":0,"amount":0,"failed":[{"manifest":"b3:00`,
		`"tld":"","error":""}]}`,
		`"E":{"epoch":0,"open":false,"sealed":false,"start":"1970-01-01T00:00:01Z","manifests":0,"settled":0,"requests":0,"bytes":0,"amount":0,"paid":0}`,
		`"B":{"payee":"","amount":0}`,
		`"M":{"manifest":"b3:00`, `"tld":"","amount":0,"usage":{"requests":0,"bytes":0,"servers":null},"settled":false}`,
	} {
		if !strings.Contains(got, w) {
			t.Errorf("JSON %s\nlacks %s", got, w)
		}
	}
}

func TestAuditCatchesTampering(t *testing.T) {
	l := openT(t, vfs.NewMem(), "/ledger")
	fillEpoch(t, l, 3)
	l.Seal(bg)
	if _, err := l.Settle(bg, 1, &counting{}); err != nil {
		t.Fatal(err)
	}
	audit(t, l)
	// A credit with no allocation behind it.
	if err := l.db.Set(balanceKey("creator-map"), encodeBalance(balances(t, l)["creator-map"]+1), nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Audit(bg); !errors.Is(err, ErrConservation) {
		t.Fatalf("audit of a forged credit: %v", err)
	}
	l.db.Set(balanceKey("creator-map"), encodeBalance(balances(t, l)["creator-map"]-1), nil)
	audit(t, l)
	// An allocation record that does not sum to the amount.
	l.db.Set(allocKey(1, man(1)), encodeAllocations([]Allocation{{Payee: "x", Role: "r", Amount: 1}}), nil)
	if err := l.Audit(bg); !errors.Is(err, ErrConservation) {
		t.Fatalf("audit of a bad allocation record: %v", err)
	}
}

func TestSecondOpenFails(t *testing.T) {
	dir := t.TempDir()
	openT(t, nil, dir)
	if l, err := Open(bg, dir, Options{}); err == nil {
		l.Close()
		t.Fatal("a second Open of the same directory succeeded")
	} else if !strings.HasPrefix(err.Error(), "ledger: ") {
		t.Fatalf("error without the package prefix: %v", err)
	}
}
