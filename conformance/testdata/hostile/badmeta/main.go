//go:build wasip1

// Command badmeta is a test plugin of the conformance suite. ron_validate
// "normalizes" the host-owned [meta] table into one the host refuses (a
// price of 1.5): the suite must report abi.outputs against
// docs/schema/meta.schema.json.
package main

import (
	"github.com/ronhost/ronhost/conformance/testdata/tinykit"
)

//go:wasmexport ron_abi_v1
func abiV1() {}

func init() {
	tinykit.Validate = func(in []byte) (int32, []byte) {
		st, out := tinykit.RefValidate(in)
		if st != 0 {
			return st, out
		}
		return 0, []byte(`{"manifest":{"meta":{"tld":"hostile","title":"x","price":1.5},"creator":"alice"},"index":{"title":"x","tags":[]}}`)
	}
}

func main() {}
