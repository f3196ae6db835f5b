//go:build wasip1

// Command losesmoney is a test plugin of the conformance suite. ron_split halves the amount with integer division and loses the odd unit: the suite must report split.conserve.
package main

import (
	"github.com/ronhost/ronhost/conformance/testdata/tinykit"
)

//go:wasmexport ron_abi_v1
func abiV1() {}

func init() {
	tinykit.Split = func(in []byte) (int32, []byte) {
		amount, ok := tinykit.SplitAmount(in)
		if !ok {
			return 1, tinykit.Rejected
		}
		half := amount / 2
		return 0, tinykit.Allocations(tinykit.Allocation{Payee: "alice", Role: "creator", Amount: half}, tinykit.Allocation{Payee: "bob", Role: "creator", Amount: half})
	}
}

func main() {}
