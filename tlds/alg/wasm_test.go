package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

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
	if rep.Failed() != 0 || rep.Passed() == 0 {
		t.Fatalf("%d checks failed, %d passed", rep.Failed(), rep.Passed())
	}
	cases := 0
	for _, c := range rep.Checks {
		if len(c.ID) > 6 && c.ID[:6] == "cases." {
			cases++
		}
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

// BenchmarkWasmValidate validates each example through the host (memo off,
// so every call runs the module): the feed's two audit signatures are
// verified in wasm.
func BenchmarkWasmValidate(b *testing.B) {
	p, stop := load(b)
	defer stop()
	for i, name := range []string{"feed", "ranking"} {
		ex := json.RawMessage(algtld.Examples()[i])
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := p.Validate(context.Background(), ex, plugins.ValidateContext{TLD: algtld.TLD, PayloadSize: 48213}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWasmSplit splits the normalized feed through the host.
func BenchmarkWasmSplit(b *testing.B) {
	p, stop := load(b)
	defer stop()
	v := validated(b, p, algtld.Examples()[0])
	in := plugins.SplitInput{Manifest: v.Manifest, Epoch: "2026-03", Amount: 1_000_003}
	for b.Loop() {
		if _, err := p.Split(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
}
