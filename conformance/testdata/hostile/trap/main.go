//go:build wasip1

// Command trap is a test plugin of the conformance suite. ron_validate crashes on input that is not a JSON object: the suite must report validate.garbage.
package main

import (
	"github.com/ronhost/ronhost/conformance/testdata/tinykit"
)

//go:wasmexport ron_abi_v1
func abiV1() {}

func init() {
	tinykit.Validate = func(in []byte) (int32, []byte) {
		if len(in) == 0 || in[0] != '{' {
			var p *int
			_ = *p // a nil dereference: a crash
		}
		return tinykit.RefValidate(in)
	}
}

func main() {}
