package meter

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ronhost/ronhost/sdk-wasm/examples/notes"
	"github.com/ronhost/ronhost/sdk-wasm/rontest"
)

// The benchmarks run the SDK's notes example (the inputs of the plugins
// package's benchmarks) in four configurations, each reported with its ratio
// to the first:
//
//   - plain: no way to stop a call (the physical limit of this runtime)
//   - close-on-done: wazero's CloseOnContextDone, a context deadline per call
//   - fuel: the metered module, under a budget with the deadline checked
//     at each refill (see refill_test.go)
//
// They also report the fuel one call uses, the refills it needed, and the
// fuel rate in units per ms.
//
//	go test -run '^$' -bench . -benchtime 300x ./plugins/internal/meter/

func validateInput(t testing.TB) []byte {
	in, err := json.Marshal(map[string]any{
		"manifest": json.RawMessage(notes.Example),
		"context":  map[string]any{"tld": "notes", "payload_size": 1234},
	})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func splitInput(t testing.TB) []byte {
	_, out, err := rontest.New(notes.Plugin{}).Call(context.Background(), "ron_validate", validateInput(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Manifest json.RawMessage }
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	var servers []map[string]any
	for i := range 8 {
		servers = append(servers, map[string]any{"node": "node" + strconv.Itoa(i), "payout": "ron1op" + strconv.Itoa(i%5),
			"requests": 10 + i, "bytes": 1000*i + 7})
	}
	in, err := json.Marshal(map[string]any{"manifest": v.Manifest, "epoch": "2026-11", "amount": 1_000_003,
		"usage": map[string]any{"requests": 100, "bytes": 40000, "servers": servers}})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func notesModule(t testing.TB) []byte { return goModule(t, "../../../../sdk-wasm/examples/notes/wasm") }

func benchEntry(b *testing.B, entry string, input []byte) {
	wasm := notesModule(b)
	metered, err := Instrument(wasm)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	type config struct {
		name      string
		closeDone bool
		wasm      []byte
	}
	configs := []config{
		{"plain", false, wasm},
		{"close-on-done", true, wasm},
		{"fuel", false, metered},
	}
	var want []byte
	var plainNs float64
	for _, c := range configs {
		r := newRuntime(b, c.closeDone)
		in := instantiate(b, r, compile(b, r, c.wasm))
		refills := 0
		run := func() (uint64, error) {
			if c.closeDone {
				cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
				defer cancel()
				_, _, _, err := in.call(cctx, entry, input, nil, 0)
				return 0, err
			}
			bud := newBudget(ample, 100*time.Millisecond)
			_, _, err := in.callBudget(ctx, entry, input, nil, bud)
			refills += bud.refills
			if in.used == nil {
				return 0, err
			}
			return in.spent(), err
		}
		// Warm, and check every configuration answers the same.
		st, out, _, err := in.call(ctx, entry, input, nil, ample)
		if err != nil || st != 0 {
			b.Fatalf("%s: status %d, %v: %s", c.name, st, err, out)
		}
		if want == nil {
			want = out
		} else if string(out) != string(want) {
			b.Fatalf("%s answers differently:\n%s\n%s", c.name, out, want)
		}
		lat := make([]time.Duration, 0, b.N)
		var fuel uint64
		start := time.Now()
		for range b.N {
			t0 := time.Now()
			used, err := run()
			if err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
			fuel += used
		}
		total := time.Since(start)
		ns := float64(total.Nanoseconds()) / float64(b.N)
		if plainNs == 0 {
			plainNs = ns
		}
		slices.Sort(lat)
		b.ReportMetric(ns, c.name+"-ns/op")
		b.ReportMetric(ns/plainNs, c.name+"-x-plain")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), c.name+"-p50-µs")
		if fuel > 0 {
			b.ReportMetric(float64(fuel)/float64(b.N), "fuel/op")
			b.ReportMetric(float64(refills)/float64(b.N), "refills/op")
			b.ReportMetric(float64(fuel)/(float64(total.Nanoseconds())/1e6), c.name+"-fuel/ms")
		}
	}
}

func BenchmarkValidate(b *testing.B) { benchEntry(b, "ron_validate", validateInput(b)) }
func BenchmarkSplit(b *testing.B)    { benchEntry(b, "ron_split", splitInput(b)) }

// BenchmarkRate measures the fuel rate (units per ms) of different shapes
// of code, to derive budgets from deadlines: how fast a metered call burns
// fuel depends on the code (Go's functions are one big loop, so Go pays for
// the whole function at each jump back; a tight hand-written loop pays for
// a few instructions; a bulk fill pays for its bytes).
//
//	go test -run '^$' -bench Rate -benchtime 20x ./plugins/internal/meter/
func BenchmarkRate(b *testing.B) {
	ctx := context.Background()
	r := newRuntime(b, false)
	fillLoop := mod{ // loop { memory.fill(0, 0, 65536) }
		types:  [][]byte{functype(nil, nil)},
		memory: true,
		funcs: []fn{{export: "fill", code: cat([]byte{0x03, 0x40}, i32c(0), i32c(0), i32c(65536),
			[]byte{0xfc, 11, 0, 0x0c, 0, 0x0b, 0x0b})}},
	}.encode()
	spin := mod{types: [][]byte{functype(nil, nil)}, funcs: []fn{{export: "spin", code: []byte{0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b}}}}.encode()
	cases := []struct {
		name, entry string
		wasm        func(testing.TB) []byte
		input       []byte
		budget      uint64 // 0: runs to completion
	}{
		{"go-notes-validate", "ron_validate", notesModule, validateInput(b), 0},
		{"go-notes-split", "ron_split", notesModule, splitInput(b), 0},
		{"go-endless-loop", "ron_validate", func(t testing.TB) []byte { return goModule(t, "../../testdata/chaos") }, []byte(`{"manifest":{"mode":"loop"}}`), 2e9},
		{"c-validate", "ron_validate", func(t testing.TB) []byte { return cModule(t, false) },
			[]byte(`{"manifest":{"meta":{"tld":"c-demo","title":"  Hello from C "},"creator":"carol"},"context":{"tld":"c-demo","payload_size":0}}`), 0},
		{"wasm-spin", "spin", func(testing.TB) []byte { return spin }, nil, 2e8},
		{"memory.fill-64KiB", "fill", func(testing.TB) []byte { return fillLoop }, nil, 2e8},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			metered, err := Instrument(c.wasm(b))
			if err != nil {
				b.Fatal(err)
			}
			cm := compile(b, r, metered)
			in := instantiate(b, r, cm)
			if c.budget == 0 { // warm: the first call of an instance does one-time work
				if _, _, _, err := in.call(ctx, c.entry, c.input, nil, ample); err != nil {
					b.Fatal(err)
				}
			}
			var total time.Duration
			var fuel uint64
			for range b.N {
				if c.budget > 0 {
					in = instantiate(b, r, cm)
				}
				budget := c.budget
				if budget == 0 {
					budget = ample
				}
				t0 := time.Now()
				st, out, used, err := in.call(ctx, c.entry, c.input, nil, budget)
				total += time.Since(t0)
				if c.budget == 0 && (err != nil || st != 0) {
					b.Fatalf("%d %v: %s", st, err, out)
				}
				if c.budget > 0 && !in.exhausted() {
					b.Fatalf("did not run out of fuel: %v", err)
				}
				fuel += min(used, budget)
			}
			b.ReportMetric(float64(fuel)/float64(b.N), "fuel/op")
			b.ReportMetric(float64(fuel)/(float64(total.Nanoseconds())/1e6), "fuel/ms")
		})
	}
}
