//go:build wasip1

// Command loop is a test plugin of the conformance suite. ron_split never returns: the suite must report limits.time.
package main

import (
	"github.com/ronhost/ronhost/conformance/testdata/tinykit"
)

//go:wasmexport ron_abi_v1
func abiV1() {}

func init() {
	tinykit.Split = func(in []byte) (int32, []byte) {
		for {
			spins++
		}
	}
}

var spins uint64

func main() {}
