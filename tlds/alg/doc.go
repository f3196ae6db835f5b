// Command alg is the built-in .alg plugin (algorithm transparency) as a
// WebAssembly module for ronhost; its logic is package algtld.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o alg.wasm .
//
// It only registers algtld.New() in init; main is empty because a reactor
// never runs it. It imports the SDK and package algtld, nothing else.
package main
