package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// sleb is the signed LEB128 of n (i32.const's immediate).
func sleb(n int32) []byte {
	var out []byte
	for {
		b := byte(n & 0x7f)
		n >>= 7
		if (n == 0 && b&0x40 == 0) || (n == -1 && b&0x40 != 0) {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

// tailModule is an ABI v1 module written with return_call: validate counts
// a million down by tail recursion (a million frames would overflow any
// stack, so it only answers if tail calls reuse the frame), then answers;
// split tail-calls itself forever.
func tailModule() []byte {
	desc := `{"tld":"tail","name":"tail","version":"1","summary":"tail calls","roles":["creator"],"features":[],"examples":[{"a":1}]}`
	const validatedAt = 256
	validated := `{"manifest":{"a":1},"index":{}}`
	data := make([]byte, validatedAt+len(validated))
	copy(data, desc)
	copy(data[validatedAt:], validated)
	outputSet := func(at, n int) []byte {
		b := append([]byte{0x41}, sleb(int32(at))...)
		b = append(b, 0x41)
		b = append(b, sleb(int32(n))...)
		return append(b, 0x10, 0x00) // call output_set (function 0)
	}
	const countdown, forever = 5, 6
	describe := append([]byte{0x00}, outputSet(0, len(desc))...)
	describe = append(describe, 0x41, 0x00, 0x0b)
	validate := append([]byte{0x00, 0x41}, sleb(1_000_000)...)
	validate = append(validate, 0x12, countdown, 0x0b) // return_call countdown
	split := []byte{0x00, 0x41, 0x00, 0x12, forever, 0x0b}
	count := []byte{0x00, 0x20, 0x00, 0x45, 0x04, 0x40} // local.get 0; i32.eqz; if
	count = append(count, outputSet(validatedAt, len(validated))...)
	count = append(count, 0x41, 0x00, 0x0f, 0x0b) // i32.const 0; return; end
	count = append(count, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x12, countdown, 0x0b)
	spin := []byte{0x00, 0x20, 0x00, 0x12, forever, 0x0b}
	return wasmSpec{
		imports: []wasmImport{{module: "ron", name: "output_set", params: []byte{i32, i32}}},
		funcs: []wasmFunc{
			{name: "ron_describe", results: []byte{i32}, body: describe},
			{name: "ron_validate", results: []byte{i32}, body: validate},
			{name: "ron_split", results: []byte{i32}, body: split},
			{name: "ron_abi_v1"},
			{params: []byte{i32}, results: []byte{i32}, body: count},
			{params: []byte{i32}, results: []byte{i32}, body: spin},
		},
		memory: true,
		data:   data,
	}.encode()
}

// ABI.md promises tail calls: a module using return_call loads, a million
// tail calls run in constant stack, and endless tail recursion is still
// metered: it ends at the deadline as a timeout fault.
func TestTailCalls(t *testing.T) {
	// The million tail calls must not race validate's 100 ms wall-clock
	// deadline on a loaded machine: validate gets a minute; split keeps
	// the ABI's 50 ms, which ends the endless recursion.
	cfg := Config{QuarantineAfter: 100}
	cfg.Limits.Validate = time.Minute
	p := load(t, newHost(t, cfg), tailModule())
	ctx := context.Background()
	v, err := p.Validate(ctx, json.RawMessage(`{"a":1}`), ValidateContext{TLD: "tail"})
	if err != nil || string(v.Manifest) != `{"a":1}` {
		t.Fatalf("validate through a million tail calls: %+v, %v", v, err)
	}
	_, err = p.Split(ctx, SplitInput{Manifest: json.RawMessage(`{"a":1}`), Amount: 1})
	var fe *FaultError
	if !errors.As(err, &fe) || fe.Kind != FaultTimeout {
		t.Fatalf("endless tail recursion: want a timeout fault, got %v", err)
	}
}
