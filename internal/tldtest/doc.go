// Package tldtest is test support for the built-in TLD plugins (tlds/NAME):
// the harness their wasm_test.go files share (build the package once as a
// wasip1 module, load it into a real host over the shared compilation
// cache, run the conformance suite on it, check the README's Manifest.toml
// examples, benchmark calls through the host against ron.Dispatch natively)
// and the helpers their generated conformance cases share (development
// keys, made-up CIDs, JSON trees to mutate, writing and checking case files).
//
// Only tests import it. It may import plugins, conformance, core/manifest,
// internal/wasmbuild, the SDK and its rontest; it must not import a plugin
// (tlds/...) nor anything of the node (internal/core/node, cmd/...).
package tldtest
