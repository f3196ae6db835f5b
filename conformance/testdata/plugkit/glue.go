// Package plugkit is the conformance suite's own test plugin: ABI v1 glue
// written by hand (raw //go:wasmimport and //go:wasmexport, no SDK, so the
// suite's tests do not depend on the SDK) and a well-behaved reference
// behaviour. Each program under testdata/reference and testdata/hostile is a
// main package that exports the ABI marker (or, on purpose, does not) and
// swaps one of the hooks below for a broken one.
//
// It is built only for GOOS=wasip1 GOARCH=wasm -buildmode=c-shared.
//go:build wasip1

package plugkit

import "unsafe"

//go:wasmimport ron input_len
func inputLen() int32

//go:wasmimport ron input_read
func inputRead(dst unsafe.Pointer)

//go:wasmimport ron output_set
func outputSet(ptr unsafe.Pointer, n int32)

//go:wasmimport ron object_read
func objectRead(off int64, dst unsafe.Pointer, n int32) int32

// ReadObject reads the payload being resolved at off into b; it returns
// the bytes read, or -1.
func ReadObject(off int64, b []byte) int32 {
	if len(b) == 0 {
		return 0
	}
	return objectRead(off, unsafe.Pointer(&b[0]), int32(len(b)))
}

// Handler answers one call: a status and the output bytes.
type Handler func(input []byte) (int32, []byte)

// The hooks the exports call. A hostile program replaces one in its init.
var (
	Describe Handler = RefDescribe
	Validate Handler = RefValidate
	Split    Handler = RefSplit
	Resolve  Handler = RefResolve
)

func input() []byte {
	n := inputLen()
	b := make([]byte, n+1) // +1: a valid pointer even for an empty input
	inputRead(unsafe.Pointer(&b[0]))
	return b[:n]
}

func serve(h Handler) int32 {
	status, out := h(input())
	if len(out) > 0 {
		outputSet(unsafe.Pointer(&out[0]), int32(len(out)))
	}
	return status
}

//go:wasmexport ron_describe
func ronDescribe() int32 { return serve(Describe) }

//go:wasmexport ron_validate
func ronValidate() int32 { return serve(Validate) }

//go:wasmexport ron_split
func ronSplit() int32 { return serve(Split) }

//go:wasmexport ron_resolve
func ronResolve() int32 { return serve(Resolve) }
