package ron

import (
	"cmp"
	"errors"
	"fmt"
	"math/bits"
	"slices"
)

// Errors of the split helpers, for errors.Is.
var (
	ErrShares         = errors.New("ron: shares must total exactly 10000 basis points")
	ErrNoWeight       = errors.New("ron: total weight is zero")
	ErrWeightOverflow = errors.New("ron: total weight overflows uint64")
	ErrEmptyPayee     = errors.New("ron: empty payee or role")
)

// Share is a fixed part of an amount in basis points (10000 = 100%).
type Share struct {
	Payee string
	Role  string
	BPS   uint64
}

// Weight is a pro rata claim on an amount, e.g. the bytes a server served.
type Weight struct {
	Payee  string
	Role   string
	Weight uint64
}

// Portion returns floor(amount * bps / 10000), exactly, for any amount; bps
// above 10000 is treated as 10000. Use it to carve an amount into parts,
// giving the rest (amount - Portion) to the other part so nothing is lost.
func Portion(amount, bps uint64) uint64 {
	if bps >= TotalBPS {
		return amount
	}
	q, _ := mulDiv(amount, bps, TotalBPS)
	return q
}

// PartitionBPS divides amount into len(bps) parts by basis points that
// total exactly 10000: part i is for bps[i]. Use it to carve an amount into
// the pools of a split (creators, operators, moderation...) before dividing
// each pool among its payees. The remainder rule is [SplitWeighted]'s, the
// parts in the place of payees: each part gets floor(amount * bps / 10000),
// and the units left go one each to the largest fractional parts, ties to
// the earlier part. The parts sum to exactly amount; a part of 0 bps is 0.
// It fails with [ErrShares] when a part is over 10000 or they do not total
// 10000.
func PartitionBPS(amount uint64, bps []uint64) ([]uint64, error) {
	var total uint64
	for i, b := range bps {
		if b > TotalBPS {
			return nil, fmt.Errorf("%w: part %d has %d", ErrShares, i, b)
		}
		total += b // at most len*10000: no overflow for any slice that fits in memory
	}
	if total != TotalBPS {
		return nil, fmt.Errorf("%w: they total %d", ErrShares, total)
	}
	parts := make([]uint64, len(bps))
	rems := make([]uint64, len(bps))
	var paid uint64
	for i, b := range bps {
		parts[i], rems[i] = mulDiv(amount, b, TotalBPS)
		paid += parts[i] // sum of floors <= amount
	}
	if left := amount - paid; left > 0 {
		order := make([]int, len(bps))
		for i := range order {
			order[i] = i
		}
		// Stable over the index order: ties go to the earlier part.
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(rems[b], rems[a]) })
		for _, i := range order[:left] { // left is fewer than the parts with a remainder
			parts[i]++
		}
	}
	return parts, nil
}

// SplitBPS divides amount among shares whose basis points total exactly
// 10000. Shares to the same (payee, role) are merged first. See
// [SplitWeighted] for the remainder rule; the result is merged and sorted
// by (payee, role), and zero amounts are dropped.
func SplitBPS(amount uint64, shares []Share) ([]Allocation, error) {
	ws := make([]Weight, len(shares))
	var total uint64
	for i, s := range shares {
		if s.BPS > TotalBPS {
			return nil, fmt.Errorf("%w: %s/%s has %d", ErrShares, s.Payee, s.Role, s.BPS)
		}
		total += s.BPS // at most len*10000: no overflow for any slice that fits in memory
		ws[i] = Weight{Payee: s.Payee, Role: s.Role, Weight: s.BPS}
	}
	if total != TotalBPS {
		return nil, fmt.Errorf("%w: they total %d", ErrShares, total)
	}
	return SplitWeighted(amount, ws)
}

// SplitWeighted divides amount pro rata by weight, exactly:
//
//  1. Weights to the same (payee, role) are added together, so the input
//     order and duplicates do not matter.
//  2. Each claim gets floor(amount * weight / total), computed in 128 bits.
//  3. The remainder (fewer units than there are claims) goes one unit each
//     to the claims with the largest fractional parts (amount * weight mod
//     total); ties go to the smaller payee, then the smaller role, in byte
//     order. This is the largest remainder method.
//
// The result sums to exactly amount, is sorted by (payee, role), and omits
// zero amounts. It fails with [ErrEmptyPayee] for an empty payee or role,
// [ErrNoWeight] when all weights are zero (decide yourself where the amount
// goes then), and [ErrWeightOverflow] when the weights total more than
// 2^64-1.
func SplitWeighted(amount uint64, weights []Weight) ([]Allocation, error) {
	type claim struct {
		payee, role string
		weight      uint64
		amount      uint64
		rem         uint64
	}
	// Claims to the same (payee, role) are merged after sorting, not
	// through a map: in wasm hashing two strings costs more than the sort.
	claims := make([]claim, 0, len(weights))
	var total uint64
	for _, w := range weights {
		if w.Payee == "" || w.Role == "" {
			return nil, fmt.Errorf("%w (payee %q, role %q)", ErrEmptyPayee, w.Payee, w.Role)
		}
		var carry uint64
		total, carry = bits.Add64(total, w.Weight, 0)
		if carry != 0 {
			return nil, ErrWeightOverflow
		}
		claims = append(claims, claim{payee: w.Payee, role: w.Role, weight: w.Weight})
	}
	if total == 0 {
		return nil, ErrNoWeight
	}
	slices.SortFunc(claims, func(a, b claim) int {
		return cmp.Or(cmp.Compare(a.payee, b.payee), cmp.Compare(a.role, b.role))
	})
	merged := claims[:0]
	for _, c := range claims {
		if n := len(merged); n > 0 && merged[n-1].payee == c.payee && merged[n-1].role == c.role {
			merged[n-1].weight += c.weight // cannot overflow: total did not
			continue
		}
		merged = append(merged, c)
	}
	claims = merged
	var paid uint64
	for i := range claims {
		claims[i].amount, claims[i].rem = mulDiv(amount, claims[i].weight, total)
		paid += claims[i].amount // sum of floors <= amount
	}
	if left := amount - paid; left > 0 {
		order := make([]int, len(claims))
		for i := range order {
			order[i] = i
		}
		// Stable over the (payee, role) order above: ties keep key order.
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(claims[b].rem, claims[a].rem) })
		for _, i := range order[:left] { // left < len(claims): each floor loses less than one unit
			claims[i].amount++
		}
	}
	out := make([]Allocation, 0, len(claims))
	for _, c := range claims {
		if c.amount > 0 {
			out = append(out, Allocation{Payee: c.payee, Role: c.role, Amount: c.amount})
		}
	}
	return out, nil
}

// mulDiv returns floor(a*b/c) and (a*b mod c) for b <= c, c > 0.
func mulDiv(a, b, c uint64) (q, r uint64) {
	hi, lo := bits.Mul64(a, b)
	return bits.Div64(hi, lo, c) // hi < c because b <= c: no overflow panic
}

// Merge adds together allocations to the same (payee, role), drops zero
// amounts and sorts the result by (payee, role). Dispatch applies it to every
// split result. It panics if a merged amount overflows uint64, which a split
// summing to a uint64 amount cannot do.
func Merge(allocs []Allocation) []Allocation {
	// Sorted first, then equal keys added up: in wasm hashing two strings
	// per allocation costs more than the sort.
	out := make([]Allocation, 0, len(allocs))
	for _, a := range allocs {
		if a.Amount != 0 {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b Allocation) int {
		return cmp.Or(cmp.Compare(a.Payee, b.Payee), cmp.Compare(a.Role, b.Role))
	})
	merged := out[:0]
	for _, a := range out {
		if n := len(merged); n > 0 && merged[n-1].Payee == a.Payee && merged[n-1].Role == a.Role {
			sum, carry := bits.Add64(merged[n-1].Amount, a.Amount, 0)
			if carry != 0 {
				panic("ron: merged allocation overflows uint64")
			}
			merged[n-1].Amount = sum
			continue
		}
		merged = append(merged, a)
	}
	return merged
}

// Sum returns the total of the allocations and whether it overflowed uint64.
func Sum(allocs []Allocation) (total uint64, overflow bool) {
	for _, a := range allocs {
		var c uint64
		total, c = bits.Add64(total, a.Amount, 0)
		if c != 0 {
			return 0, true
		}
	}
	return total, false
}
