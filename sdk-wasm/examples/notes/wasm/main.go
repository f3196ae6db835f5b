package main

import (
	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/examples/notes"
)

// A reactor never runs main: the plugin registers itself here.
func init() { ron.Register(notes.Plugin{}) }

func main() {}
