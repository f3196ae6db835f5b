// Package schema embeds the JSON Schemas of plugin ABI v1 (the *.schema.json
// files beside this file, the one source the docs, the conformance suite
// and the SDKs' tests read) and loads them into a checker (sdk-wasm's
// jsonschema). The files: ENTRY.input and ENTRY.output for describe,
// validate, split and resolve; errors (any status-1 output); the
// host-owned tables meta and payload; manifest; the validate context; defs
// (money, counts, TLDs, TOML values).
package schema
