//go:build wasip1

// Command membomb is a test plugin of the conformance suite. ron_split allocates until the memory cap: the suite must report limits.memory.
package main

import (
	"github.com/ronhost/ronhost/conformance/testdata/tinykit"
)

//go:wasmexport ron_abi_v1
func abiV1() {}

var hoard [][]byte

func init() {
	tinykit.Split = func(in []byte) (int32, []byte) {
		for {
			b := make([]byte, 16<<20)
			b[len(b)-1] = 1
			hoard = append(hoard, b)
		}
	}
}

func main() {}
