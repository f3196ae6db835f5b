package meter

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A wall-clock deadline on top of the fuel: another goroutine stores 0 in
// Limit when the call outlives its deadline. wazevo (wazero 1.12) reuses a
// global's value only along a chain of sealed single-predecessor blocks
// (ssa.builder.FindValueInLinearPath); a loop header is unsealed when it is
// lowered and a function entry has no predecessor, and every call reloads all
// mutable globals (frontend reloadAfterCall). It has no pass that hoists or
// merges loads (ssa/pass.go), so each check loads Limit from memory.
//
// The race detector does not see the guest's loads (machine code). It sees
// the host's Set and Get, which write and read the module context with plain
// Go code: the host must order them, as callWatched does.

// stopper stops a call that outlives its deadline by storing 0 in the
// Limit global from the timer's goroutine. One store is enough: the guest
// never writes Limit.
type stopper struct {
	timer  *time.Timer
	in     *instance
	stores atomic.Int64
	gone   chan struct{} // closed when the timer's function has returned
}

func watch(in *instance, d time.Duration) *stopper {
	s := &stopper{in: in, gone: make(chan struct{})}
	s.timer = time.AfterFunc(d, func() {
		defer close(s.gone)
		in.limit.Set(0)
		s.stores.Add(1)
	})
	return s
}

// stop disarms the watchdog. When the timer fired, it waits for its
// function to return, so that the host's next access to the globals happens
// after the store (the race detector sees this edge).
func (s *stopper) stop() (fired bool) {
	if s.timer.Stop() {
		return false
	}
	<-s.gone
	return true
}

// callWatched sets the fuel, arms a watchdog for deadline, calls, and
// disarms it. The fuel is set before the watchdog exists and read after it
// is gone, so the host's accesses to the global never race with its own.
func (in *instance) callWatched(ctx context.Context, entry string, input []byte, budget uint64, deadline time.Duration) (status int32, out []byte, used uint64, stores int64, err error) {
	in.setBudget(budget)
	w := watch(in, deadline)
	status, out, err = in.callNoFuel(ctx, entry, input)
	w.stop()
	return status, out, in.spent(), w.stores.Load(), err
}

func TestWatchdogStopsEndlessLoops(t *testing.T) {
	ctx := context.Background()
	spin := mod{
		types: [][]byte{functype(nil, nil)},
		funcs: []fn{{export: "spin", code: []byte{0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b}}}, // loop br 0 end
	}.encode()
	metered, err := Instrument(spin)
	if err != nil {
		t.Fatal(err)
	}
	r := newRuntime(t, false)
	in := instantiate(t, r, compile(t, r, metered))
	for i := range 5 {
		// ample fuel lasts about an hour: only the watchdog can stop the loop.
		_, _, _, stores, err := in.callWatched(ctx, "spin", nil, ample, time.Duration(i)*time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "unreachable") || !in.exhausted() {
			t.Fatalf("spin: %v, used %d", err, in.spent())
		}
		if stores != 1 {
			t.Fatalf("spin stopped after %d stores, want 1", stores)
		}
	}

	metered, err = Instrument(goModule(t, "../../../conformance/testdata/hostile/loop"))
	if err != nil {
		t.Fatal(err)
	}
	in = instantiate(t, r, compile(t, r, metered))
	_, _, _, stores, err := in.callWatched(ctx, "ron_split", []byte("{}"), ample, 10*time.Millisecond)
	if err == nil || !in.exhausted() {
		t.Fatalf("hostile/loop: %v, used %d", err, in.spent())
	}
	if stores != 1 {
		t.Fatalf("hostile/loop stopped after %d stores, want 1", stores)
	}

	// A call that ends before its deadline is untouched.
	in = instantiate(t, r, compile(t, r, metered))
	_, _, used, stores, err := in.callWatched(ctx, "ron_describe", []byte(`{"abi":1}`), ample, time.Hour)
	if err != nil || stores != 0 || used == 0 || used > ample {
		t.Fatalf("describe: %v, %d stores, %d used", err, stores, used)
	}
}
