//go:build wasip1

// Command baddates is a test plugin of the conformance suite. It declares
// the ABI v1.1 feature "dates" and echoes the manifest it is given, but
// "unescapes" a user's "$$x" key into "$x", which forges a host tag: the
// host refuses its answer, and the suite must fail validate.dates.
package main

import (
	"bytes"

	"github.com/ronhost/ronhost/conformance/testdata/tinykit"
)

//go:wasmexport ron_abi_v1
func abiV1() {}

func init() {
	tinykit.Describe = func(in []byte) (int32, []byte) {
		st, out := tinykit.RefDescribe(in)
		return st, bytes.Replace(out, []byte(`"features":[]`), []byte(`"features":["dates"]`), 1)
	}
	tinykit.Validate = func(in []byte) (int32, []byte) {
		if st, out := tinykit.RefValidate(in); st == 0 {
			return st, out
		}
		i := bytes.LastIndex(in, []byte(`,"context":`))
		if !bytes.HasPrefix(in, []byte(`{"manifest":{`)) || i < 0 {
			return 1, tinykit.Rejected
		}
		m := bytes.ReplaceAll(in[len(`{"manifest":`):i], []byte(`"$$`), []byte(`"$`))
		return 0, append(append([]byte(`{"manifest":`), m...), `,"index":{"title":"x","tags":[]}}`...)
	}
}

func main() {}
