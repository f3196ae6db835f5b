//go:build wasip1

// Command badrole is a test plugin of the conformance suite. ron_split pays servers as "tips", a role describe does not declare: the suite must report split.roles.
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
		return status, bytes.ReplaceAll(out, []byte(`"role":"server"`), []byte(`"role":"tips"`))
	}
}

func main() {}
