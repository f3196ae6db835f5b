package meter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// The host side of the meter, as a host would write it: the refill import,
// which hands out fuel in slices sized to last about a millisecond each, and
// ends the call when its budget, its deadline or its context runs out.

var (
	errOutOfFuel = errors.New("out of fuel")
	errDeadline  = errors.New("deadline exceeded")
)

// Slices of fuel: the first one, and the bounds of the adaptation. The upper
// bound caps how long the guest runs between two refills when its code turns
// slow after a fast stretch: 2^26 units are 35 µs of Go's fastest loop and
// 9 ms of a tight hand-written loop or of memory.fill (BenchmarkRate).
const (
	firstSlice = 1 << 24
	minSlice   = 1 << 16
	maxSlice   = 1 << 26
)

// budget is what one call may spend; it travels in the call's context.
type budget struct {
	fuel     uint64    // the most the call may use
	deadline time.Time // zero: none
	slice    uint64
	last     time.Time // of the previous refill
	refills  int
	ended    error         // why refill ended the call
	first    chan struct{} // if not nil, closed at the first refill

	used, limit api.MutableGlobal // the instance's, if known (else looked up)
}

type budgetKey struct{}

func newBudget(fuel uint64, d time.Duration) *budget {
	b := &budget{fuel: fuel, slice: firstSlice, last: time.Now()}
	if d > 0 {
		b.deadline = b.last.Add(d)
	}
	return b
}

// firstLimit is the Limit to set before the call.
func (b *budget) firstLimit() uint64 { return min(b.slice, b.fuel) }

// refill is the RefillModule.RefillName import.
func refill(ctx context.Context, mod api.Module, _ []uint64) {
	b, _ := ctx.Value(budgetKey{}).(*budget)
	if b == nil {
		panic(errors.New("meter: a call without a budget"))
	}
	b.refills++
	if b.first != nil && b.refills == 1 {
		close(b.first)
	}
	if b.used == nil {
		b.used = mod.ExportedGlobal(UsedGlobal).(api.MutableGlobal)
		b.limit = mod.ExportedGlobal(LimitGlobal).(api.MutableGlobal)
	}
	used := b.used.Get()
	now := time.Now()
	switch {
	case used > b.fuel:
		b.ended = errOutOfFuel
	case !b.deadline.IsZero() && now.After(b.deadline):
		b.ended = errDeadline
	case ctx.Err() != nil:
		b.ended = ctx.Err()
	}
	if b.ended != nil {
		panic(fmt.Errorf("meter: %w after %d units", b.ended, used))
	}
	// Aim at one refill per millisecond.
	switch dt := now.Sub(b.last); {
	case dt < 500*time.Microsecond && b.slice < maxSlice:
		b.slice *= 2
	case dt > 2*time.Millisecond && b.slice > minSlice:
		b.slice /= 2
	}
	b.last = now
	b.limit.Set(min(used+b.slice, b.fuel))
}

// instantiateRefill defines the RefillModule host module in r.
func instantiateRefill(ctx context.Context, r wazero.Runtime) error {
	_, err := r.NewHostModuleBuilder(RefillModule).NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(refill), nil, nil).Export(RefillName).
		Instantiate(ctx)
	return err
}
