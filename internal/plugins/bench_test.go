package plugins

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/wasmbuild"
	"github.com/ronhost/ronhost/sdk-wasm/examples/notes"
	"github.com/ronhost/ronhost/sdk-wasm/rontest"
)

// The benchmarks run the SDK's notes example, a realistic plugin (normalize a
// manifest with authors, shares, tags and defaults; split by shares and pro
// rata by bytes), through the pooled host and, in the same run, the same
// logic as a native Go function (the SDK's fake host runs the same dispatch
// code natively). Each reports its ratio to native as x-native.
//
//	go test -run '^$' -bench . -benchtime 2000x ./plugins/

func notesWasm(b *testing.B) []byte {
	b.Helper()
	return wasmbuild.ForTest(b, "../../sdk-wasm/examples/notes/wasm")
}

func validateInput(b *testing.B) []byte {
	in, err := json.Marshal(map[string]any{
		"manifest": json.RawMessage(notes.Example),
		"context":  map[string]any{"tld": "notes", "payload_size": 1234},
	})
	if err != nil {
		b.Fatal(err)
	}
	return in
}

func splitInput(b *testing.B, native *rontest.Host) []byte {
	// Split takes the normalized manifest.
	_, out, err := native.Call(context.Background(), string(EntryValidate), validateInput(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	var v struct{ Manifest json.RawMessage }
	if err := json.Unmarshal(out, &v); err != nil {
		b.Fatal(err)
	}
	servers := []Server{}
	for i := range 8 {
		servers = append(servers, Server{Node: "node" + strconv.Itoa(i), Payout: "ron1op" + strconv.Itoa(i%5), Requests: uint64(10 + i), Bytes: uint64(1000*i + 7)})
	}
	in, err := json.Marshal(SplitInput{Manifest: v.Manifest, Epoch: "2026-11", Amount: 1_000_003, Usage: Usage{Requests: 100, Bytes: 40000, Servers: servers}})
	if err != nil {
		b.Fatal(err)
	}
	return in
}

// percentile returns the p-th percentile of ds (sorted in place).
func percentile(ds []time.Duration, p float64) time.Duration {
	slices.Sort(ds)
	return ds[int(float64(len(ds)-1)*p)]
}

func benchCall(b *testing.B, e Entry, cfg Config) {
	wasm := notesWasm(b)
	native := rontest.New(notes.Plugin{})
	in := validateInput(b)
	if e == EntrySplit {
		in = splitInput(b, native)
	}
	ctx := context.Background()
	cfg.CacheDir = cacheDir
	p := load(b, newHost(b, cfg), wasm)
	// Warm both sides and check they agree byte for byte.
	st, nout, err := native.Call(ctx, string(e), in, nil)
	res, werr := p.Call(ctx, e, in)
	if err != nil || werr != nil || st != 0 || res.Status != 0 || string(nout) != string(res.Output) {
		b.Fatalf("native (%d %v) and wasm (%d %v) disagree:\n%s\n%s", st, err, res.Status, werr, nout, res.Output)
	}
	b.ReportAllocs()
	b.ResetTimer()
	nlat := make([]time.Duration, 0, b.N)
	nstart := time.Now()
	for range b.N {
		t0 := time.Now()
		if _, _, err := native.Call(ctx, string(e), in, nil); err != nil {
			b.Fatal(err)
		}
		nlat = append(nlat, time.Since(t0))
	}
	nativeNs := float64(time.Since(nstart).Nanoseconds()) / float64(b.N)
	lat := make([]time.Duration, 0, b.N)
	wstart := time.Now()
	for range b.N {
		t0 := time.Now()
		if _, err := p.Call(ctx, e, in); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	wasmNs := float64(time.Since(wstart).Nanoseconds()) / float64(b.N)
	b.StopTimer()
	b.ReportMetric(nativeNs, "native-ns/op")
	b.ReportMetric(wasmNs, "wasm-ns/op")
	b.ReportMetric(wasmNs/nativeNs, "x-native")
	// The ratio of medians, robust to the stalls of a shared machine.
	b.ReportMetric(float64(percentile(lat, 0.50))/float64(percentile(nlat, 0.50)), "x-native-p50")
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds()), "p99-µs")
}

func BenchmarkValidate(b *testing.B) {
	b.Run("pooled", func(b *testing.B) { benchCall(b, EntryValidate, Config{PoolSize: 1}) })
	b.Run("memoized", func(b *testing.B) { benchCall(b, EntryValidate, Config{PoolSize: 1, MemoEntries: 1024}) })
	// What the deadline enforcement costs: the same calls with no way to interrupt them.
	b.Run("no-deadlines", func(b *testing.B) { benchCall(b, EntryValidate, Config{PoolSize: 1, noDeadlines: true}) })
}

func BenchmarkSplit(b *testing.B) {
	b.Run("pooled", func(b *testing.B) { benchCall(b, EntrySplit, Config{PoolSize: 1}) })
	b.Run("memoized", func(b *testing.B) { benchCall(b, EntrySplit, Config{PoolSize: 1, MemoEntries: 1024}) })
	b.Run("no-deadlines", func(b *testing.B) { benchCall(b, EntrySplit, Config{PoolSize: 1, noDeadlines: true}) })
}

// BenchmarkLoad measures Host.Load (compile, check, instantiate, describe):
// cold compiles every time; warm loads the compiled code from the disk cache.
func BenchmarkLoad(b *testing.B) {
	wasm := notesWasm(b)
	ctx := context.Background()
	b.Run("cold", func(b *testing.B) {
		for range b.N {
			h := New(Config{MemoEntries: -1})
			p, err := h.Load(ctx, wasm)
			if err != nil {
				b.Fatal(err)
			}
			_ = p.Close(ctx)
			_ = h.Close(ctx)
		}
	})
	b.Run("warm-disk-cache", func(b *testing.B) {
		dir := b.TempDir()
		prime := New(Config{CacheDir: dir})
		if _, err := prime.Load(ctx, wasm); err != nil {
			b.Fatal(err)
		}
		_ = prime.Close(ctx)
		b.ResetTimer()
		for range b.N {
			h := New(Config{CacheDir: dir, MemoEntries: -1})
			p, err := h.Load(ctx, wasm)
			if err != nil {
				b.Fatal(err)
			}
			_ = p.Close(ctx)
			_ = h.Close(ctx)
		}
	})
}

// BenchmarkInstantiate measures one new instance (instantiate and
// _initialize), what the pool saves on every call.
func BenchmarkInstantiate(b *testing.B) {
	wasm := notesWasm(b)
	ctx := context.Background()
	p := load(b, newHost(b, Config{CacheDir: cacheDir}), wasm)
	b.ResetTimer()
	for range b.N {
		inst, err := p.instantiate(ctx)
		if err != nil {
			b.Fatal(err)
		}
		p.discard(ctx, inst)
	}
}

// BenchmarkSteadyState makes many pooled split calls on one instance and
// samples, at every tenth of the run, the host's live heap less the guest's
// linear memory (which wazero keeps in the Go heap) and the guest's memory.
// It reports the growth of each over the second half of the run, when a
// leak shows and warm-up does not: both must stay near zero. The guest's
// memory is bounded anyway: past Config.RecycleBytes an instance is replaced.
//
//	RON_BENCH_CALLS=1000000 go test -run '^$' -bench SteadyState -benchtime 1x -v ./plugins/
func BenchmarkSteadyState(b *testing.B) {
	calls := 100_000
	if s := os.Getenv("RON_BENCH_CALLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		calls = n
	}
	wasm := notesWasm(b)
	in := splitInput(b, rontest.New(notes.Plugin{}))
	ctx := context.Background()
	// Generous deadlines: this measures memory, and one call stalled by a
	// busy machine must not end a million-call run.
	cfg := Config{PoolSize: 1, CacheDir: cacheDir}
	cfg.Limits.Split = 10 * time.Second
	p := load(b, newHost(b, cfg), wasm)
	type sample struct{ host, guest int64 }
	var samples []sample
	measure := func(guest uint32) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		samples = append(samples, sample{int64(ms.HeapAlloc) - int64(guest), int64(guest)})
	}
	for range b.N {
		samples = samples[:0]
		for i := 1; i <= calls; i++ {
			res, err := p.Call(ctx, EntrySplit, in)
			if err != nil {
				b.Fatal(err)
			}
			if i%(calls/10) == 0 {
				measure(res.MemoryBytes)
			}
		}
	}
	mid, last := samples[len(samples)/2-1], samples[len(samples)-1]
	b.ReportMetric(float64(calls), "calls")
	b.ReportMetric(float64(last.host-mid.host)/1024, "host-heap-growth-KiB")
	b.ReportMetric(float64(last.guest-mid.guest)/1024, "guest-mem-growth-KiB")
	b.ReportMetric(float64(p.Stats().Instances), "instances")
	if testing.Verbose() {
		for i, s := range samples {
			fmt.Printf("after %3d%%: host heap %6.1f MiB, guest memory %5.1f MiB\n", (i+1)*10, float64(s.host)/(1<<20), float64(s.guest)/(1<<20))
		}
	}
}

// echoCode is the entry code of the smallest plugin that reads its input and
// answers it: input_read(65536); output_set(65536, input_len()).
var echoCode = concat(i32c(65536), []byte{0x10, 1}, i32c(65536), []byte{0x10, 0, 0x10, 2})

//go:noinline
func echoNative(mem, input []byte) []byte {
	n := copy(mem, input)
	return append([]byte(nil), mem[:n]...)
}

// BenchmarkHostShare measures what the host adds to every call, whatever
// the plugin: a pooled call of a hand-written module that only reads its
// input and answers it (three host calls, no work of its own; metered, as
// every module is), against a native Go function doing the same work (copy
// the input into a buffer, and out of it into a new output), in the same
// run. host-p50-µs is the median time of a call, what every plugin call
// pays on top of its own code; x-native-p50 its ratio to the native
// function's median (timed in batches of 100: one call takes about a tick
// of the clock).
//
//	go test -run '^$' -bench HostShare -benchtime 20000x ./internal/plugins/
func BenchmarkHostShare(b *testing.B) {
	in := validateInput(b)
	ctx := context.Background()
	p := load(b, newHost(b, Config{PoolSize: 1, MemoEntries: -1, CacheDir: cacheDir}), handModule(EntryValidate, echoCode))
	res, err := p.Call(ctx, EntryValidate, in)
	if err != nil || res.Status != 0 || string(res.Output) != string(in) {
		b.Fatalf("the echo answered %d %v: %.80s", res.Status, err, res.Output)
	}
	mem := make([]byte, 2<<20)
	for range 10000 { // warm the native side too (its heap's first spans)
		echoNative(mem, in)
	}
	b.ReportAllocs()
	b.ResetTimer()
	const batch = 100
	nlat := make([]time.Duration, 0, b.N/batch+1)
	runtime.GC() // neither side pays for the garbage of the setup
	for i := 0; i < b.N; i += batch {
		t0 := time.Now()
		for range batch {
			if out := echoNative(mem, in); len(out) != len(in) {
				b.Fatal(len(out))
			}
		}
		nlat = append(nlat, time.Since(t0))
	}
	nativeNs := float64(percentile(nlat, 0.50).Nanoseconds()) / batch
	lat := make([]time.Duration, 0, b.N)
	runtime.GC()
	for range b.N {
		t0 := time.Now()
		if _, err := p.Call(ctx, EntryValidate, in); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	p50 := float64(percentile(lat, 0.50).Nanoseconds())
	b.ReportMetric(p50/1000, "host-p50-µs")
	b.ReportMetric(nativeNs, "native-ns/op")
	b.ReportMetric(p50/nativeNs, "x-native-p50")
	b.ReportMetric(float64(res.Fuel), "fuel/op")
}
