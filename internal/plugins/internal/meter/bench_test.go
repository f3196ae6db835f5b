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
// package's benchmarks) in three configurations, taking turns of ten calls,
// each reported with the ratio of its median time to the first's:
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
		in        *instance
		lat       []time.Duration
		total     time.Duration
		fuel      uint64
		refills   int
	}
	configs := []*config{
		{name: "plain", wasm: wasm},
		{name: "close-on-done", closeDone: true, wasm: wasm},
		{name: "fuel", wasm: metered},
	}
	var want []byte
	for _, c := range configs {
		r := newRuntime(b, c.closeDone)
		c.in = instantiate(b, r, compile(b, r, c.wasm))
		// Warm, and check every configuration answers the same.
		st, out, _, err := c.in.call(ctx, entry, input, nil, ample)
		if err != nil || st != 0 {
			b.Fatalf("%s: status %d, %v: %s", c.name, st, err, out)
		}
		if want == nil {
			want = out
		} else if string(out) != string(want) {
			b.Fatalf("%s answers differently:\n%s\n%s", c.name, out, want)
		}
		c.lat = make([]time.Duration, 0, b.N)
	}
	// Deadlines no call meets, even stalled on a busy machine: they are
	// there for what checking them costs.
	const deadline = 10 * time.Second
	run := func(c *config) error {
		if c.closeDone {
			cctx, cancel := context.WithTimeout(ctx, deadline)
			defer cancel()
			_, _, _, err := c.in.call(cctx, entry, input, nil, 0)
			return err
		}
		bud := newBudget(ample, deadline)
		_, _, err := c.in.callBudget(ctx, entry, input, nil, bud)
		c.refills += bud.refills
		if c.in.used != nil {
			c.fuel += c.in.spent()
		}
		return err
	}
	// The configurations take turns, ten calls each, so that a busy spell
	// of a shared machine falls on all of them alike (call by call, each
	// call would pay for what the previous configuration left behind: the
	// fuel calls, after close-on-done's, were 1.25x plain instead of 1.1x).
	const turn = 10
	for i := 0; i < b.N; i += turn {
		for _, c := range configs {
			for range min(turn, b.N-i) {
				t0 := time.Now()
				if err := run(c); err != nil {
					b.Fatal(err)
				}
				d := time.Since(t0)
				c.lat = append(c.lat, d)
				c.total += d
			}
		}
	}
	for _, c := range configs {
		slices.Sort(c.lat)
	}
	plainP50 := float64(configs[0].lat[b.N/2])
	for _, c := range configs {
		p50 := c.lat[b.N/2]
		b.ReportMetric(float64(c.total.Nanoseconds())/float64(b.N), c.name+"-ns/op")
		b.ReportMetric(float64(p50.Microseconds()), c.name+"-p50-µs")
		b.ReportMetric(float64(p50)/plainP50, c.name+"-x-plain-p50")
		if c.fuel > 0 {
			b.ReportMetric(float64(c.fuel)/float64(b.N), "fuel/op")
			b.ReportMetric(float64(c.refills)/float64(b.N), "refills/op")
			b.ReportMetric(float64(c.fuel)/(float64(c.total.Nanoseconds())/1e6), c.name+"-fuel/ms")
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
