package ron_test

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/examples/notes"
	"github.com/ronhost/ronhost/sdk-wasm/jsonschema"
)

// The SDK's answers match the ABI's JSON Schemas, the same files the
// conformance suite checks plugins with (docs/schema in the repository):
// describe, validate, split and resolve of the notes example, and its
// rejections.
func TestDispatchOutputsMatchTheABISchemas(t *testing.T) {
	set, err := jsonschema.LoadFS(os.DirFS("../docs/schema"))
	if err != nil {
		t.Fatal(err)
	}
	call := func(entry, in string, obj []byte) (int32, []byte) {
		t.Helper()
		if err := set.Validate(entry+".input.schema.json", []byte(in)); err != nil && entry != "validate" {
			t.Fatalf("the test's own %s input: %v", entry, err)
		}
		st, out := ron.Dispatch(notes.Plugin{}, "ron_"+entry, []byte(in), bytes.NewReader(obj))
		name := entry + ".output.schema.json"
		if st == 1 {
			name = "errors.schema.json"
		}
		if err := set.Validate(name, out); err != nil {
			t.Errorf("%s (status %d): %v\n%s", entry, st, err, out)
		}
		return st, out
	}
	call("describe", `{"abi":1,"host":{"name":"ronhost","version":"test"}}`, nil)
	validate := `{"manifest":` + notes.Example + `,"context":{"tld":"notes","payload_size":1234}}`
	if err := set.Validate("validate.input.schema.json", []byte(validate)); err != nil {
		t.Fatal(err)
	}
	st, out := call("validate", validate, nil)
	if st != 0 {
		t.Fatalf("validate: %d %s", st, out)
	}
	var v struct{ Manifest json.RawMessage }
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	m := string(v.Manifest)
	if st, out := call("split", `{"manifest":`+m+`,"epoch":"2026-11","amount":1000003,"usage":{"requests":3,"bytes":9,`+
		`"servers":[{"node":"n1","payout":"op1","requests":2,"bytes":6},{"node":"n2","payout":"op2","requests":1,"bytes":3}]}}`, nil); st != 0 {
		t.Fatalf("split: %d %s", st, out)
	}
	payload := bytes.Repeat([]byte("note "), 300)
	call("resolve", `{"manifest":`+m+`,"path":"/","payload_size":1500}`, payload)
	call("resolve", `{"manifest":`+m+`,"path":"/nope","payload_size":1500}`, payload)
	// Rejections.
	for _, bad := range []string{`{"manifest":{"meta":{"tld":"notes"},"notes":{"title":7}},"context":{"tld":"notes","payload_size":1}}`, `[`, ``} {
		if st, out := call("validate", bad, nil); st != 1 {
			t.Errorf("%s: status %d %s", bad, st, out)
		}
	}
}
