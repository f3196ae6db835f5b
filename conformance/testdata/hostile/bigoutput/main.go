//go:build wasip1

// Command bigoutput is a test plugin of the conformance suite. ron_split answers with 2 MiB of debug output: the suite must report limits.output.
package main

import (
	"bytes"
	"github.com/ronhost/ronhost/conformance/testdata/tinykit"
)

//go:wasmexport ron_abi_v1
func abiV1() {}

func init() {
	tinykit.Split = func(in []byte) (int32, []byte) {
		status, out := tinykit.RefSplit(in)
		if status != 0 {
			return status, out
		}
		out = append(out[:len(out)-1], `,"debug":"`...)
		out = append(out, bytes.Repeat([]byte("x"), 2<<20)...)
		return status, append(out, `"}`...)
	}
}

func main() {}
