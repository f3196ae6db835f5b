package aitld_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/internal/tldtest"
	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/rontest"
	"github.com/ronhost/ronhost/tlds/ai/aitld"
)

var ctx = context.Background()

func TestConformanceNative(t *testing.T) {
	rontest.CheckPlugin(t, rontest.New(aitld.New()))
}

// validate returns the normalized [ai] table, or the rejection as
// "path:code" strings.
func validate(t *testing.T, m string) (string, []string) {
	return tldtest.ValidateNative(t, aitld.New(), "ai", m, 4096)
}

func TestValidateNormalizes(t *testing.T) {
	h := rontest.New(aitld.New())
	out := rontest.CheckValidate(t, h, ron.MustManifest(aitld.Example), ron.Context{TLD: "ai", PayloadSize: 14483464192})
	want := `{"card":{"architecture":"decoder-only transformer","intended_use":"General text generation and summarization in English and French.",` +
		`"license":"Apache-2.0","limitations":"May state falsehoods; not evaluated for medical or legal advice.","parameters":7241732096,` +
		`"training_data":["b3:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0","b3:7e1c2d3f4a5b6c7d8e9fa0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1"]},` +
		`"contributors":[{"name":"Open Web Corpus","payout":"ron1owc","weight":700},{"name":"Parliament Transcripts","payout":"ron1parl","weight":300}],` +
		`"creators":[{"name":"Tern Lab","payout":"ron1ternlab","share":8000},{"name":"Grace","payout":"ron1grace","share":2000}],` +
		`"kind":"model","pricing":{"per_1k_tokens":0,"per_call":0},"providers":[],` +
		`"split":{"compute_bps":2000,"contributors_bps":1500,"creators_bps":6000,"moderation_bps":500}}`
	if got := string(out.Manifest.Raw("ai")); got != want {
		t.Fatalf("\n got %s\nwant %s", got, want)
	}
	if out.Index.Title != "Tern 7B" || strings.Join(out.Index.Tags, ",") != "llm,model,text" {
		t.Fatalf("index %+v", out.Index)
	}
	out = rontest.CheckValidate(t, h, ron.MustManifest(aitld.ExampleInference), ron.Context{TLD: "ai", PayloadSize: 2048})
	var n aitld.Normalized
	if err := json.Unmarshal(out.Manifest.Raw("ai"), &n); err != nil {
		t.Fatal(err)
	}
	// Providers are sorted by node; the creators take what is left.
	if n.Card != nil || n.Providers[0].Node != "node-aurora" || n.Split.CreatorsBPS != 3500 || n.Creators[0].Share != 10000 || n.Pricing.Per1KTokens != 120 {
		t.Fatalf("%+v", n)
	}
}

func TestValidateText(t *testing.T) {
	m := `{"meta":{"tld":"ai"},"ai":{"kind":"dataset","creators":[{"name":"A","payout":"ron1a"}],"card":{"license":"cc-by-4.0 or cc0-1.0",` +
		`"intended_use":"\r\n  First line.   \r\n\r\n\r\n\tSecond\tparagraph.\n\n","limitations":"none known"}}}`
	got, errs := validate(t, m)
	if errs != nil {
		t.Fatal(errs)
	}
	var n aitld.Normalized
	if err := json.Unmarshal([]byte(got), &n); err != nil {
		t.Fatal(err)
	}
	if n.Card.IntendedUse != "First line.\n\n\tSecond\tparagraph." || n.Card.License != "CC-BY-4.0 OR CC0-1.0" || n.Card.Architecture != nil {
		t.Fatalf("%q %q", n.Card.IntendedUse, n.Card.License)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	m := `{"meta":{"tld":"ai"},"extra":1,"ai":{"kind":"dataset","model":"b3:00",
		"card":{"architecture":"cnn","parameters":5,"license":"Llama-2","training_data":["b3:AB","b3:` + strings.Repeat("a", 64) + `","b3:` + strings.Repeat("a", 64) + `"],"intended_use":"","limitations":"x"},
		"pricing":{"per_call":9007199254740992,"per_1k_tokens":3},
		"providers":[{"name":"P","node":"bad node","payout":"ron1p"}],
		"creators":[{"name":"A","payout":"ron1a","share":5000},{"name":"B","payout":"ron1a","share":4000}],
		"contributors":[{"name":"","payout":"x","weight":0}],
		"split":{"moderation_bps":20000}}}`
	_, errs := validate(t, m)
	want := []string{
		"ai.card.architecture:kind", "ai.card.intended_use:required", "ai.card.license:license", "ai.card.parameters:kind",
		"ai.card.training_data[0]:format", "ai.card.training_data[2]:duplicate",
		"ai.contributors[0].name:required", "ai.contributors[0].payout:format", "ai.contributors[0].weight:range",
		"ai.creators:sum", "ai.creators[1].payout:duplicate",
		"ai.model:kind",
		"ai.pricing.per_1k_tokens:kind", "ai.pricing.per_call:range",
		"ai.providers[0].node:format",
		"ai.split.moderation_bps:range",
		"extra:unknown",
	}
	if strings.Join(errs, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(errs, "\n"), strings.Join(want, "\n"))
	}
}

func TestValidateErrors(t *testing.T) {
	const card = `"card":{"architecture":"mlp","parameters":10,"license":"MIT","intended_use":"u","limitations":"l"}`
	const cr = `"creators":[{"name":"A","payout":"ron1a"}]`
	for _, c := range []struct{ manifest, want string }{
		{`{"meta":{"tld":"map"},"ai":{"kind":"model",` + card + `,` + cr + `}}`, "meta.tld:mismatch"},
		{`{"meta":{"tld":"ai"}}`, "ai:required"},
		{`{"meta":{"tld":"ai"},"ai":{` + card + `,` + cr + `}}`, "ai.kind:required"},
		{`{"meta":{"tld":"ai"},"ai":{"kind":"agent",` + card + `,` + cr + `}}`, "ai.kind:enum"},
		{`{"meta":{"tld":"ai"},"ai":{"kind":"model",` + cr + `}}`, "ai.card:required"},
		{`{"meta":{"tld":"ai"},"ai":{"kind":"model","card":{"parameters":10,"license":"MIT","intended_use":"u","limitations":"l"},` + cr + `}}`, "ai.card.architecture:required"},
		{`{"meta":{"tld":"ai"},"ai":{"kind":"model","card":{"architecture":"x","license":"MIT","intended_use":"u","limitations":"l"},` + cr + `}}`, "ai.card.parameters:required"},
		{`{"meta":{"tld":"ai"},"ai":{"kind":"model","card":{"architecture":"x","parameters":0,"license":"MIT","intended_use":"u","limitations":"l"},` + cr + `}}`, "ai.card.parameters:range"},
		{`{"meta":{"tld":"ai"},"ai":{"kind":"model","card":{"architecture":"x","parameters":1,"license":"MIT","intended_use":"u","limitations":"l","eval":"x"},` + cr + `}}`, "ai.card.eval:unknown"},
		{`{"meta":{"tld":"ai"},"ai":{"kind":"model","card":{"architecture":"x","parameters":1,"intended_use":"u","limitations":"l"},` + cr + `}}`, "ai.card.license:required"},
		{`{"meta":{"tld":"ai"},"ai":{"kind":"model","card":{"architecture":"x","parameters":1,"license":"MIT","intended_use":"u","limitations":"a\u0007b"},` + cr + `}}`, "ai.card.limitations:format"},
		{`{"meta":{"tld":"ai"},"ai":{"kind":"inference","model":"b3:` + strings.Repeat("0", 64) + `","providers":[{"name":"P","node":"n1","payout":"ron1p"}],` + cr + `}}`, ""},
		{`{"meta":{"tld":"ai"},"ai":{"kind":"inference","providers":[{"name":"P","node":"n1","payout":"ron1p"}],` + cr + `}}`, "ai.model:required"},
		{`{"meta":{"tld":"ai"},"ai":{"kind":"inference","model":"b3:` + strings.Repeat("F", 64) + `","providers":[{"name":"P","node":"n1","payout":"ron1p"}],` + cr + `}}`, "ai.model:format"},
		{`{"meta":{"tld":"ai"},"ai":{"kind":"inference","model":"b3:` + strings.Repeat("0", 64) + `",` + cr + `}}`, "ai.providers:required"},
		{`{"meta":{"tld":"ai"},"ai":{"kind":"inference","model":"b3:` + strings.Repeat("0", 64) + `","providers":[{"name":"P","node":"n1","payout":"ron1p"},{"name":"Q","node":"n1","payout":"ron1q"}],` + cr + `}}`, "ai.providers[1].node:duplicate"},
		{`{"meta":{"tld":"ai"},"ai":{"kind":"model",` + card + `,"creators":[]}}`, "ai.creators:required"},
		{`{"meta":{"tld":"ai"},"ai":{"kind":"model",` + card + `,"creators":[{"name":"A","payout":"ron1a","share":5000},{"name":"B","payout":"ron1b"}]}}`, "ai.creators[1].share:required"},
		{`{"meta":{"tld":"ai"},"ai":{"kind":"model",` + card + `,"creators":[{"name":"A","payout":"Ron1a"}]}}`, "ai.creators[0].payout:format"},
		{`{"meta":{"tld":"ai"},"ai":{"kind":"model",` + card + `,` + cr + `,"split":{"contributors_bps":100}}}`, "ai.contributors:required"},
		{`{"meta":{"tld":"ai"},"ai":{"kind":"model",` + card + `,` + cr + `,"split":{"creators_bps":100}}}`, "ai.split:sum"},
		{`{"meta":{"tld":"ai"},"ai":{"kind":"model",` + card + `,` + cr + `,"split":{"compute_bps":9600}}}`, "ai.split:sum"},
		{`{"meta":{"tld":"ai"},"ai":{"kind":"model",` + card + `,` + cr + `,"split":{"moderation_bps":99}}}`, "ai.split.moderation_bps:range"},
		{`{"meta":{"tld":"ai"},"ai":{"kind":"model",` + card + `,` + cr + `,"pricing":{"per_call":-1}}}`, "ai.pricing.per_call:type"},
		{`{"meta":{"tld":"ai"},"ai":{"kind":"model",` + card + `,` + cr + `,"contributors":[{"name":"C","payout":"ron1c","weight":1.5}]}}`, "ai.contributors[0].weight:type"},
	} {
		_, errs := validate(t, c.manifest)
		if got := strings.Join(errs, " "); got != c.want {
			t.Errorf("%s\n got %q\nwant %q", c.manifest, got, c.want)
		}
	}
}

func TestResolve(t *testing.T) {
	h := rontest.New(aitld.New())
	m := normalized(t, aitld.Example)
	payload := bytes.Repeat([]byte{7}, 100)
	for path, want := range map[string]ron.ResolveOutput{
		"/":        ron.Serve("application/octet-stream", 0, 100),
		"":         ron.Serve("application/octet-stream", 0, 100),
		"/card":    ron.NotFound(),
		"/weights": ron.NotFound(),
	} {
		got, err := h.Resolve(ctx, ron.ResolveInput{Manifest: m, Path: path, PayloadSize: 100}, bytes.NewReader(payload))
		if err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", path, got, err, want)
		}
	}
	inf := normalized(t, aitld.ExampleInference)
	if got, err := h.Resolve(ctx, ron.ResolveInput{Manifest: inf, Path: "/", PayloadSize: 2048}, nil); err != nil || got != ron.Serve("application/json", 0, 2048) {
		t.Errorf("inference /: %+v %v", got, err)
	}
}
