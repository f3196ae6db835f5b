package meter

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Hand-built modules exercise what compilers rarely emit: nested loops,
// multi-value block types, br_table, SIMD immediates, reference types,
// bulk memory, imported globals, and recursion with no loop at all.

func i32c(v int64) []byte { return cat([]byte{0x41}, sleb(v)) }

// handModule: the function indices are the ones listed in handFuncs.
func handModule() []byte {
	simd := func(sub uint32, imm ...byte) []byte { return cat([]byte{0xfd}, leb(sub), imm) }
	v128const := func(a, b, c, d uint32) []byte {
		var out []byte
		for _, x := range []uint32{a, b, c, d} {
			out = append(out, byte(x), byte(x>>8), byte(x>>16), byte(x>>24))
		}
		return simd(0x0c, out...)
	}
	return mod{
		types: [][]byte{
			functype([]byte{i32}, []byte{i64}),           // 0
			functype(nil, []byte{i32, i32}),              // 1: a multi-value block type
			functype([]byte{i32}, []byte{i32}),           // 2
			functype(nil, []byte{i32}),                   // 3
			functype([]byte{i32, i32}, []byte{i32, i32}), // 4: a block type with params
		},
		imports: [][]byte{cat(str("env"), str("g"), []byte{0x03, i32, 0x00})}, // global 0
		table:   []byte{fref, 0x00, 0x01},
		memory:  true,
		globals: [][]byte{cat([]byte{i32, 0x01}, i32c(5), []byte{0x0b})}, // global 1, mutable
		elems:   [][]byte{cat([]byte{0x00}, i32c(0), []byte{0x0b}, vec(leb(0)))},
		funcs: []fn{
			{typ: 0, export: "nested", locals: []byte{2, i32, 1, i64}, code: cat(
				[]byte{0x03, 0x40}, // loop
				i32c(0), []byte{0x21, 2},
				[]byte{0x03, 0x40}, // loop
				[]byte{0x20, 3, 0x20, 1, 0x20, 2, 0x6c, 0xad, 0x7c, 0x21, 3},
				[]byte{0x20, 2}, i32c(1), []byte{0x6a, 0x22, 2, 0x20, 0, 0x49, 0x0d, 0},
				[]byte{0x0b},
				[]byte{0x20, 1}, i32c(1), []byte{0x6a, 0x22, 1, 0x20, 0, 0x49, 0x0d, 0},
				[]byte{0x0b},
				[]byte{0x20, 3, 0x0b},
			)},
			{typ: 2, export: "multi", locals: []byte{1, i32}, code: cat(
				[]byte{0x02, 0x01, 0x20, 0}, i32c(7), []byte{0x0b}, // block (type 1): x, 7
				[]byte{0x02, 0x04, 0x6c, 0x20, 0, 0x0b}, // block (type 4): 7x, x
				[]byte{0x6b, 0x21, 1},                   // 6x
				[]byte{0x02, 0x40, 0x02, 0x40, 0x02, 0x40, 0x02, 0x40},
				[]byte{0x20, 0}, i32c(3), []byte{0x71, 0x0e, 3, 0, 1, 2, 3}, // br_table by x&3
				[]byte{0x0b, 0x20, 1}, i32c(100), []byte{0x6a, 0x21, 1, 0x0c, 2},
				[]byte{0x0b, 0x20, 1}, i32c(200), []byte{0x6a, 0x21, 1, 0x0c, 1},
				[]byte{0x0b, 0x20, 1}, i32c(300), []byte{0x6a, 0x21, 1},
				[]byte{0x0b, 0x20, 1, 0x0b},
			)},
			{typ: 2, export: "simd", locals: []byte{1, v128}, code: cat(
				[]byte{0x20, 0}, simd(0x11), // i32x4.splat
				v128const(1, 2, 3, 4), simd(0xae), // i32x4.add
				v128const(10, 20, 30, 40),
				simd(0x0d, 4, 5, 6, 7, 16, 17, 18, 19, 0, 1, 2, 3, 28, 29, 30, 31), // shuffle: x+2, 10, x+1, 40
				[]byte{0x21, 1},
				i32c(16), []byte{0x20, 1}, simd(0x0b, 4, 0), // v128.store
				i32c(16), []byte{0x20, 1}, simd(0x56, 2, 4, 3), // v128.load32_lane offset 4 into lane 3: 10
				[]byte{0x22, 1}, simd(0x1b, 0), []byte{0x20, 1}, simd(0x1b, 3), []byte{0x6a},
				[]byte{0x20, 1}, simd(0x1b, 2), []byte{0x6a}, // 2x+13
				i32c(16), simd(0x00, 4, 0), simd(0x16, 4), []byte{0x6a}, // + v128.load, i8x16.extract_lane_u 4 (low byte of x+2)... of lane 1 = 10
				[]byte{0x0b},
			)},
			{typ: 2, export: "misc", code: cat(
				[]byte{0x20, 0, 0xc0},                     // i32.extend8_s
				[]byte{0x20, 0, 0xb7, 0xfc, 0x02, 0x6a},   // f64.convert_i32_s, i32.trunc_sat_f64_s, add
				[]byte{0xd0, 0x70, 0xd1, 0x6a},            // ref.null func, ref.is_null
				i32c(0), []byte{0xd2, 0}, []byte{0x26, 0}, // table.set 0 (ref.func 0)
				i32c(0), []byte{0x25, 0, 0xd1, 0x6a}, // table.get, ref.is_null
				i32c(5), i32c(6), []byte{0x20, 0, 0x1c, 1, i32, 0x6a}, // typed select
				i32c(0), []byte{0x20, 0, 0x36, 2, 0}, i32c(0), []byte{0x28, 2, 0, 0x6a}, // store, load
				i32c(32), i32c(0), i32c(16), []byte{0xfc, 10, 0, 0}, // memory.copy
				i32c(48), []byte{0x20, 0}, i32c(8), []byte{0xfc, 11, 0}, // memory.fill
				i32c(32), []byte{0x28, 2, 0, 0x6a}, i32c(48), []byte{0x28, 2, 0, 0x6a},
				[]byte{0xfc, 16, 0, 0x6a},                              // table.size
				[]byte{0x23, 0, 0x6a, 0x23, 1, 0x6a, 0x20, 0, 0x24, 1}, // globals: imported and defined
				[]byte{0x0b},
			)},
			{typ: 2, export: "bomb", code: cat( // 2^n calls, no loop
				[]byte{0x20, 0, 0x45, 0x04, i32}, i32c(1), []byte{0x05},
				[]byte{0x20, 0}, i32c(1), []byte{0x6b, 0x10, 4, 0x20, 0}, i32c(1), []byte{0x6b, 0x10, 4, 0x6a},
				[]byte{0x0b, 0x0b},
			)},
			{typ: 2, export: "countdown", code: cat( // 9 instructions per iteration, charged LoopPassUnits
				[]byte{0x03, 0x40, 0x20, 0}, i32c(1), []byte{0x6b, 0x22, 0, 0x0d, 0, 0x0b, 0x20, 0, 0x0b},
			)},
			{typ: 2, export: "fill", code: cat( // charges 6 + len*BulkUnitsPerByte
				i32c(0), i32c(0), []byte{0x20, 0, 0xfc, 11, 0, 0x20, 0, 0x0b},
			)},
			{typ: 2, export: "grow", code: []byte{0x20, 0, 0x40, 0, 0x0b}}, // charges 3 + pages*65536*BulkUnitsPerByte
			{typ: 2, export: "skip", code: cat( // 2^n calls; a branch skips the loop (so it cannot pay for the entry)
				[]byte{0x02, 0x40, 0x20, 0, 0x0d, 0, 0x03, 0x40, 0x0b, 0x0b},
				[]byte{0x20, 0, 0x45, 0x04, 0x40}, i32c(1), []byte{0x0f, 0x0b},
				[]byte{0x20, 0}, i32c(1), []byte{0x6b, 0x10, 8, 0x20, 0}, i32c(1), []byte{0x6b, 0x10, 8, 0x6a},
				[]byte{0x0b},
			)},
			{typ: 2, export: "deep", code: []byte{0x20, 0, 0x10, 9, 0x03, 0x40, 0x0b, 0x0b}}, // recurses before its loop
			{typ: 2, export: "cond", code: cat( // as skip, with the loop in an if
				[]byte{0x20, 0, 0x45, 0x04, 0x40, 0x03, 0x40, 0x0b, 0x0b},
				[]byte{0x20, 0, 0x45, 0x04, 0x40}, i32c(1), []byte{0x0f, 0x0b},
				[]byte{0x20, 0}, i32c(1), []byte{0x6b, 0x10, 10, 0x20, 0}, i32c(1), []byte{0x6b, 0x10, 10, 0x6a},
				[]byte{0x0b},
			)},
		},
	}.encode()
}

// envModule exports the global the hand module imports.
func envModule() []byte {
	return mod{
		globals: [][]byte{cat([]byte{i32, 0x00}, i32c(37), []byte{0x0b})},
		exports: [][]byte{cat(str("g"), []byte{0x03, 0x00})},
	}.encode()
}

// handRuntime is a runtime with the env module the hand module imports.
func handRuntime(t testing.TB) wazero.Runtime {
	t.Helper()
	r := newRuntime(t, false)
	if _, err := r.InstantiateWithConfig(context.Background(), envModule(), wazero.NewModuleConfig().WithName("env")); err != nil {
		t.Fatal(err)
	}
	return r
}

func callFn(t *testing.T, in *instance, name string, arg uint64, budget uint64) (uint64, uint64, error) {
	t.Helper()
	res, err := in.mod.ExportedFunction(name).Call(in.withBudget(context.Background(), newBudget(budget, 0)), arg)
	var used uint64
	if in.used != nil {
		used = in.spent()
	}
	if err != nil {
		return 0, used, err
	}
	return res[0], used, nil
}

func TestHandModuleAnswersTheSame(t *testing.T) {
	wasm := handModule()
	metered, st, err := InstrumentStats(wasm)
	if err != nil {
		t.Fatal(err)
	}
	want := Stats{Functions: 11, LoopChecks: 6, EntryChecks: 9, MergedEntries: 2, BulkChecks: 4}
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	r := handRuntime(t)
	orig := instantiate(t, r, compile(t, r, wasm))
	inst := instantiate(t, r, compile(t, r, metered))
	if inst.used == nil || orig.used != nil {
		t.Fatal("the fuel globals are not exported")
	}
	for _, name := range []string{"nested", "multi", "simd", "misc", "bomb", "countdown", "fill", "grow", "skip", "cond"} {
		for _, arg := range []uint64{0, 1, 2, 3, 7, 12} {
			a, _, err1 := callFn(t, orig, name, arg, 0)
			b, used, err2 := callFn(t, inst, name, arg, ample)
			if a != b || (err1 == nil) != (err2 == nil) {
				t.Errorf("%s(%d): original %d %v, instrumented %d %v", name, arg, a, err1, b, err2)
			}
			if used == 0 && err2 == nil {
				t.Errorf("%s(%d) used no fuel", name, arg)
			}
		}
	}
	// Spot checks that the functions compute what they claim.
	for _, c := range []struct {
		name     string
		arg, res uint64
	}{{"nested", 4, 36}, {"multi", 5, 30 + 200}, {"multi", 4, 24 + 100}, {"multi", 6, 36 + 300}, {"multi", 7, 42}, {"simd", 5, 23 + 10}, {"bomb", 5, 32}} {
		if got, _, err := callFn(t, inst, c.name, c.arg, ample); err != nil || got != c.res {
			t.Errorf("%s(%d) = %d %v, want %d", c.name, c.arg, got, err, c.res)
		}
	}
}

// The charges are exact: a loop pays its body's instruction count each
// iteration, or LoopPassUnits when that is more, a bulk operation its
// length.
func TestChargesAreExact(t *testing.T) {
	metered, err := Instrument(handModule())
	if err != nil {
		t.Fatal(err)
	}
	r := handRuntime(t)
	inst := instantiate(t, r, compile(t, r, metered))
	for _, c := range []struct {
		name      string
		arg, fuel uint64
	}{
		// Its 9 instructions a pass, raised to LoopPassUnits.
		{"countdown", 1, LoopPassUnits}, {"countdown", 1000, 1000 * LoopPassUnits},
		{"fill", 0, 6}, {"fill", 4096, 6 + 4096*BulkUnitsPerByte},
		{"grow", 0, 3}, {"grow", 2, 3 + 2*65536*BulkUnitsPerByte},
		// 15 calls pay 21 each at entry, and the 8 that reach the loop a pass each.
		{"skip", 3, 15*21 + 8*LoopPassUnits}, {"cond", 3, 15*21 + 8*LoopPassUnits},
	} {
		if _, used, err := callFn(t, inst, c.name, c.arg, ample); err != nil || used != c.fuel {
			t.Errorf("%s(%d) used %d fuel (%v), want %d", c.name, c.arg, used, err, c.fuel)
		}
		// One unit short traps, and says so.
		if _, _, err := callFn(t, inst, c.name, c.arg, c.fuel-1); err == nil || !inst.exhausted() {
			t.Errorf("%s(%d) with %d fuel: %v, used %d; want a trap, out of fuel", c.name, c.arg, c.fuel-1, err, inst.spent())
		}
	}
}

// A recursion bomb with no loop at all ends on an empty tank: function
// entries are charged.
func TestRecursionBombRunsOutOfFuel(t *testing.T) {
	metered, err := Instrument(handModule())
	if err != nil {
		t.Fatal(err)
	}
	r := handRuntime(t)
	inst := instantiate(t, r, compile(t, r, metered))
	for _, name := range []string{"bomb", "skip", "cond"} {
		_, used, err := callFn(t, inst, name, 60, 1_000_000) // 2^60 calls
		if err == nil || !inst.exhausted() || used <= 1_000_000 {
			t.Fatalf("%s(60): %v, used %d", name, err, used)
		}
	}
	// Endless recursion is charged on the way down, not only when calls return.
	if _, _, err := callFn(t, inst, "deep", 0, 10_000); err == nil || !inst.exhausted() {
		t.Fatalf("deep: %v, used %d", err, inst.spent())
	}
}

// Sections land where the format wants them whatever the module has: no
// global or export section, a start function, elements, data, custom
// sections between the others. Debug sections are dropped, others kept.
func TestSectionPlacement(t *testing.T) {
	names := func(sections ...string) []custom {
		var cs []custom
		for i, s := range sections {
			cs = append(cs, custom{name: s, data: []byte{1, 2, 3}, after: []byte{0, 3, 9, 0xff}[i%4]})
		}
		return cs
	}
	body := cat([]byte{0x03, 0x40}, i32c(0), []byte{0x0d, 0, 0x0b, 0x0b})
	for name, m := range map[string]mod{
		"bare": {types: [][]byte{functype(nil, nil)}, funcs: []fn{{code: body}}},
		"start, elements, data, customs": {
			types: [][]byte{functype(nil, nil)}, funcs: []fn{{code: body}, {code: []byte{0x0b}, export: "f"}},
			table: []byte{fref, 0x00, 0x01}, memory: true, start: leb(0),
			elems:   [][]byte{cat([]byte{0x00}, i32c(0), []byte{0x0b}, vec(leb(1)))},
			datas:   [][]byte{cat([]byte{0x00}, i32c(0), []byte{0x0b}, str("hi"))},
			customs: names("producers", ".debug_info", "meta", ".debug_line"),
		},
		"no code": {types: [][]byte{functype(nil, nil)}, memory: true, customs: names("a")},
	} {
		t.Run(name, func(t *testing.T) {
			wasm := m.encode()
			metered, st, err := InstrumentStats(wasm)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(metered, []byte(".debug_")) || st.DroppedCustom != bytes.Count(wasm, []byte(".debug_")) {
				t.Errorf("debug sections: %+v", st)
			}
			for _, c := range m.customs {
				if c.name[0] != '.' && !bytes.Contains(metered, []byte(c.name)) {
					t.Errorf("custom section %q dropped", c.name)
				}
			}
			r := newRuntime(t, false)
			cm := compile(t, r, metered)
			// A start function runs at instantiation, with the global at 0.
			mod, err := r.InstantiateModule(context.Background(), cm, wazero.NewModuleConfig())
			if m.start != nil {
				if err == nil || !strings.Contains(err.Error(), "without a budget") {
					t.Fatalf("the start function ran with no fuel: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{UsedGlobal, LimitGlobal} {
				g, ok := mod.ExportedGlobal(name).(api.MutableGlobal)
				if !ok || g.Type() != api.ValueTypeI64 || g.Get() != 0 {
					t.Fatalf("no mutable i64 global exported as %s", name)
				}
			}
		})
	}
}

func TestRefuses(t *testing.T) {
	fnMod := func(code ...byte) []byte {
		return mod{types: [][]byte{functype(nil, nil)}, funcs: []fn{{code: code}}, memory: true}.encode()
	}
	for name, c := range map[string]struct {
		wasm []byte
		want error
	}{
		"empty":                 {nil, ErrMalformed},
		"bad magic":             {[]byte("\x00asn\x01\x00\x00\x00"), ErrMalformed},
		"component":             {[]byte("\x00asm\x0d\x00\x01\x00"), ErrUnsupported},
		"reserved used":         {mod{globals: [][]byte{cat([]byte{i64, 1}, []byte{0x42, 0, 0x0b})}, exports: [][]byte{cat(str(UsedGlobal), []byte{3, 0})}}.encode(), ErrReserved},
		"reserved limit":        {mod{types: [][]byte{functype(nil, nil)}, funcs: []fn{{code: []byte{0x0b}, export: LimitGlobal}}}.encode(), ErrReserved},
		"threads":               {fnMod(0x41, 0, 0xfe, 0x10, 2, 0, 0x1a, 0x0b), ErrUnsupported},
		"relaxed simd":          {fnMod(0xfd, 0x80, 0x02, 0x0b), ErrUnsupported},
		"simd hole":             {fnMod(0xfd, 0x9a, 0x01, 0x0b), ErrUnsupported},
		"0xfc 18":               {fnMod(0xfc, 18, 0x0b), ErrUnsupported},
		"try_table":             {fnMod(0x1f, 0x40, 0x00, 0x0b, 0x0b), ErrUnsupported},
		"unknown opcode":        {fnMod(0x27, 0x0b), ErrUnsupported},
		"gc block type":         {fnMod(0x02, 0x63, 0x70, 0x0b, 0x0b), ErrUnsupported},
		"global out of range":   {fnMod(0x23, 0, 0x1a, 0x0b), ErrMalformed}, // would read the fuel
		"global.set fuel":       {fnMod(0x42, 0, 0x24, 0, 0x0b), ErrMalformed},
		"local out of range":    {fnMod(0x20, 0, 0x1a, 0x0b), ErrMalformed},
		"no end":                {fnMod(0x01), ErrMalformed},
		"after end":             {fnMod(0x0b, 0x01), ErrMalformed},
		"else outside if":       {fnMod(0x05, 0x0b), ErrMalformed},
		"long leb":              {fnMod(0x41, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x1a, 0x0b), ErrMalformed},
		"s32 too large":         {fnMod(0x41, 0xff, 0xff, 0xff, 0xff, 0x4f, 0x1a, 0x0b), ErrMalformed},
		"sections out of order": {cat(header, sect(3, vec()), sect(1, vec())), ErrMalformed},
		"tag section":           {cat(header, sect(13, vec())), ErrUnsupported},
		// Counts far beyond the bytes: wazero would size a slice by them
		// (a 15-byte import bomb makes it allocate 448 GiB and die).
		"import count bomb":   {cat(header, sect(2, leb(1<<32-1))), ErrMalformed},
		"table count bomb":    {cat(header, sect(4, leb(1<<32-1))), ErrMalformed},
		"element count bomb":  {cat(header, sect(9, leb(1<<32-1))), ErrMalformed},
		"element vector bomb": {cat(header, sect(9, cat(leb(1), []byte{0x01, 0x00}, leb(1<<32-1)))), ErrMalformed},
		"data length bomb":    {cat(header, sect(11, cat(leb(1), []byte{0x01}, leb(1<<32-1)))), ErrMalformed},
		"code size bomb":      {cat(header, sect(1, vec(functype(nil, nil))), sect(3, vec(leb(0))), sect(10, cat(leb(1), leb(1<<32-1)))), ErrMalformed},
		"section size bomb":   {cat(header, []byte{0x00}, leb(1<<32-1), str(".debug_info")), ErrMalformed},
		"name function bomb":  {cat(header, sect(0, cat(str("name"), []byte{0x01, 0x05}, leb(1<<32-1)))), ErrMalformed},
		"name locals bomb":    {cat(header, sect(0, cat(str("name"), []byte{0x02, 0x07}, leb(1), leb(0), leb(1<<32-1)))), ErrMalformed},
		"export of no global": {mod{exports: [][]byte{cat(str("g"), []byte{3, 0})}}.encode(), ErrMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := Instrument(c.wasm)
			if !errors.Is(err, c.want) || out != nil {
				t.Fatalf("got %v (%d bytes), want %v", err, len(out), c.want)
			}
		})
	}
}

// localsModule has one function declaring n i32 locals.
func localsModule(n uint32) []byte {
	body := cat(leb(1), leb(n), []byte{i32, 0x0b})
	return cat(header, sect(1, vec(functype(nil, nil))), sect(3, vec(leb(0))), sect(10, vec(cat(leb(uint32(len(body))), body))))
}

func TestLocalsLimit(t *testing.T) {
	out, err := Instrument(localsModule(MaxLocals))
	if err != nil {
		t.Fatal(err)
	}
	r := newRuntime(t, false)
	compile(t, r, out)
}

// The LEB128 readers accept exactly the encodings the format allows.
func TestLEB(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, 64, -64, -65, 1 << 31, -(1 << 31), 1<<63 - 1, -1 << 63} {
		r := &reader{b: sleb(v)}
		if got, err := r.sleb(64); err != nil || got != v || !r.done() {
			t.Errorf("s64 %d: %d %v", v, got, err)
		}
		if v >= -(1<<31) && v < 1<<31 {
			r = &reader{b: sleb(v)}
			if got, err := r.sleb(32); err != nil || got != v {
				t.Errorf("s32 %d: %d %v", v, got, err)
			}
		} else {
			r = &reader{b: sleb(v)}
			if _, err := r.sleb(32); err == nil {
				t.Errorf("s32 accepted %d", v)
			}
		}
	}
	for _, v := range []uint32{0, 127, 128, 1<<32 - 1} {
		r := &reader{b: leb(v)}
		if got, err := r.u32(); err != nil || got != v {
			t.Errorf("u32 %d: %d %v", v, got, err)
		}
	}
	for _, b := range [][]byte{{0x80, 0x80, 0x80, 0x80, 0x10}, {0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, {0x80}} {
		if _, err := (&reader{b: b}).u32(); err == nil {
			t.Errorf("u32 accepted %x", b)
		}
	}
	// s33 block types: type index 2^32-1 fits, 2^32 does not.
	if _, err := (&reader{b: sleb(1<<32 - 1)}).sleb(33); err != nil {
		t.Error(err)
	}
	if _, err := (&reader{b: sleb(1 << 32)}).sleb(33); err == nil {
		t.Error("s33 accepted 2^32")
	}
}
