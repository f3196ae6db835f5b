package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ronhost/ronhost/conformance"
	"github.com/ronhost/ronhost/core/manifest"
	"github.com/ronhost/ronhost/internal/wasmbuild"
	"github.com/ronhost/ronhost/plugins"
	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/tlds/ai/aitld"
)

var update = flag.Bool("update", false, "rewrite the expectations of testdata/cases with what the plugin answers")

// cacheDir is wazero's compilation cache for every host in this binary;
// buildDir holds the module, built once.
var cacheDir, buildDir string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, cleanup, err := wasmbuild.TestCacheDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cacheDir = dir
	if buildDir, err = os.MkdirTemp("", "tlds-ai-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(buildDir)
	if cleanup != nil {
		cleanup()
	}
	os.Exit(code)
}

var (
	wasmOnce sync.Once
	wasmMod  []byte
	wasmErr  error
)

// module builds this package as a wasip1 reactor, once per test binary.
func module(tb testing.TB) []byte {
	tb.Helper()
	wasmOnce.Do(func() {
		out := filepath.Join(buildDir, "ai.wasm")
		if wasmErr = wasmbuild.Build(context.Background(), ".", out); wasmErr == nil {
			wasmMod, wasmErr = os.ReadFile(out)
		}
	})
	if wasmErr != nil {
		tb.Fatal(wasmErr)
	}
	return wasmMod
}

// TestConformance runs the whole conformance suite, generic checks and this
// plugin's cases, on the module through the real host.
func TestConformance(t *testing.T) {
	rep := conformance.Test(t, module(t), conformance.Options{CasesDir: "testdata/cases", CacheDir: cacheDir, Update: *update})
	if rep.TLD != "ai" || rep.Failed() != 0 {
		t.Fatalf("tld %q, %d failed", rep.TLD, rep.Failed())
	}
	cases := 0
	for _, c := range rep.Checks {
		if strings.HasPrefix(c.ID, "cases.") {
			cases++
		}
	}
	if cases < 20 {
		t.Fatalf("%d cases ran, want at least 20", cases)
	}
}

// load loads the module into a host of its own (memoization off).
func load(tb testing.TB) *plugins.Plugin {
	tb.Helper()
	h := plugins.New(plugins.Config{CacheDir: cacheDir, MemoEntries: -1, PoolSize: 1})
	tb.Cleanup(func() { _ = h.Close(context.Background()) })
	p, err := h.Load(context.Background(), module(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// TestReadmeExample takes the Manifest.toml of README.md through the host's
// parser (core/manifest), the module's validate, a split and resolve, as a
// node would.
func TestReadmeExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "```toml\n")
	if start < 0 {
		t.Fatal("README.md has no toml block")
	}
	end := strings.Index(text[start+8:], "```")
	m, err := manifest.ParseTOML([]byte(text[start+8 : start+8+end]))
	if err != nil {
		t.Fatal(err)
	}
	p := load(t)
	ctx := context.Background()
	v, err := p.Validate(ctx, m.Canonical(), plugins.ValidateContext{TLD: "ai", PayloadSize: uint64(m.Payload.Size)})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ AI aitld.Normalized }
	if err := json.Unmarshal(v.Manifest, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.AI.Kind != "model" || doc.AI.Split.CreatorsBPS != 6000 || len(doc.AI.Card.TrainingData) != 2 || !strings.Contains(doc.AI.Card.Limitations, "\n") {
		t.Fatalf("normalized %+v %+v", doc.AI, doc.AI.Card)
	}
	allocs, err := p.Split(ctx, plugins.SplitInput{Manifest: v.Manifest, Epoch: "2026-05", Amount: 100000, Usage: plugins.Usage{
		Servers: []plugins.Server{{Node: "n1", Payout: "op-a", Bytes: 1 << 20}}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []plugins.Allocation{
		{Payee: "op-a", Role: "compute", Amount: 20000}, {Payee: "pool:moderation", Role: "moderation", Amount: 5000},
		{Payee: "ron1grace", Role: "creator", Amount: 12000}, {Payee: "ron1owc", Role: "contributor", Amount: 10500},
		{Payee: "ron1parl", Role: "contributor", Amount: 4500}, {Payee: "ron1ternlab", Role: "creator", Amount: 48000},
	}
	if !slices.Equal(allocs, want) {
		t.Fatalf("split\n got %v\nwant %v", allocs, want)
	}
	r, err := p.Resolve(ctx, plugins.ResolveInput{Manifest: v.Manifest, Path: "/", PayloadSize: uint64(m.Payload.Size)}, bytes.NewReader(nil))
	if err != nil || r.Status != 200 || r.Length != uint64(m.Payload.Size) {
		t.Fatalf("resolve /: %+v %v", r, err)
	}
}

// bench times the same call natively (ron.Dispatch on aitld, the code the
// module runs) and through the host on the module, in the same run, and
// reports both, their ratio and the module's median and 99th percentile.
func bench(b *testing.B, e plugins.Entry, input []byte) {
	p := load(b)
	ctx := context.Background()
	call := func() (int32, []byte, error) {
		if e != plugins.EntryResolve {
			res, err := p.Call(ctx, e, input)
			return res.Status, res.Output, err
		}
		var in plugins.ResolveInput
		if err := json.Unmarshal(input, &in); err != nil {
			return 0, nil, err
		}
		r, err := p.Resolve(ctx, in, bytes.NewReader(nil))
		if err != nil {
			return 0, nil, err
		}
		out, err := json.Marshal(r)
		return 0, out, err
	}
	native := func() (int32, []byte) {
		var r io.ReaderAt = bytes.NewReader(nil)
		return ron.Dispatch(aitld.New(), string(e), input, r)
	}
	nst, nout := native()
	wst, wout, err := call()
	if err != nil || nst != 0 || wst != 0 || (e != plugins.EntryResolve && !bytes.Equal(nout, wout)) {
		b.Fatalf("native (%d %s) and wasm (%d %s %v) disagree", nst, nout, wst, wout, err)
	}
	b.ResetTimer()
	nstart := time.Now()
	for range b.N {
		native()
	}
	nativeNs := float64(time.Since(nstart).Nanoseconds()) / float64(b.N)
	lat := make([]time.Duration, 0, b.N)
	wstart := time.Now()
	for range b.N {
		t0 := time.Now()
		if st, out, err := call(); err != nil || st != 0 {
			b.Fatalf("%d %s %v", st, out, err)
		}
		lat = append(lat, time.Since(t0))
	}
	wasmNs := float64(time.Since(wstart).Nanoseconds()) / float64(b.N)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(nativeNs, "native-ns/op")
	b.ReportMetric(wasmNs, "wasm-ns/op")
	b.ReportMetric(wasmNs/nativeNs, "x-native")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[(len(lat)-1)*99/100].Microseconds()), "p99-µs")
}

func normalizedExample(b *testing.B) json.RawMessage {
	v, err := load(b).Validate(context.Background(), json.RawMessage(aitld.Example), plugins.ValidateContext{TLD: "ai", PayloadSize: 14483464192})
	if err != nil {
		b.Fatal(err)
	}
	return v.Manifest
}

// go test -run '^$' -bench . -benchtime 2000x ./tlds/ai/
func BenchmarkValidate(b *testing.B) {
	bench(b, plugins.EntryValidate, []byte(`{"manifest":`+aitld.Example+`,"context":{"tld":"ai","payload_size":14483464192}}`))
}

func BenchmarkSplit(b *testing.B) {
	in, _ := json.Marshal(map[string]any{"manifest": normalizedExample(b), "epoch": "e", "amount": 1000003, "usage": map[string]any{
		"requests": 60, "bytes": 1 << 20, "servers": []map[string]any{
			{"node": "node-a", "payout": "op-a", "requests": 10, "bytes": 1000},
			{"node": "node-b", "payout": "op-b", "requests": 30, "bytes": 777777},
			{"node": "node-c", "payout": "op-a", "requests": 5, "bytes": 3},
			{"node": "node-d", "payout": "op-d", "requests": 15, "bytes": 270796},
		}}})
	bench(b, plugins.EntrySplit, in)
}

func BenchmarkResolve(b *testing.B) {
	in, _ := json.Marshal(plugins.ResolveInput{Manifest: normalizedExample(b), Path: "/", PayloadSize: 14483464192})
	bench(b, plugins.EntryResolve, in)
}
