//go:build wasip1

// Command bigoutput is a test plugin of the conformance suite. ron_split answers with 2 MiB of debug output: the suite must report limits.output.
package main

import (
	"bytes"
	"github.com/ronhost/ronhost/conformance/testdata/plugkit"
)

//go:wasmexport ron_abi_v1
func abiV1() {}

func init() {
	plugkit.Split = func(in []byte) (int32, []byte) {
		status, out := plugkit.RefSplit(in)
		if status != 0 {
			return status, out
		}
		pad := bytes.Repeat([]byte("x"), 2<<20)
		out = append(out[:len(out)-1], `,"debug":"`...)
		out = append(out, pad...)
		return status, append(out, `"}`...)
	}
}

func main() {}
