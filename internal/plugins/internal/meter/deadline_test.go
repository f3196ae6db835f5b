package meter

import (
	"context"
	"errors"
	"math"
	"runtime"
	"testing"
	"time"
)

// Deadlines and the Go runtime. The refill import is the guest's only way
// back into Go: it is where the host checks the deadline and the caller's
// context, and where the Go runtime can stop the goroutine for a garbage
// collection (native code cannot be preempted).
//
// wazevo (wazero 1.12) would also see a Limit stored by another goroutine at
// the next check: it reuses a global's value only along a chain of sealed
// single-predecessor blocks (ssa.builder.FindValueInLinearPath), a loop
// header is unsealed when lowered, every call reloads the mutable globals
// (frontend reloadAfterCall), and no pass hoists or merges loads
// (ssa/pass.go). But such a watchdog goroutine cannot run while a garbage
// collection waits for the wasm call to stop, and its store races with the
// host's own accesses in the race detector's eyes; refill needs neither.

// spinModule loops forever: loop br 0 end.
func spinModule() []byte {
	return mod{
		types: [][]byte{functype(nil, nil)},
		funcs: []fn{{export: "spin", code: []byte{0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b}}},
	}.encode()
}

func TestDeadlineStopsEndlessLoops(t *testing.T) {
	ctx := context.Background()
	metered, err := Instrument(spinModule())
	if err != nil {
		t.Fatal(err)
	}
	r := newRuntime(t, false)
	in := instantiate(t, r, compile(t, r, metered))
	for i := 1; i <= 3; i++ {
		// ample fuel lasts about 3 s of the loop running at the fastest
		// rate (6.4·10^9 units per ms, BenchmarkRate): the loop spends
		// fuel only while it runs and the deadline passes all the same,
		// so only the deadline can stop it, however slow the machine.
		b := newBudget(ample, time.Duration(i)*time.Millisecond)
		if _, _, err := in.callBudget(ctx, "spin", nil, nil, b); err == nil || !errors.Is(b.ended, errDeadline) {
			t.Fatalf("spin: %v (%v), used %d", err, b.ended, in.spent())
		}
	}

	metered, err = Instrument(goModule(t, "../../../../conformance/testdata/hostile/loop"))
	if err != nil {
		t.Fatal(err)
	}
	in = instantiate(t, r, compile(t, r, metered))
	b := newBudget(ample, 10*time.Millisecond)
	if _, _, err := in.callBudget(ctx, "ron_split", []byte("{}"), nil, b); err == nil || !errors.Is(b.ended, errDeadline) {
		t.Fatalf("hostile/loop: %v (%v), used %d", err, b.ended, in.spent())
	}
	// A call that ends before its deadline is untouched.
	in = instantiate(t, r, compile(t, r, metered))
	b = newBudget(ample, time.Hour)
	if _, _, err := in.callBudget(ctx, "ron_describe", []byte(`{"abi":1}`), nil, b); err != nil || b.ended != nil || in.spent() == 0 {
		t.Fatalf("describe: %v (%v), used %d", err, b.ended, in.spent())
	}
}

// A garbage collection started while a plugin spins completes while it
// spins: the guest stops in Go at each refill. (Without refill calls it
// would wait for the call to end, and so would every goroutine of the
// process.) The call's fuel outlasts any collection, however slow the
// machine: fast loops spend up to 6.4·10^9 units per ms (BenchmarkRate), so
// a budget of 10^11 ran out in 50 ms under the race detector on CI, before
// the collection returned. Only the minute's deadline, the sign of a
// collection that waited for the call, ends it otherwise.
func TestGarbageCollectionDuringEndlessLoop(t *testing.T) {
	metered, err := Instrument(spinModule())
	if err != nil {
		t.Fatal(err)
	}
	r := newRuntime(t, false)
	in := instantiate(t, r, compile(t, r, metered))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := newBudget(math.MaxUint64/2, time.Minute)
	b.first = make(chan struct{})
	go func() {
		<-b.first // the loop is running
		runtime.GC()
		cancel()
	}()
	_, _, err = in.callBudget(ctx, "spin", nil, nil, b)
	if err == nil || !errors.Is(b.ended, context.Canceled) {
		t.Fatalf("the call ended with %v (%v) after %d units and %d refills: the collection waited for it", err, b.ended, in.spent(), b.refills)
	}
}
