package plugins

import (
	"context"
	"fmt"
	"time"

	"github.com/ronhost/ronhost/internal/plugins/internal/meter"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// The host side of the fuel meter (internal/plugins/internal/meter). Every module is
// instrumented at load to add what it runs to a global and to call
// ron_meter.refill when it passes the limit the host set; every host call
// charges what it moves (charge, below). refill runs on the calling
// goroutine: it ends the call when the entry's fuel budget is spent (the
// verdict, the same on every machine), the wall-clock safety net has passed
// or the caller gave up, and otherwise grants another slice of fuel sized to
// last about a millisecond. So the Go runtime can stop the goroutine at each
// refill (native wasm code cannot be preempted), and the guest pays a few
// instructions per loop instead of a call per loop.

// Slices of fuel: the first one, and the bounds of the adaptation. 2^26
// units last about 35 µs of Go's fastest loop and about 40 µs of a tight
// hand-written loop or of memory.fill, which pay at least
// meter.LoopPassUnits a pass and meter.BulkUnitsPerByte a byte (the meter's
// BenchmarkRate).
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
	entry    Entry
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
	st.refill()
}

// refill ends the call when it is out of fuel, past its deadline or
// abandoned by its caller, and otherwise grants the next slice of fuel.
func (st *callState) refill() {
	b := st.fuel
	used := b.used.Get()
	now := time.Now()
	st.check(used, now)
	switch dt := now.Sub(b.last); {
	case dt < 500*time.Microsecond && b.slice < maxSlice:
		b.slice *= 2
	case dt > 2*time.Millisecond && b.slice > minSlice:
		b.slice /= 2
	}
	b.last = now
	b.limit.Set(min(used+b.slice, b.cap))
}

// check ends the call (it panics) when used has passed the budget, the
// wall-clock safety net has passed or the caller gave up. Past, not at: the
// guest calls refill only past the limit (used > limit), and the limit's
// last value is the cap, so a call that burns its whole budget answers
// wherever the refills fell (their slices are sized by the wall clock).
func (st *callState) check(used uint64, now time.Time) {
	b := st.fuel
	switch {
	case used > b.cap:
		st.abort(FaultTimeout, "%w: %d units, the budget of %s is %d", ErrOutOfFuel, used, b.entry, b.cap)
	case now.After(b.deadline):
		st.abort(FaultTimeout, "%w: no answer within %s (%d units of fuel burnt)", ErrWallClock, b.timeout, used)
	case b.ctx.Err() != nil:
		// Not the plugin's fault: the caller gave up.
		panic(fmt.Errorf("plugins: call abandoned: %w", b.ctx.Err()))
	}
}

// Host calls pay fuel too, so a loop that sits in them cannot outlast its
// budget: HostCallUnits for the call, plus HostByteUnits for each byte it
// copies in or out of linear memory, writes to a log, reads from the payload
// (object_read) or makes (random_get). The rates are those of the budgets
// (Limits.Fuel): about what the fastest code measured is charged for the
// same time, so a loop in host calls spends its budget in about the ABI v1
// deadline, like a loop in code.
const (
	// HostCallUnits is what any host call costs, whatever it moves.
	HostCallUnits = 100_000
	// HostByteUnits is what each byte a host call moves costs.
	HostByteUnits = 256
)

// hostBytes is the fuel of moving n bytes.
func hostBytes(n uint64) uint64 { return n * HostByteUnits }

// charge adds what a host call costs to the call's fuel, then checks the
// budget, the deadline and the caller, as a refill would. Every host call
// charges before it does its work.
func (st *callState) charge(units uint64) { st.spend(HostCallUnits + units) }

// spend adds units to the call's fuel and checks, as charge does.
func (st *callState) spend(units uint64) {
	b := st.fuel
	if b == nil {
		return
	}
	used := b.used.Get() + units
	b.used.Set(used)
	if used > b.limit.Get() {
		st.refill()
		return
	}
	st.check(used, time.Now())
}

// wasiMeter makes WASI's host functions charge fuel: a function listener
// (wazero's experimental API) on the functions of wasi_snapshot_preview1,
// which charges before each call from its arguments.
type wasiMeter struct{}

func (wasiMeter) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	if def.ModuleName() != wasiModule {
		return nil
	}
	return wasiMeter{}
}

func (wasiMeter) Before(ctx context.Context, mod api.Module, def api.FunctionDefinition, params []uint64, _ experimental.StackIterator) {
	st := stateOf(ctx)
	if st == nil {
		return
	}
	var units uint64
	switch def.Name() {
	case "random_get": // (buf, len)
		if len(params) == 2 {
			units = hostBytes(uint64(api.DecodeU32(params[1])))
		}
	case "fd_write", "fd_pwrite": // (fd, iovs, iovs_len, ...)
		if len(params) >= 3 {
			units = iovecBytes(mod.Memory(), api.DecodeU32(params[1]), api.DecodeU32(params[2]))
		}
	case "poll_oneoff": // (in, out, nsubscriptions, nevents)
		if len(params) == 4 {
			units = uint64(api.DecodeU32(params[2])) * HostCallUnits
		}
	}
	st.charge(units)
}

// iovecBytes is the fuel of writing the n iovecs at iovs: what each costs
// to visit, and the bytes they name.
func iovecBytes(mem api.Memory, iovs, n uint32) uint64 {
	units := uint64(n) * HostCallUnits / 8
	if mem == nil {
		return units
	}
	var bytes uint64
	for i := range n {
		l, ok := mem.ReadUint32Le(iovs + 8*i + 4)
		if !ok {
			break // WASI answers EFAULT
		}
		bytes += uint64(l)
	}
	return units + hostBytes(bytes)
}

func (wasiMeter) After(context.Context, api.Module, api.FunctionDefinition, []uint64) {}

func (wasiMeter) Abort(context.Context, api.Module, api.FunctionDefinition, error) {}
