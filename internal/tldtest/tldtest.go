package tldtest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ronhost/ronhost/conformance"
	"github.com/ronhost/ronhost/internal/core/manifest"
	"github.com/ronhost/ronhost/internal/plugins"
	"github.com/ronhost/ronhost/internal/wasmbuild"
	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/rontest"
)

// Plugin is a built-in plugin under test: the main package in the test's
// working directory, and the same logic natively. A wasm_test.go declares
// one and sets CacheDir from its TestMain:
//
//	var plug = tldtest.New("map", maptld.New())
//
//	func TestMain(m *testing.M) { os.Exit(wasmbuild.RunWithCache(m, &plug.CacheDir)) }
type Plugin struct {
	TLD    string     // the TLD the module must describe
	Native ron.Plugin // the logic package's plugin, the code the module runs
	// CacheDir is wazero's compilation cache for every host the helpers
	// start ("" keeps it in memory).
	CacheDir string

	once sync.Once
	wasm []byte
	err  error
}

// New returns the harness for the plugin of tld whose logic is native.
func New(tld string, native ron.Plugin) *Plugin {
	return &Plugin{TLD: tld, Native: native}
}

// Module builds the package in the working directory as a wasip1 reactor,
// once per test binary, and returns the module's bytes.
func (p *Plugin) Module(tb testing.TB) []byte {
	tb.Helper()
	p.once.Do(func() {
		dir, err := os.MkdirTemp("", "tlds-"+p.TLD+"-")
		if err != nil {
			p.err = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, p.TLD+".wasm")
		if p.err = wasmbuild.Build(context.Background(), ".", out); p.err == nil {
			p.wasm, p.err = os.ReadFile(out)
		}
	})
	if p.err != nil {
		tb.Fatal(p.err)
	}
	return p.wasm
}

// Load loads the module into a host of its own, closed when tb ends:
// one pooled instance and memoization off, so every call runs the module.
// The fuel budgets are the ABI's, the verdict on time on every machine; the
// wall-clock safety nets are conformance.SuiteNet times a node's, as the
// conformance suite's, so that a stalled CI runner does not stop a call
// (a node's resolve net is 1 s, which a saturated runner can reach).
func (p *Plugin) Load(tb testing.TB) *plugins.Plugin {
	tb.Helper()
	lim := plugins.DefaultLimits()
	lim.Describe, lim.Validate, lim.Split, lim.Resolve = conformance.SuiteNet*lim.Describe, conformance.SuiteNet*lim.Validate, conformance.SuiteNet*lim.Split, conformance.SuiteNet*lim.Resolve
	h := plugins.New(plugins.Config{CacheDir: p.CacheDir, MemoEntries: -1, PoolSize: 1, Limits: lim})
	tb.Cleanup(func() { _ = h.Close(context.Background()) })
	pl, err := h.Load(context.Background(), p.Module(tb))
	if err != nil {
		tb.Fatal(err)
	}
	return pl
}

// Conformance runs the whole conformance suite, generic checks and the
// cases of testdata/cases, on the module through the real host (update
// rewrites the cases' expectations instead). It fails t unless the module
// describes p.TLD, no check failed, some passed and at least minCases
// cases ran.
func (p *Plugin) Conformance(t *testing.T, minCases int, update bool) *conformance.Report {
	t.Helper()
	rep := conformance.Test(t, p.Module(t), conformance.Options{CasesDir: "testdata/cases", CacheDir: p.CacheDir, Update: update})
	if rep.TLD != p.TLD || rep.Failed() != 0 || rep.Passed() == 0 {
		t.Fatalf("tld %q, %d checks failed, %d passed", rep.TLD, rep.Failed(), rep.Passed())
	}
	cases := 0
	for _, c := range rep.Checks {
		if strings.HasPrefix(c.ID, "cases.") {
			cases++
		}
	}
	if cases < minCases {
		t.Fatalf("%d cases ran, want at least %d", cases, minCases)
	}
	return rep
}

// ReadmeManifests parses every ```toml block of README.md in the working
// directory with the node's manifest parser; it fails tb when there is none
// or one does not parse.
func ReadmeManifests(tb testing.TB) []*manifest.Manifest {
	tb.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		tb.Fatal(err)
	}
	blocks := strings.Split(string(b), "```toml\n")[1:]
	if len(blocks) == 0 {
		tb.Fatal("README.md has no toml block")
	}
	out := make([]*manifest.Manifest, len(blocks))
	for i, blk := range blocks {
		src, _, _ := strings.Cut(blk, "```")
		if out[i], err = manifest.ParseTOML([]byte(src)); err != nil {
			tb.Fatalf("README.md toml block %d: %v", i, err)
		}
	}
	return out
}

// CheckReadmeNative validates every Manifest.toml of README.md with the
// native plugin and requires the node's own checks ([meta], [payload]) to
// accept the normalized manifest: the documented examples are real.
func (p *Plugin) CheckReadmeNative(t *testing.T) {
	t.Helper()
	h := rontest.New(p.Native)
	for i, m := range ReadmeManifests(t) {
		out, err := h.Validate(t.Context(), ron.MustManifest(string(m.Canonical())), ron.Context{TLD: p.TLD, PayloadSize: uint64(m.Payload.Size)})
		if err != nil {
			t.Fatalf("block %d: %v", i, err)
		}
		if _, err := manifest.ParseJSON([]byte(out.Manifest.String())); err != nil {
			t.Fatalf("block %d normalized: %v", i, err)
		}
	}
}

// CheckHostManifests requires the node's own checks of [meta] and [payload]
// (core/manifest) to accept each example and, for every accepted case of
// testdata/cases, its manifest and expected normalized manifest: a plugin's
// examples must be valid manifests, not only valid to the plugin.
func CheckHostManifests(t *testing.T, examples []string) {
	t.Helper()
	for i, ex := range examples {
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

// Validated validates the JSON manifest m through pl, in p.TLD with the
// manifest's own [payload] size, and fails tb unless it is accepted.
func (p *Plugin) Validated(tb testing.TB, pl *plugins.Plugin, m string) *plugins.Validated {
	tb.Helper()
	var doc struct {
		Payload struct{ Size uint64 }
	}
	_ = json.Unmarshal([]byte(m), &doc)
	v, err := pl.Validate(context.Background(), json.RawMessage(m), plugins.ValidateContext{TLD: p.TLD, PayloadSize: doc.Payload.Size})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}
