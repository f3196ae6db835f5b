//go:build wasip1

// Command reference is a test plugin of the conformance suite. A well-behaved plugin: it must pass every check.
package main

import (
	_ "github.com/ronhost/ronhost/conformance/testdata/plugkit"
)

//go:wasmexport ron_abi_v1
func abiV1() {}

func main() {}
