package sdkrust_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/ronhost/ronhost/internal/plugins"
	"github.com/ronhost/ronhost/internal/wasmbuild"
	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/examples/notes"
	"golang.org/x/sys/unix"
)

// BenchmarkSDKs runs the notes plugin's validate and split through a
// pooled host (one warm instance, no memo), built with the Go SDK
// (sdk-wasm/examples/notes) and with the Rust SDK (examples/notes, the same
// rules), and in the same run the same logic as a native Go function
// (ron.Dispatch on the Go notes plugin). Each reports its ratio to native:
// x-native (means), x-native-p50 (medians, robust to a shared machine's
// stalls) and x-native-cpu (the process's CPU time, robust to other
// processes using the cores), and the fuel the module's call burnt.
//
//	go test -run '^$' -bench SDKs -benchtime 2000x ./sdk-rust/
func BenchmarkSDKs(b *testing.B) {
	validate := benchValidateInput(b)
	split := benchSplitInput(b, validate)
	// Each module is built on first use, so -bench SDKs/go needs no cargo.
	var rustWasm []byte
	modules := map[string]func(b *testing.B) []byte{
		"go": func(b *testing.B) []byte { return wasmbuild.ForTest(b, "../sdk-wasm/examples/notes/wasm") },
		"rust": func(b *testing.B) []byte {
			if rustWasm != nil {
				return rustWasm
			}
			if err := wasmbuild.HaveCargo(); err != nil {
				b.Fatal(err)
			}
			out := filepath.Join(b.TempDir(), "ron_notes.wasm")
			if err := wasmbuild.BuildRust(context.Background(), ".", "ron-notes", out); err != nil {
				b.Fatal(err)
			}
			var err error
			if rustWasm, err = os.ReadFile(out); err != nil {
				b.Fatal(err)
			}
			return rustWasm
		},
	}
	for _, sdk := range []string{"go", "rust"} {
		b.Run(sdk+"/validate", func(b *testing.B) { benchPooled(b, modules[sdk](b), plugins.EntryValidate, validate) })
		b.Run(sdk+"/split", func(b *testing.B) { benchPooled(b, modules[sdk](b), plugins.EntrySplit, split) })
	}
}

func benchValidateInput(b testing.TB) []byte {
	in, err := json.Marshal(map[string]any{
		"manifest": json.RawMessage(notes.Example),
		"context":  map[string]any{"tld": "notes", "payload_size": 1234},
	})
	if err != nil {
		b.Fatal(err)
	}
	return in
}

// benchSplitInput splits the normalized example among eight servers, five
// payout addresses.
func benchSplitInput(b testing.TB, validate []byte) []byte {
	st, out := ron.Dispatch(notes.Plugin{}, ron.EntryValidate, validate, nil)
	var v struct{ Manifest json.RawMessage }
	if err := json.Unmarshal(out, &v); err != nil || st != 0 {
		b.Fatalf("%d %s %v", st, out, err)
	}
	servers := []map[string]any{}
	for i := range 8 {
		servers = append(servers, map[string]any{"node": "node" + strconv.Itoa(i), "payout": "ron1op" + strconv.Itoa(i%5), "requests": 10 + i, "bytes": 1000*i + 7})
	}
	in, err := json.Marshal(map[string]any{"manifest": v.Manifest, "epoch": "2026-11", "amount": 1_000_003,
		"usage": map[string]any{"requests": 100, "bytes": 40000, "servers": servers}})
	if err != nil {
		b.Fatal(err)
	}
	return in
}

// processCPU is the CPU time this process has used, all threads together.
func processCPU(b *testing.B) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ts.Nano())
}

func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

func benchPooled(b *testing.B, wasm []byte, e plugins.Entry, input []byte) {
	ctx := context.Background()
	// The ABI's limits: time is judged by fuel, so a call stalled on a busy
	// machine is not a timeout (the wall-clock safety net is 20 times the
	// v1 deadlines).
	h := plugins.New(plugins.Config{PoolSize: 1, MemoEntries: -1, CacheDir: cacheDir})
	defer h.Close(ctx)
	p, err := h.Load(ctx, wasm)
	if err != nil {
		b.Fatal(err)
	}
	native := func() (int32, []byte) { return ron.Dispatch(notes.Plugin{}, string(e), input, nil) }
	// Warm both and check they answer the same document.
	nst, nout := native()
	res, err := p.Call(ctx, e, input)
	if err != nil || nst != 0 || res.Status != 0 || !jsonSame(nout, res.Output) {
		b.Fatalf("native (%d %s) and wasm (%d %s %v) disagree", nst, nout, res.Status, res.Output, err)
	}

	b.ResetTimer()
	nlat := make([]time.Duration, 0, b.N)
	ncpu := processCPU(b)
	nstart := time.Now()
	for range b.N {
		t0 := time.Now()
		native()
		nlat = append(nlat, time.Since(t0))
	}
	nativeNs := float64(time.Since(nstart).Nanoseconds()) / float64(b.N)
	ncpu = processCPU(b) - ncpu
	wlat := make([]time.Duration, 0, b.N)
	wcpu := processCPU(b)
	wstart := time.Now()
	for range b.N {
		t0 := time.Now()
		if _, err := p.Call(ctx, e, input); err != nil {
			b.Fatal(err)
		}
		wlat = append(wlat, time.Since(t0))
	}
	wasmNs := float64(time.Since(wstart).Nanoseconds()) / float64(b.N)
	wcpu = processCPU(b) - wcpu
	b.StopTimer()
	b.ReportMetric(nativeNs, "native-ns/op")
	b.ReportMetric(wasmNs, "wasm-ns/op")
	b.ReportMetric(wasmNs/nativeNs, "x-native")
	b.ReportMetric(float64(median(wlat))/float64(median(nlat)), "x-native-p50")
	// CPU time of this process: what the calls cost, without the time other
	// processes took the cores (on a shared machine the robust ratio).
	b.ReportMetric(float64(wcpu)/float64(ncpu), "x-native-cpu")
	b.ReportMetric(float64(len(wasm)), "wasm-bytes")
	// Fuel counts the module's work deterministically: a figure that does
	// not move with the machine's load.
	b.ReportMetric(float64(res.Fuel), "fuel/op")
}

// jsonSame reports whether a and b are the same JSON value.
func jsonSame(a, b []byte) bool {
	va, err1 := decodeNumbers(a)
	vb, err2 := decodeNumbers(b)
	return err1 == nil && err2 == nil && bytes.Equal(mustJSON(va), mustJSON(vb))
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// TestGoModuleReservesItsHeap: a module built with the Go SDK grows its Go
// heap while it initializes (ron.Register), so its warm instance does not
// grow its linear memory call after call while the heap settles: each growth
// is paid within a call (the host copies the whole memory). Without the
// reserve the notes example's validate grew memory 7 times in its first
// 1,000 calls; with it, once.
func TestGoModuleReservesItsHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a wasm module")
	}
	ctx := context.Background()
	h := plugins.New(plugins.Config{PoolSize: 1, MemoEntries: -1, CacheDir: cacheDir})
	defer h.Close(ctx)
	p, err := h.Load(ctx, wasmbuild.ForTest(t, "../sdk-wasm/examples/notes/wasm"))
	if err != nil {
		t.Fatal(err)
	}
	input := benchValidateInput(t)
	var first, last uint32
	growths := 0
	for i := range 1000 {
		res, err := p.Call(ctx, plugins.EntryValidate, input)
		if err != nil || res.Status != 0 {
			t.Fatalf("call %d: %v %d %s", i, err, res.Status, res.Output)
		}
		if i == 0 {
			first = res.MemoryBytes
		} else if res.MemoryBytes != last {
			growths++
		}
		last = res.MemoryBytes
	}
	if first < 6<<20 || growths > 2 {
		t.Errorf("memory %d bytes after the first call, %d bytes after 1,000, grown %d times; want over 6 MiB at once, then at most 2 growths", first, last, growths)
	}
	t.Logf("memory %d bytes after the first call, %d bytes after 1,000, grown %d times", first, last, growths)
}
