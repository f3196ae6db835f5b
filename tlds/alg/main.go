// Command alg is the built-in .alg plugin (algorithm transparency) as a
// WebAssembly module for ronhost; its logic is package algtld.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o alg.wasm .
package main

import (
	"github.com/ronhost/ronhost/tlds/alg/algtld"

	ron "github.com/ronhost/ronhost/sdk-wasm"
)

// A reactor never runs main: the plugin registers itself here.
func init() { ron.Register(algtld.New()) }

func main() {}
