// Package c holds ron_plugin.h, the plugin ABI declared for C (and as a
// reference for Rust, Zig and other languages), and the test that compiles a
// small C plugin against it with clang for wasm32-wasi. There is no Go API
// here. It imports nothing from ronhost.
package c
