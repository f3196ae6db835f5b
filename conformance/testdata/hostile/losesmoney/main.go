//go:build wasip1

// Command losesmoney is a test plugin of the conformance suite. ron_split drops the rounding remainder: the suite must report split.conserve.
package main

import (
	"github.com/ronhost/ronhost/conformance/testdata/plugkit"
)

//go:wasmexport ron_abi_v1
func abiV1() {}

func init() { plugkit.KeepRemainder = false }

func main() {}
