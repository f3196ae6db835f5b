package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/internal/plugins"
	"github.com/ronhost/ronhost/internal/tldtest"
	"github.com/ronhost/ronhost/internal/wasmbuild"
	"github.com/ronhost/ronhost/tlds/ai/aitld"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expectations of testdata/cases with what the plugin answers")

// plug is this package built as a module, with the native aitld beside it.
var plug = tldtest.New("ai", aitld.New())

func TestMain(m *testing.M) { os.Exit(wasmbuild.RunWithCache(m, &plug.CacheDir)) }

// TestConformance runs the whole conformance suite, generic checks and this
// plugin's cases, on the module through the real host.
func TestConformance(t *testing.T) {
	plug.Conformance(t, 20, *rewrite)
}

// TestReadmeExample takes the Manifest.toml of README.md through the host's
// parser (core/manifest), the module's validate, a split and resolve, as a
// node would.
func TestReadmeExample(t *testing.T) {
	m := tldtest.ReadmeManifests(t)[0]
	p := plug.Load(t)
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

func normalizedExample(b *testing.B) json.RawMessage {
	v, err := plug.Load(b).Validate(context.Background(), json.RawMessage(aitld.Example), plugins.ValidateContext{TLD: "ai", PayloadSize: 14483464192})
	if err != nil {
		b.Fatal(err)
	}
	return v.Manifest
}

// go test -run '^$' -bench . -benchtime 2000x ./tlds/ai/
func BenchmarkValidate(b *testing.B) {
	plug.CompareNative(b, plugins.EntryValidate, []byte(`{"manifest":`+aitld.Example+`,"context":{"tld":"ai","payload_size":14483464192}}`), nil)
}

func BenchmarkSplit(b *testing.B) {
	in := tldtest.SplitInput(normalizedExample(b))
	plug.CompareNative(b, plugins.EntrySplit, in, nil)
}

func BenchmarkResolve(b *testing.B) {
	in, _ := json.Marshal(plugins.ResolveInput{Manifest: normalizedExample(b), Path: "/", PayloadSize: 14483464192})
	plug.CompareNative(b, plugins.EntryResolve, in, nil)
}
