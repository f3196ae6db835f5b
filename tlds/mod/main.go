// Command mod is the built-in .mod plugin (moderation) as a WebAssembly
// module for ronhost; its logic is package modtld.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o mod.wasm .
package main

import (
	"github.com/ronhost/ronhost/tlds/mod/modtld"

	ron "github.com/ronhost/ronhost/sdk-wasm"
)

// A reactor never runs main: the plugin registers itself here.
func init() { ron.Register(modtld.New()) }

func main() {}
