//go:build wasip1

// Command nomarker is a test plugin of the conformance suite. Exports every entry point but not ron_abi_v1: the suite must report abi.marker.
package main

import (
	_ "github.com/ronhost/ronhost/conformance/testdata/tinykit"
)

func main() {}
