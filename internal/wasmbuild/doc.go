// Package wasmbuild builds Go programs as WebAssembly plugins (GOOS=wasip1,
// GOARCH=wasm, -buildmode=c-shared) for tests and tools.
//
// It owns only the invocation of the go tool. It must not import anything from
// ronhost: the plugin host, the conformance suite and the built-in plugins'
// tests all use it to turn a package directory into a .wasm file.
package wasmbuild
