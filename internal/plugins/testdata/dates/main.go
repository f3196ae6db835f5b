// Command dates is the plugin host's test plugin for ABI v1.1's "dates"
// feature, written against the raw ABI (no SDK). It reports what it was sent:
// validate's index holds the manifest exactly as it arrived ("seen"), split
// pays it as the payee's name, resolve names it as the content type. Build
// with -ldflags "-X main.features=dates" for the declaring plugin, without
// for a v1 one. A manifest with a string "reply" gets that JSON back as its
// normalized manifest, so a test can hand the host any answer.
package main

import (
	"encoding/json"
	"strings"
	"unsafe"
)

var features = ""

//go:wasmimport ron input_len
func inputLen() int32

//go:wasmimport ron input_read
func inputRead(dst unsafe.Pointer)

//go:wasmimport ron output_set
func outputSet(ptr unsafe.Pointer, n int32)

func main() {}

//go:wasmexport ron_abi_v1
func abiV1() {}

func input() []byte {
	n := inputLen()
	b := make([]byte, n)
	if n > 0 {
		inputRead(unsafe.Pointer(&b[0]))
	}
	return b
}

func outJSON(v any) {
	b, _ := json.Marshal(v)
	if len(b) == 0 {
		outputSet(nil, 0)
		return
	}
	outputSet(unsafe.Pointer(&b[0]), int32(len(b)))
}

func reject(msg string) int32 {
	outJSON(map[string]any{"errors": []map[string]string{{"path": "", "code": "json", "message": msg}}})
	return 1
}

//go:wasmexport ron_describe
func describe() int32 {
	fs := []string{"resolve"}
	if features != "" {
		fs = append(fs, strings.Split(features, ",")...)
	}
	outJSON(map[string]any{
		"tld": "dates", "name": "dates", "version": "1", "summary": "host test plugin for tagged dates",
		"roles": []string{"creator"}, "features": fs,
		"examples": []any{map[string]any{"meta": map[string]any{"tld": "dates"}}},
	})
	return 0
}

type in struct {
	Manifest json.RawMessage `json:"manifest"`
	Amount   uint64          `json:"amount"`
}

func read() (in, map[string]any, bool) {
	var x in
	var m map[string]any
	if json.Unmarshal(input(), &x) != nil || json.Unmarshal(x.Manifest, &m) != nil {
		return x, nil, false
	}
	return x, m, true
}

//go:wasmexport ron_validate
func validate() int32 {
	x, m, ok := read()
	if !ok {
		return reject("not a validate input")
	}
	out := x.Manifest
	if r, ok := m["reply"].(string); ok {
		out = json.RawMessage(r)
	}
	outJSON(map[string]any{"manifest": out, "index": map[string]any{"seen": string(x.Manifest)}})
	return 0
}

//go:wasmexport ron_split
func split() int32 {
	x, _, ok := read()
	if !ok {
		return reject("not a split input")
	}
	outJSON(map[string]any{"allocations": []map[string]any{{"payee": string(x.Manifest), "role": "creator", "amount": x.Amount}}})
	return 0
}

//go:wasmexport ron_resolve
func resolve() int32 {
	x, _, ok := read()
	if !ok {
		return reject("not a resolve input")
	}
	outJSON(map[string]any{"status": 200, "content_type": string(x.Manifest), "offset": 0, "length": 0})
	return 0
}
