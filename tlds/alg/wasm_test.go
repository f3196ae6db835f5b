package main

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/ronhost/ronhost/internal/plugins"
	"github.com/ronhost/ronhost/internal/tldtest"
	"github.com/ronhost/ronhost/internal/wasmbuild"
	"github.com/ronhost/ronhost/tlds/alg/algtld"
)

// plug is this package built as a module, with the native algtld beside it.
var plug = tldtest.New(algtld.TLD, algtld.New())

func TestMain(m *testing.M) { os.Exit(wasmbuild.RunWithCache(m, &plug.CacheDir)) }

// TestConformance runs the whole suite, generic checks and the cases in
// testdata/cases, on the real .wasm through the real host.
func TestConformance(t *testing.T) {
	plug.Conformance(t, 14, false)
}

// TestExamplesAreValidManifests: the examples describe offers pass the host's
// own checks of [meta] and [payload] (core/manifest), not only the plugin's.
func TestExamplesAreValidManifests(t *testing.T) {
	tldtest.CheckHostManifests(t, algtld.Examples())
}

// TestReadmeExamples parses every TOML block of README.md with the node's
// manifest parser and validates it with the plugin: the documented examples
// are real, signatures included.
func TestReadmeExamples(t *testing.T) {
	plug.CheckReadmeNative(t)
}

// TestHostSplit splits the normalized feed example through the host, which
// checks conservation and roles itself.
func TestHostSplit(t *testing.T) {
	p := plug.Load(t)
	v := plug.Validated(t, p, algtld.Examples()[0])
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
		if err := algtld.Sign(&a, tldtest.DevKey(byte(i+1))); err != nil {
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
	plug.BenchValidate(b, 48213, []string{"feed", "ranking", "feed-max"}, []string{algtld.Examples()[0], algtld.Examples()[1], bigFeed(b)})
}

// BenchmarkWasmSplit splits the normalized feed through the host.
func BenchmarkWasmSplit(b *testing.B) { plug.BenchSplit(b, algtld.Examples()[0]) }

// BenchmarkWasmResolve resolves "/" of the normalized feed through the host.
func BenchmarkWasmResolve(b *testing.B) { plug.BenchResolveRoot(b, algtld.Examples()[0], 48213) }
