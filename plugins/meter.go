package plugins

import (
	"context"
	"fmt"
	"time"

	"github.com/ronhost/ronhost/plugins/internal/meter"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// The host side of the fuel meter (plugins/internal/meter). Every module is
// instrumented at load to add what it runs to a global and to call
// ron_meter.refill when it passes the limit the host set. refill runs on the
// calling goroutine: it ends the call when the entry's deadline has passed,
// the caller gave up or the fuel cap is spent, and otherwise grants another
// slice of fuel sized to last about a millisecond. So a call is interrupted
// within about a millisecond of its deadline, the Go runtime can stop the
// goroutine at each refill (native wasm code cannot be preempted), and the
// guest pays a few instructions per loop instead of a call per loop.

// Slices of fuel: the first one, and the bounds of the adaptation. 2^26
// units last about 35 µs of Go's fastest loop and 9 ms of a tight
// hand-written loop or of memory.fill (the meter's BenchmarkRate).
const (
	firstSlice = 1 << 24
	minSlice   = 1 << 16
	maxSlice   = 1 << 26
)

// budget is what one call may spend.
type budget struct {
	cap      uint64 // the most fuel the call may burn
	timeout  time.Duration
	deadline time.Time
	slice    uint64
	last     time.Time
	used     api.MutableGlobal
	limit    api.MutableGlobal
	ctx      context.Context // the caller's
}

// start sets the instance's globals for a new call.
func (b *budget) start() {
	b.slice = firstSlice
	b.last = time.Now()
	b.deadline = b.last.Add(b.timeout)
	b.used.Set(0)
	b.limit.Set(min(b.slice, b.cap))
}

// burnt returns the fuel used so far.
func (b *budget) burnt() uint64 { return b.used.Get() }

// instantiateMeterModule defines the ron_meter host module in r.
func instantiateMeterModule(ctx context.Context, r wazero.Runtime) error {
	_, err := r.NewHostModuleBuilder(meter.RefillModule).NewFunctionBuilder().
		WithGoModuleFunction(api.GoModuleFunc(refill), nil, nil).Export(meter.RefillName).
		Instantiate(ctx)
	if err != nil {
		return fmt.Errorf("plugins: instantiating the meter module: %w", err)
	}
	return nil
}

// refill is the ron_meter.refill import.
func refill(ctx context.Context, _ api.Module, _ []uint64) {
	st := stateOf(ctx)
	if st == nil || st.fuel == nil {
		panic(fmt.Errorf("plugins: a metered call without a budget"))
	}
	b := st.fuel
	used := b.used.Get()
	now := time.Now()
	switch {
	case used >= b.cap:
		st.abort(FaultTimeout, "out of fuel: %d units, the cap for a %s call", used, b.timeout)
	case now.After(b.deadline):
		st.abort(FaultTimeout, "no answer within %s (%d units of fuel burnt)", b.timeout, used)
	case b.ctx.Err() != nil:
		// Not the plugin's fault: the caller gave up.
		panic(fmt.Errorf("plugins: call abandoned: %w", b.ctx.Err()))
	}
	switch dt := now.Sub(b.last); {
	case dt < 500*time.Microsecond && b.slice < maxSlice:
		b.slice *= 2
	case dt > 2*time.Millisecond && b.slice > minSlice:
		b.slice /= 2
	}
	b.last = now
	b.limit.Set(min(used+b.slice, b.cap))
}
