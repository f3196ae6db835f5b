// Package template holds the files `ronhost plugin new NAME` writes: a
// ready-to-build Go plugin for the TLD NAME (go.mod, main.go with a small
// real validate, split and resolve, plugin_test.go using rontest, README.md, a
// .gitignore and .github/workflows/conformance.yml for CI).
//
// The files are embedded, so the ronhost binary needs nothing on disk. The
// generated module builds and passes its own go test as written (the
// package's tests prove it against this SDK). It imports only the standard
// library and the SDK.
package template
