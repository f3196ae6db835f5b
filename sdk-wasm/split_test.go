package ron

import (
	"errors"
	"fmt"
	"math/big"
	"math/rand"
	"testing"
	"testing/quick"
)

var edgeAmounts = []uint64{0, 1, 2, 3, 7, 9973, 10000, 10007, 1000003, 4294967311, MaxAmount - 1, MaxAmount, 1<<64 - 1}

func sumOf(t *testing.T, as []Allocation) uint64 {
	t.Helper()
	s, overflow := Sum(as)
	if overflow {
		t.Fatalf("allocations overflow: %v", as)
	}
	return s
}

// floorShare is floor(amount*w/total) with math/big, the reference.
func floorShare(amount, w, total uint64) uint64 {
	p := new(big.Int).Mul(new(big.Int).SetUint64(amount), new(big.Int).SetUint64(w))
	return p.Quo(p, new(big.Int).SetUint64(total)).Uint64()
}

func TestPortionExact(t *testing.T) {
	for _, a := range edgeAmounts {
		for _, bps := range []uint64{0, 1, 2, 3333, 5000, 6667, 9999, 10000} {
			if got, want := Portion(a, bps), floorShare(a, bps, TotalBPS); got != want {
				t.Fatalf("Portion(%d, %d) = %d, want %d", a, bps, got, want)
			}
		}
	}
	if Portion(MaxAmount, 20000) != MaxAmount {
		t.Fatal("bps over 10000 must cap at the whole amount")
	}
}

func TestSplitBPSEdges(t *testing.T) {
	shares := []Share{{"carol", "author", 3333}, {"alice", "author", 3333}, {"bob", "author", 3334}}
	for _, a := range edgeAmounts {
		got, err := SplitBPS(a, shares)
		if err != nil {
			t.Fatal(err)
		}
		if s := sumOf(t, got); s != a {
			t.Fatalf("amount %d: sum %d: %v", a, s, got)
		}
		for _, al := range got {
			w := map[string]uint64{"alice": 3333, "bob": 3334, "carol": 3333}[al.Payee]
			lo := floorShare(a, w, TotalBPS)
			if al.Amount != lo && al.Amount != lo+1 {
				t.Fatalf("amount %d: %s got %d, floor is %d", a, al.Payee, al.Amount, lo)
			}
		}
	}
}

func TestSplitBPSRemainderRule(t *testing.T) {
	// 1 unit, three equal-ish claims: the largest fractional part wins (bob,
	// 3334 bps); with exactly equal claims the smallest payee wins.
	got, _ := SplitBPS(1, []Share{{"carol", "a", 3333}, {"alice", "a", 3333}, {"bob", "a", 3334}})
	if len(got) != 1 || got[0].Payee != "bob" || got[0].Amount != 1 {
		t.Fatalf("got %v, want bob 1", got)
	}
	got, _ = SplitBPS(2, []Share{{"b", "x", 2500}, {"c", "x", 2500}, {"a", "x", 2500}, {"d", "x", 2500}})
	want := []Allocation{{"a", "x", 1}, {"b", "x", 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// Same payee, two roles: ties break by role.
	got, _ = SplitBPS(1, []Share{{"a", "z", 5000}, {"a", "y", 5000}})
	if fmt.Sprint(got) != fmt.Sprint([]Allocation{{"a", "y", 1}}) {
		t.Fatalf("got %v", got)
	}
}

func TestSplitBPSErrors(t *testing.T) {
	cases := []struct {
		shares []Share
		want   error
	}{
		{nil, ErrShares},
		{[]Share{{"a", "r", 9999}}, ErrShares},
		{[]Share{{"a", "r", 10001}}, ErrShares},
		{[]Share{{"a", "r", 5000}, {"b", "r", 5001}}, ErrShares},
		{[]Share{{"", "r", 10000}}, ErrEmptyPayee},
		{[]Share{{"a", "", 10000}}, ErrEmptyPayee},
		{[]Share{{"a", "r", 1 << 63}, {"b", "r", 1 << 63}, {"c", "r", 10000}}, ErrShares},
	}
	for _, c := range cases {
		if _, err := SplitBPS(100, c.shares); !errors.Is(err, c.want) {
			t.Errorf("SplitBPS(%v) = %v, want %v", c.shares, err, c.want)
		}
	}
}

func TestSplitWeightedErrors(t *testing.T) {
	if _, err := SplitWeighted(5, nil); !errors.Is(err, ErrNoWeight) {
		t.Fatalf("no weights: %v", err)
	}
	if _, err := SplitWeighted(5, []Weight{{"a", "r", 0}}); !errors.Is(err, ErrNoWeight) {
		t.Fatalf("zero weights: %v", err)
	}
	if _, err := SplitWeighted(5, []Weight{{"a", "r", 1 << 63}, {"b", "r", 1 << 63}}); !errors.Is(err, ErrWeightOverflow) {
		t.Fatalf("overflow: %v", err)
	}
	// Large weights that do not overflow are exact.
	got, err := SplitWeighted(MaxAmount, []Weight{{"a", "r", 1<<63 - 1}, {"b", "r", 1<<63 - 1}, {"c", "r", 1}})
	if err != nil || sumOf(t, got) != MaxAmount {
		t.Fatalf("got %v %v", got, err)
	}
}

// TestSplitWeightedProperties checks, for random weights and edge amounts:
// the sum is exact, each amount is its floor or floor+1, merging duplicates
// and reordering do not change the result, and the result is sorted.
func TestSplitWeightedProperties(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	payees := []string{"a", "b", "c", "d", "e", "op-1", "op-2"}
	for iter := 0; iter < 3000; iter++ {
		n := 1 + rng.Intn(8)
		ws := make([]Weight, n)
		for i := range ws {
			var w uint64
			switch rng.Intn(4) {
			case 0:
				w = uint64(rng.Intn(3))
			case 1:
				w = uint64(rng.Int63n(1 << 20))
			case 2:
				w = MaxAmount - uint64(rng.Intn(5))
			default:
				w = rng.Uint64() >> 4
			}
			ws[i] = Weight{Payee: payees[rng.Intn(len(payees))], Role: []string{"x", "y"}[rng.Intn(2)], Weight: w}
		}
		amount := edgeAmounts[rng.Intn(len(edgeAmounts))]
		if rng.Intn(2) == 0 {
			amount = rng.Uint64() >> uint(rng.Intn(64))
		}
		got, err := SplitWeighted(amount, ws)
		var total uint64
		merged := map[[2]string]uint64{}
		overflow := false
		for _, w := range ws {
			if total+w.Weight < total {
				overflow = true
			}
			total += w.Weight
			merged[[2]string{w.Payee, w.Role}] += w.Weight
		}
		switch {
		case overflow:
			if !errors.Is(err, ErrWeightOverflow) {
				t.Fatalf("%v: want overflow, got %v", ws, err)
			}
			continue
		case total == 0:
			if !errors.Is(err, ErrNoWeight) {
				t.Fatalf("%v: want no weight, got %v", ws, err)
			}
			continue
		case err != nil:
			t.Fatal(err)
		}
		if s := sumOf(t, got); s != amount {
			t.Fatalf("amount %d weights %v: sum %d", amount, ws, s)
		}
		for i, a := range got {
			lo := floorShare(amount, merged[[2]string{a.Payee, a.Role}], total)
			if a.Amount != lo && a.Amount != lo+1 || a.Amount == 0 {
				t.Fatalf("amount %d: %v got %d, floor %d", amount, a, a.Amount, lo)
			}
			if i > 0 && !(got[i-1].Payee < a.Payee || got[i-1].Payee == a.Payee && got[i-1].Role < a.Role) {
				t.Fatalf("not sorted: %v", got)
			}
		}
		shuffled := append([]Weight(nil), ws...)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		again, _ := SplitWeighted(amount, shuffled)
		if fmt.Sprint(got) != fmt.Sprint(again) {
			t.Fatalf("order dependent:\n%v\n%v", got, again)
		}
	}
}

func TestSplitBPSQuick(t *testing.T) {
	f := func(amount uint64, cuts [4]uint16) bool {
		// Build shares summing to exactly 10000 from arbitrary cut points.
		var shares []Share
		left := uint64(TotalBPS)
		for i, c := range cuts {
			s := uint64(c) % (left + 1)
			shares = append(shares, Share{Payee: fmt.Sprintf("p%d", i%3), Role: "r", BPS: s})
			left -= s
		}
		shares = append(shares, Share{Payee: "last", Role: "r", BPS: left})
		got, err := SplitBPS(amount, shares)
		if err != nil {
			return false
		}
		s, overflow := Sum(got)
		return !overflow && s == amount
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 2000}); err != nil {
		t.Fatal(err)
	}
}

func TestMerge(t *testing.T) {
	got := Merge([]Allocation{{"b", "r", 1}, {"a", "r", 0}, {"a", "s", 2}, {"b", "r", 3}, {"a", "r", 4}})
	want := []Allocation{{"a", "r", 4}, {"a", "s", 2}, {"b", "r", 4}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if _, overflow := Sum([]Allocation{{"a", "r", 1 << 63}, {"b", "r", 1 << 63}}); !overflow {
		t.Fatal("Sum must report overflow")
	}
}
