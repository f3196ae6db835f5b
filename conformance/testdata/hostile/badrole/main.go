//go:build wasip1

// Command badrole is a test plugin of the conformance suite. ron_split pays "tips", a role describe does not declare: the suite must report split.roles.
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
		return 0, tinykit.Allocations(tinykit.Allocation{Payee: "alice", Role: "tips", Amount: amount})
	}
}

func main() {}
