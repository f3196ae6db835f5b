//go:build wasip1

// Command lenientfault is a test plugin of the conformance suite: the
// lenient plugin, but its ron_validate crashes when the context is not an
// object. The host never sends such a context, yet a fault on any input
// still fails the suite.
package main

import (
	"bytes"

	"github.com/ronhost/ronhost/conformance/testdata/tinykit"
)

//go:wasmexport ron_abi_v1
func abiV1() {}

func init() {
	tinykit.Validate = func(in []byte) (int32, []byte) {
		if bytes.Contains(in, []byte(`,"context":"`)) {
			var p *int
			_ = *p // a nil dereference: a crash
		}
		if bytes.HasPrefix(in, []byte(`{"manifest":`)) && bytes.Contains(in, []byte(`"creator":"alice"`)) {
			return 0, []byte(`{"manifest":` + tinykit.Example + `,"index":{"title":"x","tags":[]}}`)
		}
		return 1, tinykit.Rejected
	}
}

func main() {}
