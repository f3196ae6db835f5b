package schema

import (
	"embed"
	"io/fs"

	"github.com/ronhost/ronhost/sdk-wasm/jsonschema"
)

//go:embed *.schema.json
var files embed.FS

// FS returns the schema files.
func FS() fs.FS { return files }

// Load parses every schema into a set; $refs between the files resolve in it.
func Load() (*jsonschema.Set, error) { return jsonschema.LoadFS(files) }

// Input and Output name the schema of an entry point's input and of its
// status-0 output ("validate" gives "validate.input.schema.json").
func Input(entry string) string { return entry + ".input.schema.json" }

// Output names the schema of entry's status-0 output.
func Output(entry string) string { return entry + ".output.schema.json" }

// The schemas that are not an entry point's.
const (
	Errors   = "errors.schema.json"   // any status-1 output
	Manifest = "manifest.schema.json" // a manifest as the host hands it over
	Meta     = "meta.schema.json"     // the host-owned [meta] table
	Payload  = "payload.schema.json"  // the host-owned [payload] table
	Context  = "context.schema.json"  // the validate context
)
