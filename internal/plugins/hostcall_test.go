package plugins

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// hostCalls are the host functions a hostile module can loop in, each with
// the instructions that call it once with the largest arguments that do not
// fault (1 MiB where it takes a length), leaving nothing on the stack.
var hostCalls = []struct {
	name string
	code []byte
}{
	{"input_len", []byte{0x10, 0, 0x1a}},
	{"input_read", concat(i32c(65536), []byte{0x10, 1})},
	{"output_set", concat(i32c(0), i32c(1<<20), []byte{0x10, 2})},
	{"log", concat(i32c(2), i32c(0), i32c(1<<20), []byte{0x10, 3})},
	{"object_read", concat([]byte{0x42, 0}, i32c(65536), i32c(1<<20), []byte{0x10, 4, 0x1a})},
	{"random_get", concat(i32c(65536), i32c(1<<20), []byte{0x10, 5, 0x1a})},
	{"fd_write", concat(i32c(1), i32c(1024), i32c(1), i32c(2048), []byte{0x10, 6, 0x1a})},
}

func concat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// i32c is i32.const v.
func i32c(v int32) []byte {
	out := []byte{0x41}
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v == 0 && b&0x40 == 0 || v == -1 && b&0x40 != 0 {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

const hostileDescribe = `{"tld":"hostile","name":"hostile","version":"1","summary":"loops in host calls","roles":["creator"],"features":["resolve"],"examples":[{}]}`

// hostileModule is an ABI v1 module whose entry point loops forever in one
// host call (body, from hostCalls); the other entry points answer at once.
func hostileModule(entry Entry, body []byte) []byte {
	// loop; <host call>; br 0; end
	return handModule(entry, concat([]byte{0x03, 0x40}, body, []byte{0x0c, 0x00, 0x0b}))
}

// handModule is an ABI v1 module whose entry point runs code, then answers
// status 0; describe answers hostileDescribe, the other entry points status
// 1. Its functions 0-6 are the imports of hostCalls (input_len, input_read,
// output_set, log, object_read, random_get, fd_write); its memory is 2 MiB.
func handModule(entry Entry, entryCode []byte) []byte {
	vec := func(items ...[]byte) []byte {
		return concat(leb(uint32(len(items))), concat(items...))
	}
	sec := func(id byte, body []byte) []byte { return concat([]byte{id}, leb(uint32(len(body))), body) }
	fn := func(params, results []byte) []byte {
		return concat([]byte{0x60}, leb(uint32(len(params))), params, leb(uint32(len(results))), results)
	}
	types := vec(
		fn(nil, []byte{i32}),                        // 0 () -> i32
		fn([]byte{i32}, nil),                        // 1 (i32)
		fn([]byte{i32, i32}, nil),                   // 2 (i32, i32)
		fn([]byte{i32, i32, i32}, nil),              // 3 (i32, i32, i32)
		fn([]byte{i64, i32, i32}, []byte{i32}),      // 4 object_read
		fn([]byte{i32, i32}, []byte{i32}),           // 5 random_get
		fn([]byte{i32, i32, i32, i32}, []byte{i32}), // 6 fd_write
		fn(nil, nil),                                // 7 () -> ()
	)
	imp := func(mod, name string, t byte) []byte {
		return concat(wasmName(mod), wasmName(name), []byte{0x00, t})
	}
	imports := vec(imp("ron", "input_len", 0), imp("ron", "input_read", 1), imp("ron", "output_set", 2),
		imp("ron", "log", 3), imp("ron", "object_read", 4),
		imp("wasi_snapshot_preview1", "random_get", 5), imp("wasi_snapshot_preview1", "fd_write", 6))
	const first = 7 // the first defined function
	names := []Entry{"ron_abi_v1", EntryDescribe, EntryValidate, EntrySplit, EntryResolve}
	funcs := vec([]byte{7}, []byte{0}, []byte{0}, []byte{0}, []byte{0})
	var exports [][]byte
	for i, n := range names {
		exports = append(exports, concat(wasmName(string(n)), []byte{0x00}, leb(uint32(first+i))))
	}
	exports = append(exports, concat(wasmName("memory"), []byte{0x02, 0x00}))
	var code [][]byte
	for _, n := range names {
		var b []byte
		switch {
		case n == "ron_abi_v1":
			b = []byte{0x0b}
		case n == entry:
			b = concat(entryCode, i32c(0), []byte{0x0b})
		case n == EntryDescribe:
			b = concat(i32c(0), i32c(int32(len(hostileDescribe))), []byte{0x10, 2}, i32c(0), []byte{0x0b})
		default:
			b = concat(i32c(1), []byte{0x0b})
		}
		b = append([]byte{0x00}, b...) // no locals
		code = append(code, concat(leb(uint32(len(b))), b))
	}
	iovec := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 4096), 1<<20)
	data := vec(
		concat([]byte{0x00}, i32c(0), []byte{0x0b}, wasmName(hostileDescribe)),
		concat([]byte{0x00}, i32c(1024), []byte{0x0b}, leb(uint32(len(iovec))), iovec),
	)
	return concat([]byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00},
		sec(1, types), sec(2, imports), sec(3, funcs),
		sec(5, vec([]byte{0x00, 32})), // memory: 32 pages, 2 MiB
		sec(7, vec(exports...)), sec(10, vec(code...)), sec(11, data))
}

// TestHostCallLoopsEnd: a module that loops in any one host call, in any
// entry point, ends with a timeout fault for spending its fuel budget, the
// same on every machine: host calls pay fuel by the bytes they move and
// check the budget, the wall clock and the caller. Before they did, such a
// loop burnt its cores for minutes past a 100 ms deadline. The fuel burnt
// is within twice the budget (the last charge is at most one host call's),
// so the loop ended within twice the budget's time.
func TestHostCallLoopsEnd(t *testing.T) {
	cfg := Config{PoolSize: 1}
	// The ABI's budgets, with describe's as validate's to keep the test short,
	// and a safety net no loop reaches: only fuel ends them.
	cfg.Limits.DescribeFuel = ValidateFuel
	cfg.Limits.Describe, cfg.Limits.Validate, cfg.Limits.Split, cfg.Limits.Resolve = time.Hour, time.Hour, time.Hour, time.Hour
	h := newHost(t, cfg)
	ctx := context.Background()
	input := []byte(`{"pad":"` + strings.Repeat("x", 512<<10) + `"}`)
	object := bytes.NewReader(bytes.Repeat([]byte{'o'}, 4<<20))
	for _, e := range []Entry{EntryDescribe, EntryValidate, EntrySplit, EntryResolve} {
		for _, hc := range hostCalls {
			t.Run(fmt.Sprintf("%s/%s", e, hc.name), func(t *testing.T) {
				wasm := hostileModule(e, hc.code)
				start := time.Now()
				var res Result
				var err error
				if e == EntryDescribe {
					_, err = h.Load(ctx, wasm)
				} else {
					p := load(t, h, wasm)
					res, err = p.Invoke(ctx, e, input, CallOptions{Object: object})
				}
				var fe *FaultError
				if !errors.As(err, &fe) || fe.Kind != FaultTimeout || fe.Entry != e || !errors.Is(err, ErrOutOfFuel) {
					t.Fatalf("want a timeout fault in %s for spending its fuel, got %v", e, err)
				}
				budget := h.Config().Limits.Fuel(e)
				if e != EntryDescribe && (res.Fuel < budget || res.Fuel > 2*budget) {
					t.Fatalf("%d units burnt, the budget is %d", res.Fuel, budget)
				}
				t.Logf("%v after %s", fe.Err, time.Since(start).Round(time.Millisecond))
			})
		}
	}
}

// hostileFile is hostileModule(EntryValidate, output_set), kept as a file
// for the CLI's tests of `ronhost plugin test` (cmd/ronhost).
const hostileFile = "testdata/hostile-validate-output_set.wasm"

var rewrite = flag.Bool("rewrite", false, "rewrite "+hostileFile)

// TestHostileFileIsCurrent keeps hostileFile equal to what hostileModule
// makes; -rewrite rewrites it.
func TestHostileFileIsCurrent(t *testing.T) {
	want := hostileModule(EntryValidate, hostCalls[2].code)
	if *rewrite {
		if err := os.WriteFile(hostileFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(hostileFile)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s is stale (%v): run go test -run TestHostileFileIsCurrent ./plugins/ -args -rewrite", hostileFile, err)
	}
}

// A 1 MB module with one 1,000,000-target br_table, which took wazero 166 s
// and 2.4 GB to compile, is refused at load by the meter's shape checks
// before it reaches the compiler (issue 14 item 6).
func TestHugeBrTableIsRefusedAtLoad(t *testing.T) {
	body := concat([]byte{0x00, 0x02, 0x40, 0x41, 0x00, 0x0e}, leb(1_000_000), make([]byte, 1_000_001), []byte{0x0b, 0x41, 0x00, 0x0b})
	wasm := concat([]byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00},
		[]byte{0x01, 0x05, 0x01, 0x60, 0x00, 0x01, i32}, // type () -> i32
		[]byte{0x03, 0x02, 0x01, 0x00},                  // one function
		[]byte{0x0a}, leb(uint32(len(body)+len(leb(uint32(len(body))))+1)), []byte{0x01}, leb(uint32(len(body))), body)
	if len(wasm) < 1_000_000 {
		t.Fatalf("%d bytes", len(wasm))
	}
	_, err := newHost(t, Config{}).Load(context.Background(), wasm)
	if !errors.Is(err, ErrModuleLimit) || !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), "br_table") {
		t.Fatalf("want ErrModuleLimit naming the br_table, got %v", err)
	}
}

// A node's configured deadline (validate_ms, ...) sets a fuel budget at the
// ABI's rate and a safety net twenty times longer: the ABI's 100 ms gives
// the ABI's limits.
func TestSetDeadline(t *testing.T) {
	l := Limits{}
	l.SetDeadline(EntryValidate, 100*time.Millisecond)
	d := DefaultLimits()
	if l.ValidateFuel != d.ValidateFuel || l.Validate != d.Validate || l.Fuel(EntryValidate) != ValidateFuel || l.Deadline(EntryValidate) != 2*time.Second {
		t.Fatalf("limits %+v, want validate's of %+v", l, d)
	}
	l.SetDeadline(EntrySplit, 10*time.Millisecond)
	if l.SplitFuel != 10*FuelPerMillisecond || l.Split != 200*time.Millisecond {
		t.Fatalf("limits %+v", l)
	}
}
