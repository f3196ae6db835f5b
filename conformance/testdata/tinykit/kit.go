//go:build wasip1

// Package tinykit is the base of the hostile test plugins: ABI v1 glue
// written by hand (raw //go:wasmimport and //go:wasmexport, no SDK) and a
// plugin that accepts exactly one manifest, its example, and pays its
// creator everything. It avoids encoding/json and fmt to keep the modules
// small: every hostile program is compiled by wazero in the tests, and under
// the race detector compile time grows with module size.
//
// Each program under testdata/hostile swaps one hook for a broken one.
package tinykit

import (
	"bytes"
	"strconv"
	"unsafe"
)

//go:wasmimport ron input_len
func inputLen() int32

//go:wasmimport ron input_read
func inputRead(dst unsafe.Pointer)

//go:wasmimport ron output_set
func outputSet(ptr unsafe.Pointer, n int32)

// Handler answers one call: a status and the output bytes.
type Handler func(input []byte) (int32, []byte)

// The hooks the exports call.
var (
	Describe Handler = RefDescribe
	Validate Handler = RefValidate
	Split    Handler = RefSplit
)

func input() []byte {
	n := inputLen()
	b := make([]byte, n+1)
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

// Example is the one manifest the plugin accepts, already normalized.
const Example = `{"meta":{"tld":"hostile","title":"x"},"creator":"alice"}`

// Rejected is the answer to anything else.
var Rejected = []byte(`{"errors":[{"path":"","code":"invalid","message":"this plugin accepts its example only"}]}`)

// RefDescribe answers ron_describe.
func RefDescribe(in []byte) (int32, []byte) {
	if !bytes.HasPrefix(in, []byte(`{"abi":1,`)) {
		return 1, Rejected
	}
	return 0, []byte(`{"tld":"hostile","name":"Hostile","version":"1.0.0","summary":"a conformance test fixture",` +
		`"roles":["creator"],"features":[],"examples":[` + Example + `]}`)
}

// digitsThen parses the decimal integer at the start of b, followed exactly by suffix.
func digitsThen(b []byte, suffix string) (uint64, bool) {
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == 0 || i > 16 || (b[0] == '0' && i > 1) || string(b[i:]) != suffix {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[:i]), 10, 64)
	return v, err == nil && v <= 1<<53-1
}

// RefValidate accepts {"manifest":Example,"context":{"tld":"hostile","payload_size":N}}.
func RefValidate(in []byte) (int32, []byte) {
	prefix := []byte(`{"manifest":` + Example + `,"context":{"tld":"hostile","payload_size":`)
	if !bytes.HasPrefix(in, prefix) {
		return 1, Rejected
	}
	if _, ok := digitsThen(in[len(prefix):], "}}"); !ok {
		return 1, Rejected
	}
	return 0, []byte(`{"manifest":` + Example + `,"index":{"title":"x","tags":[]}}`)
}

// SplitAmount returns the amount of a split input on Example, or false.
func SplitAmount(in []byte) (uint64, bool) {
	prefix := []byte(`{"manifest":` + Example + `,"epoch":"`)
	if !bytes.HasPrefix(in, prefix) {
		return 0, false
	}
	rest := in[len(prefix):]
	i := bytes.Index(rest, []byte(`","amount":`))
	if i < 0 {
		return 0, false
	}
	rest = rest[i+len(`","amount":`):]
	j := bytes.Index(rest, []byte(`,"usage":{`))
	if j < 0 || rest[len(rest)-1] != '}' {
		return 0, false
	}
	return digitsThen(rest[:j], "")
}

// Allocations renders one allocation per (payee, role, amount) triple.
func Allocations(as ...Allocation) []byte {
	out := []byte(`{"allocations":[`)
	for i, a := range as {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"payee":"`+a.Payee+`","role":"`+a.Role+`","amount":`...)
		out = strconv.AppendUint(out, a.Amount, 10)
		out = append(out, '}')
	}
	return append(out, "]}"...)
}

// Allocation is one payment.
type Allocation struct {
	Payee, Role string
	Amount      uint64
}

// RefSplit pays the creator the whole amount.
func RefSplit(in []byte) (int32, []byte) {
	amount, ok := SplitAmount(in)
	if !ok {
		return 1, Rejected
	}
	return 0, Allocations(Allocation{"alice", "creator", amount})
}
