// Command wasm is the .notes plugin as a WebAssembly module for ronhost:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o notes.wasm .
package main

import (
	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/examples/notes"
)

// A reactor never runs main: the plugin registers itself here.
func init() { ron.Register(notes.Plugin{}) }

func main() {}
