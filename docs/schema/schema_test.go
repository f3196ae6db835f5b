package schema_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/docs/schema"
	"github.com/ronhost/ronhost/internal/core/manifest"
	"github.com/ronhost/ronhost/internal/plugins"
	"github.com/ronhost/ronhost/sdk-wasm/jsonschema"
)

func load(t *testing.T) *jsonschema.Set {
	t.Helper()
	set, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestEveryEntryPointHasSchemas(t *testing.T) {
	set := load(t)
	have := map[string]bool{}
	for _, n := range set.Names() {
		have[n] = true
	}
	for _, e := range []plugins.Entry{plugins.EntryDescribe, plugins.EntryValidate, plugins.EntrySplit, plugins.EntryResolve} {
		name := strings.TrimPrefix(string(e), "ron_")
		for _, n := range []string{schema.Input(name), schema.Output(name)} {
			if !have[n] {
				t.Errorf("no schema %s", n)
			}
		}
	}
	for _, n := range []string{schema.Errors, schema.Manifest, schema.Meta, schema.Payload, schema.Context} {
		if !have[n] {
			t.Errorf("no schema %s", n)
		}
	}
}

// manifests are the TOML manifests the docs and tests show: every ```toml
// block with a [meta] table in the READMEs and docs, and the manifest
// package's test data.
func manifests(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	var docs []string
	for _, g := range []string{"../../README.md", "../*.md", "../../tlds/*/README.md", "../../sdk-wasm/template/*.md"} {
		m, _ := filepath.Glob(g)
		docs = append(docs, m...)
	}
	for _, d := range docs {
		b, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		for i, blk := range strings.Split(string(b), "```toml\n")[1:] {
			src, _, _ := strings.Cut(blk, "```")
			if strings.Contains(src, "[meta]") {
				out[d+"#"+string(rune('0'+i))] = []byte(src)
			}
		}
	}
	files, _ := filepath.Glob("../../internal/core/manifest/testdata/*.toml")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = b
	}
	if len(out) < 5 {
		t.Fatalf("only %d manifests found", len(out))
	}
	return out
}

// What the host actually produces from a manifest, and the inputs it builds
// around it, match the schemas the docs publish.
func TestHostInputsMatchTheSchemas(t *testing.T) {
	set := load(t)
	n := 0
	for name, src := range manifests(t) {
		m, err := manifest.ParseTOML(src)
		if err != nil {
			t.Logf("%s: not a manifest the host accepts (%v); skipped", name, err)
			continue
		}
		n++
		canon := m.Canonical()
		if err := set.Validate(schema.Manifest, canon); err != nil {
			t.Errorf("%s: the host's manifest breaks manifest.schema.json: %v\n%s", name, err, canon)
		}
		in, err := json.Marshal(struct {
			Manifest json.RawMessage         `json:"manifest"`
			Context  plugins.ValidateContext `json:"context"`
		}{canon, plugins.ValidateContext{TLD: m.Meta.TLD, PayloadSize: uint64(m.Payload.Size)}})
		if err != nil {
			t.Fatal(err)
		}
		if err := set.Validate(schema.Input("validate"), in); err != nil {
			t.Errorf("%s: validate input: %v", name, err)
		}
		split, _ := json.Marshal(plugins.SplitInput{Manifest: canon, Epoch: "2026-11", Amount: plugins.MaxMoney,
			Usage: plugins.Usage{Requests: 3, Bytes: 9, Servers: []plugins.Server{{Node: "n", Payout: "p", Requests: 3, Bytes: 9}}}})
		if err := set.Validate(schema.Input("split"), split); err != nil {
			t.Errorf("%s: split input: %v", name, err)
		}
		resolve, _ := json.Marshal(plugins.ResolveInput{Manifest: canon, Path: "/a/b", PayloadSize: uint64(m.Payload.Size)})
		if err := set.Validate(schema.Input("resolve"), resolve); err != nil {
			t.Errorf("%s: resolve input: %v", name, err)
		}
	}
	if n < 5 {
		t.Fatalf("only %d manifests parsed", n)
	}
	if err := set.Validate(schema.Input("describe"), []byte(`{"abi":1,"host":{"name":"ronhost","version":"1.0.0"}}`)); err != nil {
		t.Error(err)
	}
}

// The schemas of [meta] and [payload] say what the host's own checks say:
// on a valid manifest and on each hostile mutation of its host tables, the
// host (manifest.Normalize) and the schema give the same verdict.
func TestHostTableSchemasAgreeWithTheHost(t *testing.T) {
	set := load(t)
	base := `{"meta":{"tld":"notes","title":"T","description":"d","created":"2025-08-25T12:34:56Z","updated":"2025-08-25T12:34:56.5+02:00",
"license":"MIT","tags":["a","b"],"authors":["Ada"],"price":1200},
"payload":{"cid":"b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262","size":1234,"media_type":"text/plain","filename":"a.txt"},
"notes":{"x":1}}`
	for _, tc := range []struct{ table, key, val string }{
		{"", "", ""},
		{"meta", "created", `20250825`},
		{"meta", "created", `"2025-08-25"`},
		{"meta", "created", `"yesterday"`},
		{"meta", "updated", `"2025-08-25T12:34:56"`},
		{"meta", "title", `42`},
		{"meta", "title", `"a\u0001b"`},
		{"meta", "title", `"` + strings.Repeat("t", 257) + `"`},
		{"meta", "description", `"` + strings.Repeat("d", 4097) + `"`},
		{"meta", "license", `["MIT"]`},
		{"meta", "tld", `"Notes"`},
		{"meta", "tld", `"no.tes"`},
		{"meta", "tld", `""`},
		{"meta", "tld", `"` + strings.Repeat("a", 33) + `"`},
		{"meta", "tags", `"a"`},
		{"meta", "tags", `[""]`},
		{"meta", "tags", `[1]`},
		{"meta", "tags", `["a\tb"]`},
		{"meta", "tags", `[` + strings.TrimSuffix(strings.Repeat(`"t",`, 33), ",") + `]`},
		{"meta", "authors", `["` + strings.Repeat("a", 257) + `"]`},
		{"meta", "price", `-1`},
		{"meta", "price", `9007199254740991`},
		{"meta", "price", `9007199254740992`},
		{"meta", "price", `1.5`},
		{"meta", "price", `"12"`},
		{"meta", "colour", `"red"`},
		{"payload", "cid", `"b3:AF1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"`},
		{"payload", "cid", `"af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"`},
		{"payload", "cid", `7`},
		{"payload", "size", `-1`},
		{"payload", "size", `"1234"`},
		{"payload", "size", `12.5`},
		{"payload", "media_type", `"text"`},
		{"payload", "media_type", `"TEXT/Plain; charset=utf-8"`},
		{"payload", "filename", `"../a.txt"`},
		{"payload", "filename", `".."`},
		{"payload", "filename", `"a\\b"`},
		{"payload", "filename", `""`},
		{"payload", "etag", `"x"`},
	} {
		var doc map[string]map[string]json.RawMessage
		if err := json.Unmarshal([]byte(base), &doc); err != nil {
			t.Fatal(err)
		}
		label := "the valid manifest"
		if tc.table != "" {
			doc[tc.table][tc.key] = json.RawMessage(tc.val)
			label = tc.table + "." + tc.key + " = " + tc.val
			if len(label) > 80 {
				label = label[:80]
			}
		}
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		_, hostErr := manifest.ParseJSON(b)
		if hostErr != nil && !errors.Is(hostErr, manifest.ErrInvalid) {
			t.Fatalf("%s: %v", label, hostErr)
		}
		schemaErr := set.Validate(schema.Manifest, b)
		if (hostErr == nil) != (schemaErr == nil) {
			t.Errorf("%s: the host says %v, the schema says %v", label, hostErr, schemaErr)
		}
	}
}

// [v1.1] What a plugin that declared "dates" receives matches the schemas
// too, and every tag the host makes matches defs' dateTag (each of the four
// kinds), while forged or malformed tags do not.
func TestTaggedDatesMatchTheSchemas(t *testing.T) {
	set := load(t)
	for name, src := range manifests(t) {
		m, err := manifest.ParseTOML(src)
		if err != nil {
			continue
		}
		tagged, err := plugins.TagDates(m.Canonical())
		if err != nil {
			t.Fatal(err)
		}
		if err := set.Validate(schema.Manifest, tagged); err != nil {
			t.Errorf("%s: the tagged manifest breaks manifest.schema.json: %v\n%s", name, err, tagged)
		}
	}
	m, err := manifest.ParseTOML([]byte(`
[meta]
tld = "notes"
created = 1979-05-27T00:32:00.5-07:00
[payload]
cid = "b3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
size = 1
[notes]
all = [1979-05-27T07:32:00Z, 1979-05-27T07:32:00.250, 1979-05-27, 07:32:00.5]
`))
	if err != nil {
		t.Fatal(err)
	}
	tagged, err := plugins.TagDates(m.Canonical())
	if err != nil {
		t.Fatal(err)
	}
	if err := set.Validate(schema.Manifest, tagged); err != nil {
		t.Fatalf("%v\n%s", err, tagged)
	}
	var doc struct {
		Meta  map[string]any
		Notes struct{ All []any }
	}
	if err := json.Unmarshal(tagged, &doc); err != nil {
		t.Fatal(err)
	}
	tags := append(doc.Notes.All, doc.Meta["created"])
	kinds := map[string]bool{}
	dateTag := map[string]any{"$ref": "#/$defs/dateTag"}
	for _, v := range tags {
		obj, ok := v.(map[string]any)
		if !ok || len(obj) != 1 {
			t.Fatalf("%v is not a tag", v)
		}
		for k := range obj {
			kinds[k] = true
		}
		if err := set.ValidateValue("defs.schema.json", v, dateTag); err != nil {
			t.Errorf("the host's tag %v breaks dateTag: %v", v, err)
		}
	}
	if len(kinds) != 4 {
		t.Errorf("kinds %v, want the four", kinds)
	}
	for _, bad := range []string{
		`{"$date":"1979-5-27"}`, `{"$date":"1979-05-27","x":1}`, `{"$time":"07:32"}`,
		`{"$datetime":"1979-05-27T07:32:00"}`, `{"$datetime":"1979-05-27T07:32:00.50Z"}`,
		`{"$datetime_local":"1979-05-27T07:32:00Z"}`, `{"$$date":"1979-05-27"}`, `"1979-05-27"`,
	} {
		var v any
		_ = json.Unmarshal([]byte(bad), &v)
		if err := set.ValidateValue("defs.schema.json", v, dateTag); err == nil {
			t.Errorf("%s matches dateTag", bad)
		}
	}
}
