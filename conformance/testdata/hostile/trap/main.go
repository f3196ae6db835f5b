//go:build wasip1

// Command trap is a test plugin of the conformance suite. ron_validate crashes on input that is not JSON: the suite must report validate.garbage.
package main

import (
	"encoding/json"
	"github.com/ronhost/ronhost/conformance/testdata/plugkit"
)

//go:wasmexport ron_abi_v1
func abiV1() {}

type doc struct{ Manifest *struct{ Meta *struct{} } }

func init() {
	plugkit.Validate = func(in []byte) (int32, []byte) {
		var d *doc
		if json.Unmarshal(in, &d) != nil {
			_ = d.Manifest // d is nil: a nil dereference, a crash
		}
		return plugkit.RefValidate(in)
	}
}

func main() {}
