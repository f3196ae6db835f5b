package jsonschema_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ronhost/ronhost/sdk-wasm/jsonschema"
)

func set(t *testing.T, files map[string]string) (*jsonschema.Set, error) {
	t.Helper()
	fsys := fstest.MapFS{}
	for n, s := range files {
		fsys[n] = &fstest.MapFile{Data: []byte(s)}
	}
	return jsonschema.LoadFS(fsys)
}

func TestKeywords(t *testing.T) {
	s, err := set(t, map[string]string{
		"defs.schema.json": `{"$defs":{"money":{"type":"integer","minimum":0,"maximum":9007199254740991}}}`,
		"doc.schema.json": `{"type":"object","required":["a"],"additionalProperties":false,"properties":{
			"a":{"$ref":"defs.schema.json#/$defs/money"},
			"s":{"type":"string","minLength":2,"maxLength":3,"pattern":"^x"},
			"d":{"type":"string","format":"date-time"},
			"l":{"type":"array","items":{"enum":["p","q"]},"minItems":1,"maxItems":2,"uniqueItems":true},
			"o":{"oneOf":[{"const":200},{"const":404}]},
			"n":{"not":{"type":"null"}},
			"e":{"anyOf":[{"type":"boolean"},{"type":"string"}]}}}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		doc  string
		want string // "" for valid, else a substring of the error
	}{
		{`{"a":0}`, ""},
		{`{"a":9007199254740991,"s":"xy","d":"2025-08-25T12:34:56Z","l":["p","q"],"o":404,"n":1,"e":true}`, ""},
		{`{"a":9007199254740992}`, "more than the maximum"},
		{`{"a":-1}`, "less than the minimum"},
		{`{"a":1.0}`, "want integer"},
		{`{"a":1e3}`, "want integer"},
		{`{"a":"1"}`, "want integer"},
		{`{}`, `has no "a"`},
		{`{"a":1,"z":1}`, "/z: is not allowed here"},
		{`{"a":1,"s":"x"}`, "shorter than 2"},
		{`{"a":1,"s":"xéèè"}`, "longer than 3"},
		{`{"a":1,"s":"yy"}`, "does not match"},
		{`{"a":1,"d":"2025-08-25"}`, "not an RFC 3339 date-time"},
		{`{"a":1,"l":[]}`, "fewer than 1"},
		{`{"a":1,"l":["p","p"]}`, "must be unique"},
		{`{"a":1,"l":["r"]}`, `want one of "p", "q"`},
		{`{"a":1,"o":201}`, "matches 0 of the schemas"},
		{`{"a":1,"n":null}`, "must not match"},
		{`{"a":1,"e":3}`, "matches none"},
		{`{"a":1} x`, "data after"},
		{"{\"a\":1,\"s\":\"x\xff\"}", "not valid UTF-8"},
	} {
		err := s.Validate("doc.schema.json", []byte(tc.doc))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.doc, err)
		case tc.want != "" && (err == nil || !errors.Is(err, jsonschema.ErrInvalid) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want %q", tc.doc, err, tc.want)
		}
	}
}

// A schema asking for what the checker does not check is refused at load,
// and so is a dangling $ref: a schema cannot silently check less than it says.
func TestUnsupportedSchemasAreRefused(t *testing.T) {
	for _, files := range []map[string]string{
		{"a.schema.json": `{"type":"string","contentEncoding":"base64"}`},
		{"a.schema.json": `{"format":"email"}`},
		{"a.schema.json": `{"$ref":"b.schema.json"}`},
		{"a.schema.json": `{"$ref":"#/$defs/nope"}`},
		{"a.schema.json": `{"pattern":"("}`},
		{"a.schema.json": `[]`},
	} {
		if _, err := set(t, files); !errors.Is(err, jsonschema.ErrSchema) {
			t.Errorf("%v: %v, want ErrSchema", files, err)
		}
	}
}

// The ABI's schemas (docs/schema, in the repository) load with this checker.
func TestTheABISchemasLoad(t *testing.T) {
	s, err := jsonschema.LoadFS(os.DirFS("../../docs/schema"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Names()) < 14 {
		t.Fatalf("only %v", s.Names())
	}
}
