package ron

import (
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"testing"
)

// drawBPS draws n basis points totalling 10000, some of them 0.
func drawBPS(rng *rand.Rand, n int) []uint64 {
	out := make([]uint64, n)
	left := uint64(TotalBPS)
	for i := 0; i < n-1; i++ {
		if rng.Intn(4) == 0 {
			continue // a part of 0 bps
		}
		out[i] = uint64(rng.Int63n(int64(left) + 1))
		left -= out[i]
	}
	out[n-1] = left
	rng.Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// TestPartitionBPSIsSplitBPS: parts are what SplitBPS gives payees named in
// the parts' order, for any number of parts (ties to the earlier part).
func TestPartitionBPSIsSplitBPS(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for iter := 0; iter < 3000; iter++ {
		bps := drawBPS(rng, 1+rng.Intn(14))
		amount := edgeAmounts[rng.Intn(len(edgeAmounts))]
		if rng.Intn(2) == 0 {
			amount = rng.Uint64() >> uint(rng.Intn(64))
		}
		got, err := PartitionBPS(amount, bps)
		if err != nil {
			t.Fatal(err)
		}
		shares := make([]Share, len(bps))
		for i, b := range bps {
			shares[i] = Share{Payee: fmt.Sprintf("%03d", i), Role: "part", BPS: b}
		}
		allocs, err := SplitBPS(amount, shares)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]uint64, len(bps))
		for _, a := range allocs {
			var i int
			fmt.Sscanf(a.Payee, "%d", &i)
			want[i] = a.Amount
		}
		if !slices.Equal(got, want) {
			t.Fatalf("amount %d bps %v: %v, SplitBPS gives %v", amount, bps, got, want)
		}
		var sum uint64
		for i, p := range got {
			lo := floorShare(amount, bps[i], TotalBPS)
			if p != lo && p != lo+1 || bps[i] == 0 && p != 0 {
				t.Fatalf("amount %d bps %v: part %d is %d, floor %d", amount, bps, i, p, lo)
			}
			sum += p
		}
		if sum != amount {
			t.Fatalf("amount %d bps %v: parts sum to %d", amount, bps, sum)
		}
	}
}

func TestPartitionBPSTies(t *testing.T) {
	// 10 units into three equal-ish parts: 3333.33.. each; the earlier
	// parts win the ties, for any number of parts.
	if got, _ := PartitionBPS(10, []uint64{3333, 3333, 3334}); !slices.Equal(got, []uint64{3, 3, 4}) {
		t.Fatalf("got %v", got)
	}
	bps := make([]uint64, 16)
	for i := range bps {
		bps[i] = 625
	}
	got, _ := PartitionBPS(3, bps)
	if want := append([]uint64{1, 1, 1}, make([]uint64, 13)...); !slices.Equal(got, want) {
		t.Fatalf("got %v, want the first three parts", got)
	}
}

func TestPartitionBPSErrors(t *testing.T) {
	for _, bps := range [][]uint64{nil, {}, {9999}, {10001}, {5000, 5001}, {10001, 0}, {1 << 63, 1 << 63, 10000}} {
		if _, err := PartitionBPS(100, bps); !errors.Is(err, ErrShares) {
			t.Errorf("%v: %v, want ErrShares", bps, err)
		}
	}
	if got, err := PartitionBPS(MaxAmount, []uint64{10000}); err != nil || got[0] != MaxAmount {
		t.Fatalf("%v %v", got, err)
	}
	if got, err := PartitionBPS(1<<64-1, []uint64{0, 10000, 0}); err != nil || !slices.Equal(got, []uint64{0, 1<<64 - 1, 0}) {
		t.Fatalf("%v %v", got, err)
	}
}
