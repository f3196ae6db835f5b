package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"pgregory.net/rapid"

	"github.com/ronhost/ronhost/internal/core/cid"
)

// model is what the ledger must hold, computed without it.
type model struct {
	cur      uint64
	usage    map[uint64]map[cid.CID]*modelManifest
	settled  map[uint64]map[cid.CID]bool
	balances map[string]uint64
	paid     uint64 // sum of the amounts of settled manifests
}

type modelManifest struct {
	tld     string
	amount  uint64
	servers map[serverKey][2]uint64 // requests, bytes
}

func (m *model) epochAmount(e uint64) uint64 {
	var a uint64
	for _, mm := range m.usage[e] {
		a += mm.amount
	}
	return a
}

// asUsage is the Usage the ledger hands the splitter, built from the model.
func (mm *modelManifest) asUsage() Usage {
	var u Usage
	for sk, c := range mm.servers {
		u.Requests += c[0]
		u.Bytes += c[1]
		u.Servers = append(u.Servers, Server{Node: sk.node, Payout: sk.payout, Requests: c[0], Bytes: c[1]})
	}
	return u
}

// Fault modes of the property test's splitter.
const (
	splitOK = iota
	splitError
	splitShort
	splitNoPayee
	splitModes
)

// TestPropertyExactlyOnce drives random accesses, seals, settlements with
// randomly faulty splitters and reopenings against a model: balances always
// equal the allocations of exactly the settled manifests, each paid once,
// and Audit passes after every step.
func TestPropertyExactlyOnce(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		fs := vfs.NewMem()
		l, err := Open(bg, "/ledger", Options{FS: fs})
		if err != nil {
			rt.Fatal(err)
		}
		defer func() { l.Close() }()
		md := &model{cur: 1, usage: map[uint64]map[cid.CID]*modelManifest{}, settled: map[uint64]map[cid.CID]bool{},
			balances: map[string]uint64{}}
		tlds := []string{"map", "ai", "mod"}

		rt.Repeat(map[string]func(*rapid.T){
			"meter": func(rt *rapid.T) {
				i := rapid.IntRange(0, 5).Draw(rt, "manifest")
				m := man(i)
				price := rapid.OneOf(rapid.Just(uint64(0)), rapid.Uint64Range(1, 1000), rapid.Uint64Range(MaxMoney/3, MaxMoney)).Draw(rt, "price")
				s := rapid.IntRange(0, 2).Draw(rt, "server")
				a := Access{Manifest: m, TLD: tlds[i%3], Price: price, Node: fmt.Sprint("n", s), Payout: fmt.Sprint("p", s%2), Bytes: uint64(rapid.IntRange(0, 1<<20).Draw(rt, "bytes"))}
				e, err := l.Meter(bg, a)
				eu := md.usage[md.cur]
				var mAmount uint64
				if eu[m] != nil {
					mAmount = eu[m].amount
				}
				if mAmount+price > MaxMoney || md.epochAmount(md.cur)+price > MaxMoney {
					if !errors.Is(err, ErrOverflow) {
						rt.Fatalf("metering %d over the limit: %v", price, err)
					}
					return
				}
				if err != nil || e != md.cur {
					rt.Fatalf("Meter = %d, %v (open epoch %d)", e, err, md.cur)
				}
				if eu == nil {
					eu = map[cid.CID]*modelManifest{}
					md.usage[md.cur] = eu
				}
				if eu[m] == nil {
					eu[m] = &modelManifest{tld: a.TLD, servers: map[serverKey][2]uint64{}}
				}
				eu[m].amount += price
				sk := serverKey{a.Node, a.Payout}
				c := eu[m].servers[sk]
				eu[m].servers[sk] = [2]uint64{c[0] + 1, c[1] + a.Bytes}
			},
			"seal": func(rt *rapid.T) {
				n, err := l.Seal(bg)
				if err != nil || n != md.cur {
					rt.Fatalf("Seal = %d, %v (open epoch %d)", n, err, md.cur)
				}
				md.cur++
			},
			"settle": func(rt *rapid.T) {
				e := rapid.Uint64Range(1, md.cur).Draw(rt, "epoch")
				modes := map[cid.CID]int{}
				for i := 0; i < 6; i++ {
					modes[man(i)] = rapid.IntRange(0, splitModes-1).Draw(rt, fmt.Sprint("mode", i))
				}
				calls := map[cid.CID]int{}
				sp := SplitterFunc(func(_ context.Context, m cid.CID, tld, _ string, amount uint64, u Usage) ([]Allocation, error) {
					calls[m]++
					as := fairSplit(m, tld, amount, u)
					switch modes[m] {
					case splitError:
						return nil, errors.New("plugin fault")
					case splitShort:
						as[0].Amount--
					case splitNoPayee:
						as[0].Payee = ""
					}
					return as, nil
				})
				st, err := l.Settle(bg, e, sp)
				if e == md.cur {
					if !errors.Is(err, ErrOpenEpoch) {
						rt.Fatalf("settling the open epoch: %v", err)
					}
					return
				}
				if err != nil {
					rt.Fatal(err)
				}
				if md.settled[e] == nil {
					md.settled[e] = map[cid.CID]bool{}
				}
				want := Settlement{Epoch: e, Manifests: len(md.usage[e])}
				failed := map[cid.CID]bool{}
				wantCalls := 0
				// The ledger settles the free manifests first, then the
				// others in CID order: model the balance checks in that order.
				for _, free := range []bool{true, false} {
					for _, i := range cidOrder(md.usage[e]) {
						mm := md.usage[e][i]
						if (mm.amount == 0) != free {
							continue
						}
						if md.settled[e][i] {
							want.AlreadySettled++
							continue
						}
						if mm.amount == 0 {
							want.Settled++
							md.settled[e][i] = true
							continue
						}
						wantCalls++
						if calls[i] != 1 {
							rt.Fatalf("%s split %d times", i, calls[i])
						}
						if modes[i] != splitOK {
							failed[i] = true
							continue
						}
						credits := map[string]uint64{}
						for _, a := range fairSplit(i, mm.tld, mm.amount, mm.asUsage()) {
							credits[a.Payee] += a.Amount
						}
						over := false
						for p, x := range credits {
							if md.balances[p]+x > MaxMoney {
								over = true
							}
						}
						if over {
							failed[i] = true
							continue
						}
						for p, x := range credits {
							if x > 0 {
								md.balances[p] += x
							}
						}
						md.settled[e][i] = true
						md.paid += mm.amount
						want.Settled++
						want.Amount += mm.amount
					}
				}
				if st.Epoch != want.Epoch || st.Manifests != want.Manifests || st.Settled != want.Settled ||
					st.AlreadySettled != want.AlreadySettled || st.Amount != want.Amount || len(st.Failed) != len(failed) {
					rt.Fatalf("settlement %+v, want %+v with %d failed", st, want, len(failed))
				}
				for _, f := range st.Failed {
					if !failed[f.Manifest] {
						rt.Fatalf("%s failed: %s", f.Manifest, f.Error)
					}
				}
				if len(calls) != wantCalls {
					rt.Fatalf("%d manifests split, want %d", len(calls), wantCalls)
				}
			},
			"reopen": func(rt *rapid.T) {
				if err := l.Close(); err != nil {
					rt.Fatal(err)
				}
				if l, err = Open(bg, "/ledger", Options{FS: fs}); err != nil {
					rt.Fatal(err)
				}
			},
			"": func(rt *rapid.T) { // the invariants, after every step
				if err := l.Audit(bg); err != nil {
					rt.Fatal(err)
				}
				got := balances(rt, l)
				want := map[string]uint64{}
				var sum uint64
				for p, x := range md.balances {
					if x > 0 {
						want[p] = x
					}
				}
				for _, x := range got {
					sum += x
				}
				if !mapsEqual(got, want) || sum != md.paid {
					rt.Fatalf("balances %v (sum %d), want %v (paid %d)", got, sum, want, md.paid)
				}
				es, err := l.Epochs(bg)
				if err != nil {
					rt.Fatal(err)
				}
				listed := 0
				for _, ei := range es {
					if ei.Open != (ei.Epoch == md.cur) || ei.Sealed == ei.Open {
						rt.Fatalf("epoch %+v, open epoch %d", ei, md.cur)
					}
					var paid uint64
					for m := range md.settled[ei.Epoch] {
						paid += md.usage[ei.Epoch][m].amount
					}
					if ei.Manifests != len(md.usage[ei.Epoch]) || ei.Amount != md.epochAmount(ei.Epoch) ||
						ei.Settled != len(md.settled[ei.Epoch]) || ei.Paid != paid {
						rt.Fatalf("epoch %+v: model has %d manifests, amount %d, %d settled for %d", ei,
							len(md.usage[ei.Epoch]), md.epochAmount(ei.Epoch), len(md.settled[ei.Epoch]), paid)
					}
					listed++
				}
				withUsage := 0
				for e, u := range md.usage {
					if len(u) > 0 && e != md.cur {
						withUsage++
					}
				}
				if listed != withUsage+1 {
					rt.Fatalf("%d epochs listed, model has %d sealed with usage", listed, withUsage)
				}
			},
		})
	})
}

func cidOrder[V any](m map[cid.CID]V) []cid.CID {
	out := make([]cid.CID, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.SortFunc(out, cmpCID)
	return out
}
