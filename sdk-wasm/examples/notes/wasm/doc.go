// Command wasm is the .notes plugin (package notes) as a WebAssembly
// reactor module for ronhost:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -o notes.wasm .
//
// It only registers notes.Plugin in init; main is empty because a reactor
// never runs it. It imports the SDK and the notes package, nothing else.
package main
