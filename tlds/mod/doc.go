// Command mod is the built-in .mod plugin (moderation) as a WebAssembly
// module for ronhost; its logic is package modtld.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o mod.wasm .
//
// It only registers modtld.New() in init; main is empty because a reactor
// never runs it. It imports the SDK and package modtld, nothing else.
package main
