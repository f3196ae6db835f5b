// Package sdkrust holds the Rust SDK for TLD plugins, the crate ron-plugin
// (Cargo.toml, src/), with its example plugin (examples/notes, the Go SDK's
// notes example rule for rule), and embeds the crate's sources for
// `ronhost plugin new --lang rust`, which writes them beside a new plugin.
//
// Its Go tests build the crate with Debian's cargo (internal/wasmbuild):
// they run the crate's own tests, prove its split helpers give the Go SDK's
// results on generated inputs (the examples/split_oracle program), and run
// the conformance suite on the example module.
//
// It imports nothing of ronhost outside its tests.
package sdkrust
