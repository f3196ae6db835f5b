//go:build ignore

// hashgen writes, beside each module named on its command line, its plugin
// hash ("b3:" and the BLAKE3 of its bytes in hex, plugins.HashBytes) in
// NAME.wasm.b3: make build runs it, so that a node knows its built-ins'
// hashes without reading their bytes (package tlds).
package main

import (
	"encoding/hex"
	"fmt"
	"os"

	"lukechampine.com/blake3"
)

func main() {
	for _, f := range os.Args[1:] {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "hashgen:", err)
			os.Exit(1)
		}
		sum := blake3.Sum256(b)
		if err := os.WriteFile(f+".b3", []byte("b3:"+hex.EncodeToString(sum[:])+"\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "hashgen:", err)
			os.Exit(1)
		}
	}
}
