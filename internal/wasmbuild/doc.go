// Package wasmbuild builds TLD plugins as WebAssembly modules for tests and
// tools: Go programs (GOOS=wasip1, GOARCH=wasm, -buildmode=c-shared), Rust
// crates with Debian's cargo for wasm32-wasi (a cargo target directory
// shared by the test processes, so the crates compile once), and C with
// clang and wasi-libc as a reactor.
//
// It owns only the invocation of the tools and the shared caches of tests
// (wazero's compilation cache, cargo's target directory). It must not
// import anything from ronhost: the plugin host, the conformance suite, the
// SDKs' tests and the built-in plugins' tests all use it.
package wasmbuild
