package main

import (
	"github.com/ronhost/ronhost/tlds/mod/modtld"

	ron "github.com/ronhost/ronhost/sdk-wasm"
)

// A reactor never runs main: the plugin registers itself here.
func init() { ron.Register(modtld.New()) }

func main() {}
