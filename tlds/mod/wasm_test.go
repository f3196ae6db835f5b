package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
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
	"github.com/ronhost/ronhost/sdk-wasm/rontest"
	"github.com/ronhost/ronhost/tlds/mod/modtld"
)

// cacheDir is the wazero compilation cache shared by every host in these
// tests (and across packages when RON_TEST_WAZERO_CACHE is set).
var cacheDir string

func TestMain(m *testing.M) {
	dir, cleanup, err := wasmbuild.TestCacheDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cacheDir = dir
	code := m.Run()
	if cleanup != nil {
		cleanup()
	}
	os.Exit(code)
}

// The module is built once per test binary.
var (
	buildOnce sync.Once
	wasmBytes []byte
	buildErr  error
)

func module(tb testing.TB) []byte {
	tb.Helper()
	buildOnce.Do(func() {
		out := filepath.Join(cacheDir, "mod-test.wasm")
		if buildErr = wasmbuild.Build(context.Background(), ".", out); buildErr == nil {
			wasmBytes, buildErr = os.ReadFile(out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return wasmBytes
}

// TestConformance runs the whole suite, generic checks and the cases in
// testdata/cases, on the real .wasm through the real host.
func TestConformance(t *testing.T) {
	rep := conformance.Test(t, module(t), conformance.Options{CasesDir: "testdata/cases", CacheDir: cacheDir})
	var passed, failed, cases int
	for _, c := range rep.Checks {
		switch c.Status {
		case conformance.Pass:
			passed++
		case conformance.Fail:
			failed++
		}
		if strings.HasPrefix(c.ID, "cases.") {
			cases++
		}
	}
	if failed != 0 || passed == 0 {
		t.Fatalf("%d checks failed, %d passed", failed, passed)
	}
	if cases < 14 {
		t.Fatalf("only %d cases ran", cases)
	}
}

// TestExamplesAreValidManifests: the examples describe offers pass the host's
// own checks of [meta] and [payload] (core/manifest), not only the plugin's.
func TestExamplesAreValidManifests(t *testing.T) {
	for i, ex := range modtld.Examples() {
		if _, err := manifest.ParseJSON([]byte(ex)); err != nil {
			t.Errorf("examples[%d]: %v", i, err)
		}
	}
	names, _ := filepath.Glob("testdata/cases/*.json")
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Manifest json.RawMessage
			Expect   struct{ Manifest json.RawMessage }
		}
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		if c.Expect.Manifest == nil {
			continue // a rejected case may break the host's rules on purpose
		}
		for _, m := range []json.RawMessage{c.Manifest, c.Expect.Manifest} {
			if _, err := manifest.ParseJSON(m); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
}

// TestReadmeExamples parses every TOML block of README.md with the node's
// manifest parser and validates it with the plugin: the documented examples
// are real, signatures included.
func TestReadmeExamples(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(b), "```toml\n")[1:]
	if len(blocks) == 0 {
		t.Fatal("README.md has no TOML example")
	}
	h := rontest.New(modtld.New())
	for i, blk := range blocks {
		src, _, _ := strings.Cut(blk, "```")
		m, err := manifest.ParseTOML([]byte(src))
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		out, err := h.Validate(t.Context(), ron.MustManifest(string(m.Canonical())), ron.Context{TLD: "mod", PayloadSize: uint64(m.Payload.Size)})
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		if _, err := manifest.ParseJSON([]byte(out.Manifest.String())); err != nil {
			t.Fatalf("block %d normalized: %v", i, err)
		}
	}
}

// TestHostSplit splits the normalized example verdict through the host,
// which checks conservation and roles itself.
func TestHostSplit(t *testing.T) {
	p, stop := load(t)
	defer stop()
	v := validated(t, p, modtld.Examples()[1])
	got, err := p.Split(t.Context(), plugins.SplitInput{Manifest: v.Manifest, Epoch: "2026-03", Amount: 10007})
	if err != nil {
		t.Fatal(err)
	}
	// treasury floor(10007*1000/10000) = 1000; 9007 by weights 2:1 ->
	// 6004.67 / 3002.33 -> 6005 (largest remainder) / 3002.
	want := []plugins.Allocation{
		{Payee: "ron1grace", Role: modtld.RoleModerator, Amount: 6005},
		{Payee: "ron1lyonmod", Role: modtld.RoleModerator, Amount: 3002},
		{Payee: modtld.TreasuryPayout, Role: modtld.RoleTreasury, Amount: 1000},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
}

func load(tb testing.TB) (*plugins.Plugin, func()) {
	tb.Helper()
	h := plugins.New(plugins.Config{CacheDir: cacheDir, PoolSize: 1, MemoEntries: -1})
	p, err := h.Load(context.Background(), module(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return p, func() { _ = h.Close(context.Background()) }
}

func validated(tb testing.TB, p *plugins.Plugin, ex string) *plugins.Validated {
	tb.Helper()
	var meta struct {
		Payload struct{ Size uint64 }
	}
	_ = json.Unmarshal([]byte(ex), &meta)
	v, err := p.Validate(context.Background(), json.RawMessage(ex), plugins.ValidateContext{TLD: modtld.TLD, PayloadSize: meta.Payload.Size})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// quantiles runs f b.N times and reports the median and 99th percentile
// of its wall time next to the mean (ns/op).
func quantiles(b *testing.B, f func()) {
	b.Helper()
	var ds []time.Duration
	for b.Loop() {
		start := time.Now()
		f()
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(ds[len(ds)*99/100].Nanoseconds()), "p99-ns")
}

// bigVerdict is a verdict signed by the most moderators a verdict may have:
// the slowest manifest to validate (MaxModerators signature checks).
func bigVerdict(tb testing.TB) string {
	tab := modtld.Table{TreasuryBPS: modtld.DefaultTreasuryBPS, Verdict: &modtld.Verdict{
		Target: "b3:" + strings.Repeat("ab", 32), Label: "spam", Reason: "r", Time: "2026-03-01T12:30:00Z",
	}}
	var keys []ed25519.PrivateKey
	for i := range modtld.MaxModerators {
		k := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, ed25519.SeedSize))
		keys = append(keys, k)
		tab.Verdict.Moderators = append(tab.Verdict.Moderators, modtld.Signer{Key: modtld.PublicKey(k.Public().(ed25519.PublicKey)), Payout: fmt.Sprintf("ron1m%d", i), Weight: uint64(i + 1)})
	}
	slices.SortFunc(tab.Verdict.Moderators, func(a, b modtld.Signer) int { return strings.Compare(a.Key, b.Key) })
	if err := modtld.Sign(&tab, keys...); err != nil {
		tb.Fatal(err)
	}
	b, err := json.Marshal(map[string]any{"meta": map[string]any{"tld": "mod"}, "payload": map[string]any{"cid": "b3:" + strings.Repeat("cd", 32), "size": 2048}, "mod": tab})
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// BenchmarkWasmValidate validates through the host (memo off, so every call
// runs the module): the examples (one and two signatures verified in wasm)
// and a verdict with the most moderators (8 signatures).
func BenchmarkWasmValidate(b *testing.B) {
	p, stop := load(b)
	defer stop()
	exs := map[string]string{"moderator": modtld.Examples()[0], "verdict": modtld.Examples()[1], "verdict-max": bigVerdict(b)}
	for _, name := range []string{"moderator", "verdict", "verdict-max"} {
		ex := json.RawMessage(exs[name])
		b.Run(name, func(b *testing.B) {
			quantiles(b, func() {
				if _, err := p.Validate(context.Background(), ex, plugins.ValidateContext{TLD: modtld.TLD, PayloadSize: 2048}); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkWasmSplit splits the normalized verdict through the host.
func BenchmarkWasmSplit(b *testing.B) {
	p, stop := load(b)
	defer stop()
	v := validated(b, p, modtld.Examples()[1])
	in := plugins.SplitInput{Manifest: v.Manifest, Epoch: "2026-03", Amount: 1_000_003}
	quantiles(b, func() {
		if _, err := p.Split(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	})
	b.ReportMetric(float64(len(module(b))), "wasm-bytes")
}

// BenchmarkWasmResolve resolves "/" of the normalized verdict through the host.
func BenchmarkWasmResolve(b *testing.B) {
	p, stop := load(b)
	defer stop()
	v := validated(b, p, modtld.Examples()[1])
	obj := bytes.NewReader(make([]byte, 2048))
	quantiles(b, func() {
		r, err := p.Resolve(context.Background(), plugins.ResolveInput{Manifest: v.Manifest, Path: "/", PayloadSize: 2048}, obj)
		if err != nil || r.Status != 200 {
			b.Fatal(r, err)
		}
	})
}
