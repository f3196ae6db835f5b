//go:build wasip1

// Command evilimport is a test plugin of the conformance suite. Imports env.evil: the suite must report abi.imports.
package main

import (
	"github.com/ronhost/ronhost/conformance/testdata/tinykit"
)

//go:wasmexport ron_abi_v1
func abiV1() {}

//go:wasmimport env evil
func evil() int32

func init() {
	tinykit.Describe = func(in []byte) (int32, []byte) {
		if len(in) == 0 {
			return evil(), nil
		}
		return tinykit.RefDescribe(in)
	}
}

func main() {}
