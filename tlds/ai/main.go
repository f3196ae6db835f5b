// Command ai is the built-in .ai plugin as a WebAssembly reactor for
// ronhost (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared); its logic is in
// package aitld.
package main

import (
	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/tlds/ai/aitld"
)

// A reactor never runs main: the plugin registers itself here.
func init() { ron.Register(aitld.New()) }

func main() {}
