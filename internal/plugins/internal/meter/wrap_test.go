package meter

import (
	"context"
	"testing"
)

// Loops near the top of a function are wrapped in three blocks so that
// their refill call sits outside their passes (code.go), and branches from
// inside them to labels outside skip three more labels. A module whose
// branches leave nested wrapped loops every way (br with a value, br_if,
// br_table to the inner loop, the block between, the outer loop) and a
// loop that leaves a value must compute the same once instrumented, pay
// the same fuel a pass, and still run out of fuel exactly.
func TestWrappedLoopsBranchTheSame(t *testing.T) {
	const acc = 1 // local 0 is n
	get, set := func(i byte) []byte { return []byte{0x20, i} }, func(i byte) []byte { return []byte{0x21, i} }
	inc := func(by int64) []byte { return cat(get(acc), i32c(by), []byte{0x6a}, set(acc)) }
	branches := cat(
		[]byte{0x02, i32},  // block $b0 (result i32)
		[]byte{0x03, 0x40}, // loop $l1
		[]byte{0x02, 0x40}, // block $b2
		[]byte{0x03, 0x40}, // loop $l3
		inc(1),
		// if acc >= n: br $b0 with acc*10 (from the if: if, l3, b2, l1, b0)
		get(acc), get(0), []byte{0x4f, 0x04, 0x40}, get(acc), i32c(10), []byte{0x6c, 0x0c, 4, 0x0b},
		// br_if $l3 when acc is odd and over 20: the inner loop again
		get(acc), i32c(1), []byte{0x71}, get(acc), i32c(20), []byte{0x4b, 0x71, 0x0d, 0},
		// br_table on acc&3: l3, b2, l1, default b2
		get(acc), i32c(3), []byte{0x71, 0x0e, 3, 0, 1, 2, 1},
		[]byte{0x0b},       // end $l3
		[]byte{0x0b},       // end $b2
		inc(100),           // after the inner loop
		[]byte{0x0c, 0},    // br $l1
		[]byte{0x0b},       // end $l1
		[]byte{0x00, 0x0b}, // unreachable; end $b0
		[]byte{0xad, 0x0b}, // i64.extend_i32_u; end
	)
	// loop (result i32): acc += 1 while acc < n; leaves acc.
	counted := cat([]byte{0x03, i32}, inc(1), get(acc), get(0), []byte{0x49, 0x0d, 0}, get(acc), []byte{0x0b, 0xad, 0x0b})
	wasm := mod{
		types: [][]byte{functype([]byte{i32}, []byte{i64})},
		funcs: []fn{
			{typ: 0, locals: []byte{1, i32}, code: branches, export: "branches"},
			{typ: 0, locals: []byte{1, i32}, code: counted, export: "counted"},
		},
	}.encode()
	metered, err := Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	r := newRuntime(t, false)
	orig := instantiate(t, r, compile(t, r, wasm))
	inst := instantiate(t, r, compile(t, r, metered))
	ctx := context.Background()
	for _, name := range []string{"branches", "counted"} {
		for arg := range uint64(300) {
			a, err1 := orig.mod.ExportedFunction(name).Call(ctx, arg)
			b, used, err2 := callFn(t, inst, name, arg, ample)
			if err1 != nil || err2 != nil || a[0] != b {
				t.Fatalf("%s(%d): original %v %v, instrumented %d %v", name, arg, a, err1, b, err2)
			}
			// The same fuel in a fresh slice of fuel and in many (a refill
			// at every pass re-enters the loop, which must not pay twice).
			if arg%37 == 0 {
				bud := newBudget(ample, 0)
				bud.slice = 1 // a refill at the first passes, slices doubling
				if _, err := inst.mod.ExportedFunction(name).Call(inst.withBudget(ctx, bud), arg); err != nil || inst.spent() != used || bud.refills == 0 || arg > 0 && bud.refills < 2 {
					t.Fatalf("%s(%d): %d fuel in one slice, %d in %d (%v)", name, arg, used, inst.spent(), bud.refills, err)
				}
				if _, _, err := callFn(t, inst, name, arg, used-1); err == nil || !inst.exhausted() {
					t.Fatalf("%s(%d) with %d fuel: %v; want out of fuel", name, arg, used-1, err)
				}
			}
		}
	}
	if got, _, _ := callFn(t, inst, "counted", 7, ample); got != 7 {
		t.Fatalf("counted(7) = %d", got)
	}
}
