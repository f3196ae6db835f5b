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
	"github.com/ronhost/ronhost/tlds/alg/algtld"
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
		out := filepath.Join(cacheDir, "alg-test.wasm")
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
	for i, ex := range algtld.Examples() {
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
	h := rontest.New(algtld.New())
	for i, blk := range blocks {
		src, _, _ := strings.Cut(blk, "```")
		m, err := manifest.ParseTOML([]byte(src))
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		out, err := h.Validate(t.Context(), ron.MustManifest(string(m.Canonical())), ron.Context{TLD: "alg", PayloadSize: uint64(m.Payload.Size)})
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		if _, err := manifest.ParseJSON([]byte(out.Manifest.String())); err != nil {
			t.Fatalf("block %d normalized: %v", i, err)
		}
	}
}

// TestHostSplit splits the normalized feed example through the host, which
// checks conservation and roles itself.
func TestHostSplit(t *testing.T) {
	p, stop := load(t)
	defer stop()
	v := validated(t, p, algtld.Examples()[0])
	got, err := p.Split(t.Context(), plugins.SplitInput{Manifest: v.Manifest, Epoch: "2026-03", Amount: 10007})
	if err != nil {
		t.Fatal(err)
	}
	// auditors floor(10007*1500/10000) = 1501 to the one audit of the
	// current code; authors 8506 at 70/30: 5954.2 / 2551.8 -> 5954 / 2552.
	want := []plugins.Allocation{
		{Payee: "ron1ada", Role: algtld.RoleAuthor, Amount: 5954},
		{Payee: "ron1grace", Role: algtld.RoleAuthor, Amount: 2552},
		{Payee: "ron1ofa", Role: algtld.RoleAuditor, Amount: 1501},
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
	v, err := p.Validate(context.Background(), json.RawMessage(ex), plugins.ValidateContext{TLD: algtld.TLD, PayloadSize: meta.Payload.Size})
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

// bigFeed is the feed example with the most audits a manifest may list, all
// of the current code: the slowest manifest to validate (MaxAudits
// signature checks).
func bigFeed(tb testing.TB) string {
	var doc map[string]any
	if err := json.Unmarshal([]byte(algtld.Examples()[0]), &doc); err != nil {
		tb.Fatal(err)
	}
	alg := doc["alg"].(map[string]any)
	var audits []any
	for i := range algtld.MaxAudits {
		a := algtld.Audit{Auditor: fmt.Sprintf("Auditor %d", i), Payout: fmt.Sprintf("ron1a%d", i), Code: alg["code"].(string),
			Version: "2.1.0", Date: "2026-02-10", Result: "pass"}
		if err := algtld.Sign(&a, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, ed25519.SeedSize))); err != nil {
			tb.Fatal(err)
		}
		audits = append(audits, a)
	}
	alg["audits"] = audits
	b, err := json.Marshal(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// BenchmarkWasmValidate validates through the host (memo off, so every call
// runs the module): the examples (two and no audit signatures verified in
// wasm) and a feed with the most audits (8 signatures).
func BenchmarkWasmValidate(b *testing.B) {
	p, stop := load(b)
	defer stop()
	exs := map[string]string{"feed": algtld.Examples()[0], "ranking": algtld.Examples()[1], "feed-max": bigFeed(b)}
	for _, name := range []string{"feed", "ranking", "feed-max"} {
		ex := json.RawMessage(exs[name])
		b.Run(name, func(b *testing.B) {
			quantiles(b, func() {
				if _, err := p.Validate(context.Background(), ex, plugins.ValidateContext{TLD: algtld.TLD, PayloadSize: 48213}); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// BenchmarkWasmSplit splits the normalized feed through the host.
func BenchmarkWasmSplit(b *testing.B) {
	p, stop := load(b)
	defer stop()
	v := validated(b, p, algtld.Examples()[0])
	in := plugins.SplitInput{Manifest: v.Manifest, Epoch: "2026-03", Amount: 1_000_003}
	quantiles(b, func() {
		if _, err := p.Split(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	})
	b.ReportMetric(float64(len(module(b))), "wasm-bytes")
}

// BenchmarkWasmResolve resolves "/" of the normalized feed through the host.
func BenchmarkWasmResolve(b *testing.B) {
	p, stop := load(b)
	defer stop()
	v := validated(b, p, algtld.Examples()[0])
	obj := bytes.NewReader(make([]byte, 48213))
	quantiles(b, func() {
		r, err := p.Resolve(context.Background(), plugins.ResolveInput{Manifest: v.Manifest, Path: "/", PayloadSize: 48213}, obj)
		if err != nil || r.Status != 200 {
			b.Fatal(r, err)
		}
	})
}
