// Package wasmfile reads the import and export sections of a WebAssembly
// binary, so the SDK's tests can check built plugins without a runtime.
// It owns only that parsing; it imports only the standard library and
// nothing from ronhost.
package wasmfile
