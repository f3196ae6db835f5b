//go:build wasip1

// Command lenient is a test plugin of the conformance suite. Its
// ron_validate checks only what ABI v1 makes its job, its own member
// "creator", and accepts whatever surrounds it: trailing bytes, a context
// of any type, invalid UTF-8 in a key, a wrong-typed [meta] key, a 900 KiB
// key. The host never sends such input, so the suite must pass it with
// warnings, not fail it.
package main

import (
	"bytes"

	"github.com/ronhost/ronhost/conformance/testdata/tinykit"
)

//go:wasmexport ron_abi_v1
func abiV1() {}

func init() {
	tinykit.Validate = func(in []byte) (int32, []byte) {
		if bytes.HasPrefix(in, []byte(`{"manifest":`)) && bytes.Contains(in, []byte(`"creator":"alice"`)) {
			return 0, []byte(`{"manifest":` + tinykit.Example + `,"index":{"title":"x","tags":[]}}`)
		}
		return 1, tinykit.Rejected
	}
}

func main() {}
