// Command map is the built-in .map plugin as a WebAssembly reactor for
// ronhost (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared); its logic is in
// package maptld.
package main

import (
	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/tlds/map/maptld"
)

// A reactor never runs main: the plugin registers itself here.
func init() { ron.Register(maptld.New()) }

func main() {}
