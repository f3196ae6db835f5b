package main

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/internal/plugins"
	"github.com/ronhost/ronhost/internal/tldtest"
	"github.com/ronhost/ronhost/internal/wasmbuild"
	"github.com/ronhost/ronhost/tlds/mod/modtld"
)

// plug is this package built as a module, with the native modtld beside it.
var plug = tldtest.New(modtld.TLD, modtld.New())

func TestMain(m *testing.M) { os.Exit(wasmbuild.RunWithCache(m, &plug.CacheDir)) }

// TestConformance runs the whole suite, generic checks and the cases in
// testdata/cases, on the real .wasm through the real host.
func TestConformance(t *testing.T) {
	plug.Conformance(t, 14, false)
}

// TestExamplesAreValidManifests: the examples describe offers pass the host's
// own checks of [meta] and [payload] (core/manifest), not only the plugin's.
func TestExamplesAreValidManifests(t *testing.T) {
	tldtest.CheckHostManifests(t, modtld.Examples())
}

// TestReadmeExamples parses every TOML block of README.md with the node's
// manifest parser and validates it with the plugin: the documented examples
// are real, signatures included.
func TestReadmeExamples(t *testing.T) {
	plug.CheckReadmeNative(t)
}

// TestHostSplit splits the normalized example verdict through the host,
// which checks conservation and roles itself.
func TestHostSplit(t *testing.T) {
	p := plug.Load(t)
	v := plug.Validated(t, p, modtld.Examples()[1])
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

// bigVerdict is a verdict signed by the most moderators a verdict may have:
// the slowest manifest to validate (MaxModerators signature checks).
func bigVerdict(tb testing.TB) string {
	tab := modtld.Table{TreasuryBPS: modtld.DefaultTreasuryBPS, Verdict: &modtld.Verdict{
		Target: "b3:" + strings.Repeat("ab", 32), Label: "spam", Reason: "r", Time: "2026-03-01T12:30:00Z",
	}}
	var keys []ed25519.PrivateKey
	for i := range modtld.MaxModerators {
		k := tldtest.DevKey(byte(i + 1))
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
	plug.BenchValidate(b, 2048, []string{"moderator", "verdict", "verdict-max"}, []string{modtld.Examples()[0], modtld.Examples()[1], bigVerdict(b)})
}

// BenchmarkWasmSplit splits the normalized verdict through the host.
func BenchmarkWasmSplit(b *testing.B) { plug.BenchSplit(b, modtld.Examples()[1]) }

// BenchmarkWasmResolve resolves "/" of the normalized verdict through the host.
func BenchmarkWasmResolve(b *testing.B) { plug.BenchResolveRoot(b, modtld.Examples()[1], 2048) }
