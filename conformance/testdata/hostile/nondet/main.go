//go:build wasip1

// Command nondet is a test plugin of the conformance suite. ron_validate counts its calls into the index: the suite must report determinism.reused.
package main

import (
	"bytes"
	"github.com/ronhost/ronhost/conformance/testdata/tinykit"
	"strconv"
)

//go:wasmexport ron_abi_v1
func abiV1() {}

var calls int

func init() {
	tinykit.Validate = func(in []byte) (int32, []byte) {
		calls++
		status, out := tinykit.RefValidate(in)
		if status == 0 {
			out = bytes.Replace(out, []byte(`"index":{`), []byte(`"index":{"calls":`+strconv.Itoa(calls)+`,`), 1)
		}
		return status, out
	}
}

func main() {}
