package plugins

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// global stands in for one of the meter's globals.
type global struct {
	api.MutableGlobal
	v uint64
}

func (g *global) Get() uint64  { return g.v }
func (g *global) Set(v uint64) { g.v = v }

// A call may burn its whole budget, not a unit more, wherever the refills
// fall: the guest calls refill only past the limit the host set (used >
// limit), whose last value is the cap, and the slices before it are sized
// by the wall clock, so a budget that ended at the cap itself would fault
// a call that lands exactly on its cap at a refill or a host call, and not
// the same call when no refill fell there (issue 17).
func TestBudgetEndsPastItsCap(t *testing.T) {
	const budgetCap = 10 * HostCallUnits
	fault := func(f func()) (err error) {
		defer func() {
			if r := recover(); r != nil {
				hf, ok := r.(*hostFault)
				if !ok {
					panic(r)
				}
				err = hf.err
			}
		}()
		f()
		return nil
	}
	for _, c := range []struct {
		name string
		used uint64 // before the refill or the charge
		call func(st *callState)
		want bool // ErrOutOfFuel
	}{
		{"a refill at the cap", budgetCap, (*callState).refill, false},
		{"a refill past the cap", budgetCap + 1, (*callState).refill, true},
		{"a host call up to the cap", budgetCap - HostCallUnits - 10, func(st *callState) { st.charge(10) }, false},
		{"a host call past the cap", budgetCap - HostCallUnits - 9, func(st *callState) { st.charge(10) }, true},
	} {
		for _, slice := range []uint64{budgetCap / 3, budgetCap} {
			b := &budget{cap: budgetCap, timeout: time.Hour, used: &global{}, limit: &global{}, ctx: context.Background(), entry: EntryValidate}
			b.start()
			b.limit.Set(min(slice, b.cap))
			b.used.Set(c.used)
			st := &callState{fuel: b}
			err := fault(func() { c.call(st) })
			if got := errors.Is(err, ErrOutOfFuel); got != c.want {
				t.Errorf("%s, the limit at %d: out of fuel %v (%v), want %v", c.name, slice, got, err, c.want)
			}
		}
	}
}
