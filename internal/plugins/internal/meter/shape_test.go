package meter

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// brTableModule has one function (param i32) whose body holds tables
// br_tables of targets targets each, all to the function's block.
func brTableModule(tables, targets int) []byte {
	code := []byte{0x02, 0x40} // block
	for range tables {
		code = append(code, 0x20, 0x00, 0x0e)
		code = appendU32(code, uint32(targets))
		for range targets + 1 {
			code = append(code, 0x00)
		}
	}
	code = append(code, 0x0b, 0x0b)
	return mod{types: [][]byte{functype([]byte{i32}, nil)}, funcs: []fn{{code: code}}}.encode()
}

// nestedModule has one function nesting depth blocks.
func nestedModule(depth int) []byte {
	var code []byte
	for range depth {
		code = append(code, 0x02, 0x40)
	}
	for range depth {
		code = append(code, 0x0b)
	}
	return mod{types: [][]byte{functype(nil, nil)}, funcs: []fn{{code: append(code, 0x0b)}}}.encode()
}

// nestedFuncsModule has n functions nesting MaxNesting blocks each.
func nestedFuncsModule(n int) []byte {
	var code []byte
	for range MaxNesting {
		code = append(code, 0x02, 0x40)
	}
	for range MaxNesting {
		code = append(code, 0x0b)
	}
	code = append(code, 0x0b)
	fs := make([]fn, n)
	for i := range fs {
		fs[i] = fn{code: code}
	}
	return mod{types: [][]byte{functype(nil, nil)}, funcs: fs}.encode()
}

// bigBodyModule has one function of about n bytes of nops.
func bigBodyModule(n int) []byte {
	code := make([]byte, n)
	code[n-1] = 0x0b
	for i := range n - 1 {
		code[i] = 0x01
	}
	return mod{types: [][]byte{functype(nil, nil)}, funcs: []fn{{code: code}}}.encode()
}

// manyFuncsModule defines n empty functions.
func manyFuncsModule(n int) []byte {
	fs := make([]fn, n)
	for i := range fs {
		fs[i] = fn{code: []byte{0x0b}}
	}
	return mod{types: [][]byte{functype(nil, nil)}, funcs: fs}.encode()
}

// Module shapes that compilers handle badly are refused with ErrLimit,
// before any compiler sees them; at each limit the module is accepted.
// The first is the 1 MB module whose single 1,000,000-target br_table took
// wazero 166 s and 2.4 GB to compile (issue 14 item 6).
func TestShapeLimits(t *testing.T) {
	for _, c := range []struct {
		name      string
		over, max []byte
	}{
		{"br_table of 1,000,000 targets", brTableModule(1, 1_000_000), brTableModule(1, MaxBrTableTargets)},
		{"br_table targets in a module", brTableModule(MaxModuleBrTableTargets/MaxBrTableTargets+1, MaxBrTableTargets), brTableModule(MaxModuleBrTableTargets/MaxBrTableTargets, MaxBrTableTargets)},
		{"nesting", nestedModule(MaxNesting + 1), nestedModule(MaxNesting)},
		{"nesting in a module", nestedFuncsModule(MaxModuleNesting/MaxNesting + 1), nestedFuncsModule(MaxModuleNesting / MaxNesting)},
		{"function body", bigBodyModule(MaxFunctionBytes), bigBodyModule(MaxFunctionBytes - 8)},
		{"functions", manyFuncsModule(MaxFunctions + 1), manyFuncsModule(MaxFunctions)},
		{"locals", localsModule(MaxLocals + 1), localsModule(MaxLocals)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if out, err := Instrument(c.over); !errors.Is(err, ErrLimit) || out != nil {
				t.Fatalf("%d-byte module: got %v, want ErrLimit", len(c.over), err)
			}
			if _, err := Instrument(c.max); err != nil {
				t.Fatalf("at the limit: %v", err)
			}
		})
	}
	if n := len(brTableModule(1, 1_000_000)); n < 1_000_000 {
		t.Fatalf("the br_table module has %d bytes, want over 1 MB", n)
	}
}

// BenchmarkCompileAtLimits reports what the worst shapes the meter lets
// through cost wazero to compile, beside a module of the same size made of
// ordinary code (nops in functions of 1 KiB): the ratio is what a hostile
// shape costs over the plain compile of as many bytes.
//
//	go test -run '^$' -bench CompileAtLimits -benchtime 3x ./plugins/internal/meter/
func BenchmarkCompileAtLimits(b *testing.B) {
	plain := func(size int) []byte {
		n := size / 1024
		fs := make([]fn, n)
		for i := range fs {
			code := make([]byte, 1024)
			for j := range code {
				code[j] = 0x01
			}
			code[1023] = 0x0b
			fs[i] = fn{code: code}
		}
		return mod{types: [][]byte{functype(nil, nil)}, funcs: fs}.encode()
	}
	for _, c := range []struct {
		name string
		wasm []byte
	}{
		{"br_table-max", brTableModule(1, MaxBrTableTargets)},
		{"br_tables-module-max", brTableModule(MaxModuleBrTableTargets/MaxBrTableTargets, MaxBrTableTargets)},
		{"nesting-max", nestedModule(MaxNesting)},
		{"body-max", bigBodyModule(MaxFunctionBytes - 8)},
	} {
		b.Run(c.name, func(b *testing.B) {
			r := newRuntime(b, false)
			ctx := context.Background()
			base := plain(len(c.wasm))
			var tShape, tPlain time.Duration
			for i := range b.N {
				// Distinct bytes each round, so the compilation cache never answers.
				for _, w := range []struct {
					wasm []byte
					t    *time.Duration
				}{{c.wasm, &tShape}, {base, &tPlain}} {
					m := append(append([]byte{}, w.wasm...), sect(0, cat(str("round"), []byte(fmt.Sprint(i))))...)
					start := time.Now()
					cm, err := r.CompileModule(ctx, m)
					*w.t += time.Since(start)
					if err != nil {
						b.Fatal(err)
					}
					_ = cm.Close(ctx)
				}
			}
			b.ReportMetric(float64(tShape.Milliseconds())/float64(b.N), "ms/compile")
			b.ReportMetric(float64(tShape)/float64(tPlain), "x-plain")
			b.ReportMetric(float64(len(c.wasm)), "bytes")
		})
	}
}
