package ledger

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/ronhost/ronhost/internal/core/cid"
	"github.com/ronhost/ronhost/internal/poll"
)

// crasher takes crash clones of a crashable MemFS: the filesystem a power
// cut would leave (synced data plus a random share of unsynced blocks). Its
// injector, wrapped around the MemFS with errorfs, takes one before every
// write, sync, create, rename and remove while armed, so crashes land
// between any two I/O operations of Pebble's, including between a batch's
// log write and its fsync.
type crasher struct {
	mem   *vfs.MemFS
	armed atomic.Bool
	every int // take every n-th operation's clone (1 = all)

	mu     sync.Mutex
	rng    *rand.Rand
	ops    int
	clones []crashPoint
	note   func() any // what the test knew at the moment of the clone
}

type crashPoint struct {
	fs   *vfs.MemFS
	note any
}

func newCrasher(seed uint64) *crasher {
	return &crasher{mem: vfs.NewCrashableMem(), every: 1, rng: rand.New(rand.NewPCG(seed, seed))}
}

func (c *crasher) fs() vfs.FS {
	return errorfs.Wrap(c.mem, errorfs.InjectorFunc(func(op errorfs.Op) error {
		if !c.armed.Load() || op.Kind.ReadOrWrite() != errorfs.OpIsWrite {
			return nil
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.ops++; c.ops%c.every == 0 {
			c.cloneLocked()
		}
		return nil
	}))
}

// clone takes a crash clone now.
func (c *crasher) clone() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cloneLocked()
}

func (c *crasher) cloneLocked() {
	var note any
	if c.note != nil {
		note = c.note()
	}
	pct := []int{0, 0, 50, 100}[c.rng.IntN(4)]
	if pct == 50 {
		pct = c.rng.IntN(101)
	}
	fs := c.mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: pct, RNG: rand.New(rand.NewPCG(c.rng.Uint64(), 1))})
	c.clones = append(c.clones, crashPoint{fs, note})
}

// TestCrashDuringSettlement cuts the power at every I/O operation of a
// multi-manifest settlement, and before every split: each crash leaves each
// manifest settled (with exactly its credits) or not, never half; settling
// again after it pays the rest, exactly once; Audit passes throughout.
func TestCrashDuringSettlement(t *testing.T) {
	c := newCrasher(1)
	const dir = "/data/ledger"
	l, err := Open(bg, dir, Options{FS: c.fs()})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const n = 8
	amounts := fillEpoch(t, l, n)
	if _, err := l.Seal(bg); err != nil {
		t.Fatal(err)
	}
	// Some accesses of epoch 2 in flight too (unsynced).
	meter(t, l, Access{Manifest: man(50), TLD: "map", Price: 4, Node: "n", Payout: "p"})
	var total uint64
	for _, a := range amounts {
		total += a
	}
	full := expectedBalances(t, l, 1, func(cid.CID) bool { return true })

	c.armed.Store(true)
	st, err := l.Settle(bg, 1, SplitterFunc(func(_ context.Context, m cid.CID, tld, _ string, amount uint64, u Usage) ([]Allocation, error) {
		c.clone() // after the previous manifests' batches, before this one's
		return fairSplit(m, tld, amount, u), nil
	}))
	c.armed.Store(false)
	c.clone() // after the last batch
	if err != nil || st.Settled != n+1 || st.Amount != total {
		t.Fatalf("settlement: %+v, %v", st, err)
	}

	seen := map[int]bool{}
	for i, cp := range c.clones {
		settled := checkCrashedSettlement(t, fmt.Sprint("crash ", i), cp.fs, dir, amounts, full, total)
		seen[settled] = true
	}
	// Every number of settled manifests was seen, from none to all, among
	// the crash points (the free manifest is settled first, in a batch of
	// its own).
	for k := 0; k <= n+1; k++ {
		if !seen[k] {
			t.Errorf("no crash left exactly %d manifests settled (seen %v)", k, seen)
		}
	}
	t.Logf("%d simulated power cuts during a settlement of %d manifests checked", len(c.clones), n+1)
}

// checkCrashedSettlement opens the ledger a crash left, checks it, settles
// the rest and checks the totals; it returns how many manifests the crash
// had left settled.
func checkCrashedSettlement(t *testing.T, name string, fs vfs.FS, dir string, amounts map[cid.CID]uint64, full map[string]uint64, total uint64) int {
	t.Helper()
	l, err := Open(bg, dir, Options{FS: fs})
	if err != nil {
		t.Fatalf("%s: reopening: %v", name, err)
	}
	defer l.Close()
	if err := l.Audit(bg); err != nil {
		t.Fatalf("%s: audit: %v", name, err)
	}
	if cur := l.current(); cur != 2 {
		t.Fatalf("%s: open epoch %d after the crash, want 2", name, cur)
	}
	us, err := l.Usage(bg, 1)
	if err != nil || len(us) != len(amounts) {
		t.Fatalf("%s: the sealed epoch's usage: %d manifests, %v", name, len(us), err)
	}
	settled := map[cid.CID]bool{}
	for _, u := range us {
		if u.Amount != amounts[u.Manifest] {
			t.Fatalf("%s: %s metered %d, want %d", name, u.Manifest, u.Amount, amounts[u.Manifest])
		}
		settled[u.Manifest] = u.Settled
		as, err := l.Allocations(bg, 1, u.Manifest)
		if u.Settled != (err == nil) || u.Settled && u.Amount > 0 && !slices.Equal(as, fairSplit(u.Manifest, u.TLD, u.Amount, u.Usage)) ||
			u.Settled && u.Amount == 0 && len(as) != 0 {
			t.Fatalf("%s: %s settled=%v but its allocations: %v, %v", name, u.Manifest, u.Settled, as, err)
		}
	}
	// Settled in CID order (the free one first): a prefix.
	want := expectedBalances(t, l, 1, func(m cid.CID) bool { return settled[m] })
	if got := balances(t, l); !mapsEqual(got, want) {
		t.Fatalf("%s: balances %v, want the credits of the settled manifests %v", name, got, want)
	}
	var paid uint64
	k := 0
	for m, s := range settled {
		if s {
			paid += amounts[m]
			k++
		}
	}
	es, _ := l.Epochs(bg)
	if es[0].Epoch != 1 || es[0].Settled != k || es[0].Paid != paid {
		t.Fatalf("%s: epoch 1: %+v, want %d settled for %d", name, es[0], k, paid)
	}
	st, err := l.Settle(bg, 1, &counting{})
	if err != nil || st.AlreadySettled != k || st.Settled != len(amounts)-k || st.Amount != total-paid {
		t.Fatalf("%s: settling again: %+v, %v (%d were settled, %d paid)", name, st, err, k, paid)
	}
	if got := balances(t, l); !mapsEqual(got, full) {
		t.Fatalf("%s: after settling again, balances %v, want %v", name, got, full)
	}
	if err := l.Audit(bg); err != nil {
		t.Fatalf("%s: audit after settling again: %v", name, err)
	}
	return k
}

// meterNote is what the metering crash test knew at a crash: accesses
// acknowledged so far, and accesses made durable by a completed Seal.
type meterNote struct{ acked, durable int }

// TestCrashDuringMeterAndSeal cuts the power at I/O operations while
// accesses are metered (unsynced) and epochs sealed: the ledger a crash
// leaves holds exactly the first k accesses for some k (never part of one,
// never one twice, never one out of order), every access acknowledged
// before the last completed Seal, and the epoch number of the accesses it
// holds.
func TestCrashDuringMeterAndSeal(t *testing.T) {
	c := newCrasher(2)
	const dir = "/ledger"
	l, err := Open(bg, dir, Options{FS: c.fs(), SyncEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	type step struct {
		a    Access
		seal bool // seal after this access
	}
	var steps []step
	for i := 0; i < 400; i++ {
		steps = append(steps, step{
			a: Access{Manifest: man(rng.IntN(5)), Price: uint64(rng.IntN(4)), Node: fmt.Sprint("n", rng.IntN(2)),
				Payout: "p", Bytes: uint64(rng.IntN(1000))},
			seal: rng.IntN(40) == 0,
		})
		steps[i].a.TLD = "t" + steps[i].a.Manifest.Hex()[:4]
	}
	var acked, durable atomic.Int64
	c.note = func() any { return meterNote{int(acked.Load()), int(durable.Load())} }
	c.armed.Store(true)
	for i, s := range steps {
		meter(t, l, s.a)
		acked.Store(int64(i + 1))
		if s.seal {
			if _, err := l.Seal(bg); err != nil {
				t.Fatal(err)
			}
			durable.Store(int64(i + 1))
		}
		if rng.IntN(10) == 0 {
			c.clone() // between accesses, most of them unsynced
		}
	}
	c.armed.Store(false)
	// Close syncs: nothing acknowledged is lost after it.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	durable.Store(int64(len(steps)))
	c.clone()

	// replay is the ledger after the first k steps: usage per epoch and
	// manifest, as requests and amounts, and the open epoch.
	type key struct {
		epoch uint64
		m     cid.CID
		sk    serverKey
	}
	replay := func(k int) (map[key][3]uint64, uint64) {
		out, epoch := map[key][3]uint64{}, uint64(1)
		for _, s := range steps[:k] {
			kk := key{epoch, s.a.Manifest, serverKey{s.a.Node, s.a.Payout}}
			v := out[kk]
			out[kk] = [3]uint64{v[0] + 1, v[1] + s.a.Bytes, v[2] + s.a.Price}
			if s.seal {
				epoch++
			}
		}
		return out, epoch
	}
	lost := 0
	for i, cp := range c.clones {
		note := cp.note.(meterNote)
		l2, err := Open(bg, dir, Options{FS: cp.fs})
		if err != nil {
			t.Fatalf("crash %d: reopening: %v", i, err)
		}
		if err := l2.Audit(bg); err != nil {
			t.Fatalf("crash %d: audit: %v", i, err)
		}
		got, n := map[key][3]uint64{}, 0
		cur := l2.current()
		for e := uint64(1); e <= cur; e++ {
			us, err := l2.Usage(bg, e)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range us {
				for _, s := range u.Usage.Servers {
					var price uint64
					// the per-server amount is not exposed: recompute it from the database
					v, err := l2.get(appendUsageKey(nil, e, u.Manifest, serverKey{s.Node, s.Payout}))
					if err != nil {
						t.Fatal(err)
					}
					r, _ := decodeUsage(v)
					price = r.amount
					got[key{e, u.Manifest, serverKey{s.Node, s.Payout}}] = [3]uint64{s.Requests, s.Bytes, price}
					n += int(s.Requests)
				}
			}
		}
		l2.Close()
		if n < note.durable || n > note.acked+1 || n > len(steps) {
			t.Fatalf("crash %d: %d accesses survived; %d were durable (sealed), %d acknowledged", i, n, note.durable, note.acked)
		}
		want, wantCur := replay(n)
		if !equalUsage(got, want) || cur < wantCur || cur > wantCur+1 {
			t.Fatalf("crash %d: the surviving %d accesses (open epoch %d) are not the first %d (open epoch %d)", i, n, cur, n, wantCur)
		}
		// The open epoch is wantCur, or wantCur+1 if the crash kept a seal
		// that followed access n.
		if cur == wantCur+1 && (n == 0 || !steps[n-1].seal) {
			t.Fatalf("crash %d: epoch %d open after %d accesses", i, cur, n)
		}
		lost += max(note.acked-n, 0)
	}
	if len(c.clones) < 20 {
		t.Fatalf("only %d crash points", len(c.clones))
	}
	t.Logf("%d simulated power cuts while metering checked (%d acknowledged unsynced accesses lost in all)", len(c.clones), lost)
}

func equalUsage[K comparable](a, b map[K][3]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestSyncEveryBoundsTheLoss: an access metered with a sync interval
// survives a power cut once the interval has passed; without one, the same
// power cut loses it (so the check has teeth).
func TestSyncEveryBoundsTheLoss(t *testing.T) {
	for _, every := range []time.Duration{time.Millisecond, -1} {
		mem := vfs.NewCrashableMem()
		l, err := Open(bg, "/ledger", Options{FS: mem, SyncEvery: every})
		if err != nil {
			t.Fatal(err)
		}
		meter(t, l, Access{Manifest: man(1), TLD: "map", Price: 1, Node: "n", Payout: "p"})
		if every > 0 {
			poll.Until(t, "a sync", func() bool { return l.syncs.Load() > 0 })
		}
		crashed := mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 0})
		l.Close()
		l2, err := Open(bg, "/ledger", Options{FS: crashed})
		if err != nil {
			t.Fatal(err)
		}
		us, err := l2.Usage(bg, 1)
		l2.Close()
		if err != nil || (len(us) == 1) != (every > 0) {
			t.Fatalf("SyncEvery %v: after a power cut, usage %+v, %v", every, us, err)
		}
	}
}
