// Command chaos is the plugin host's test plugin, written against the raw
// ABI (no SDK). The manifest's "mode" picks a behaviour, good or hostile, so
// one module exercises every path of the host. Build with -ldflags
// "-X main.version=N" to get distinct modules for reload tests.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"
)

var version = "1"

//go:wasmimport ron input_len
func inputLen() int32

//go:wasmimport ron input_read
func inputRead(dst unsafe.Pointer)

//go:wasmimport ron output_set
func outputSet(ptr unsafe.Pointer, n int32)

//go:wasmimport ron log
func logLine(level int32, ptr unsafe.Pointer, n int32)

//go:wasmimport ron object_read
func objectRead(off int64, dst unsafe.Pointer, n int32) int32

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

func output(b []byte) {
	if len(b) == 0 {
		outputSet(nil, 0)
		return
	}
	outputSet(unsafe.Pointer(&b[0]), int32(len(b)))
}

func outJSON(v any) {
	b, _ := json.Marshal(v)
	output(b)
}

func reject(code, msg string) int32 {
	outJSON(map[string]any{"errors": []map[string]string{{"path": "mode", "code": code, "message": msg}}})
	return 1
}

var counter int

var sink [][]byte

//go:wasmexport ron_describe
func describe() int32 {
	tld := "chaos"
	outJSON(map[string]any{
		"tld": tld, "name": "chaos", "version": version, "summary": "host test plugin",
		"roles": []string{"creator", "operator"}, "features": []string{"resolve"},
		"examples": []any{map[string]any{"mode": "ok"}},
	})
	return 0
}

type validateIn struct {
	Manifest map[string]any `json:"manifest"`
}

//go:wasmexport ron_validate
func validate() int32 {
	var in validateIn
	if err := json.Unmarshal(input(), &in); err != nil || in.Manifest == nil {
		return reject("json", "input is not a validate document")
	}
	mode, _ := in.Manifest["mode"].(string)
	switch mode {
	case "ok":
		outJSON(map[string]any{"manifest": in.Manifest, "index": map[string]any{"title": "ok"}})
		return 0
	case "reject":
		return reject("mode", "rejected on request")
	case "trap":
		var p *int
		return int32(*p)
	case "loop":
		for {
			counter++
		}
	case "bomb":
		for {
			sink = append(sink, make([]byte, 1<<20))
		}
	case "big":
		output(make([]byte, 2<<20))
		return 0
	case "status7":
		return 7
	case "garbage":
		output([]byte("{not json"))
		return 0
	case "badutf8": // JSON-shaped, but not UTF-8
		output([]byte("{\"manifest\":{\"mode\":\"badutf8\"},\"index\":{\"title\":\"\xff\xfe\"}}"))
		return 0
	case "meta": // changes the host-owned [meta] table
		m := map[string]any{}
		for k, v := range in.Manifest {
			m[k] = v
		}
		m["meta"] = map[string]any{"tld": "chaos", "title": "not what was published"}
		outJSON(map[string]any{"manifest": m, "index": map[string]any{}})
		return 0
	case "counter":
		counter++
		outJSON(map[string]any{"manifest": in.Manifest, "index": map[string]any{"title": strconv.Itoa(counter)}})
		return 0
	case "log":
		msg := []byte("hello from chaos")
		logLine(1, unsafe.Pointer(&msg[0]), int32(len(msg)))
		fmt.Fprintln(os.Stderr, "chaos on stderr")
		outJSON(map[string]any{"manifest": in.Manifest, "index": map[string]any{}})
		return 0
	case "exit":
		os.Exit(3)
	case "badptr":
		outputSet(unsafe.Pointer(uintptr(0x7fff_fff0)), 64)
		return 0
	}
	return reject("mode", "unknown mode "+mode)
}

type splitIn struct {
	Manifest map[string]any `json:"manifest"`
	Amount   uint64         `json:"amount"`
}

//go:wasmexport ron_split
func split() int32 {
	var in splitIn
	if err := json.Unmarshal(input(), &in); err != nil {
		return reject("json", err.Error())
	}
	mode, _ := in.Manifest["mode"].(string)
	amt, role := in.Amount, "creator"
	switch mode {
	case "lose":
		if amt > 0 {
			amt--
		}
	case "undeclared":
		role = "thief"
	case "dupkey": // one object, two payees: which one is paid depends on the reader
		output([]byte(fmt.Sprintf(`{"allocations":[{"payee":"alice","role":"creator","amount":%d,"payee":"mallory"}]}`, amt)))
		return 0
	}
	outJSON(map[string]any{"allocations": []map[string]any{{"payee": "alice", "role": role, "amount": amt}}})
	return 0
}

type resolveIn struct {
	Path        string `json:"path"`
	PayloadSize int64  `json:"payload_size"`
}

// ron_resolve: the path "/N" serves the bytes after the N-th newline of the
// payload up to the next one, found by reading the payload.
//
//go:wasmexport ron_resolve
func resolve() int32 {
	var in resolveIn
	if err := json.Unmarshal(input(), &in); err != nil {
		return reject("json", err.Error())
	}
	if in.Path == "/trap" { // a fault on this manifest, on request
		var p *int
		return int32(*p)
	}
	want, err := strconv.Atoi(strings.TrimPrefix(in.Path, "/"))
	if err != nil || want < 0 {
		outJSON(map[string]any{"status": 404})
		return 0
	}
	buf := make([]byte, in.PayloadSize)
	var off int64
	for off < in.PayloadSize {
		n := objectRead(off, unsafe.Pointer(&buf[off]), int32(in.PayloadSize-off))
		if n <= 0 {
			return reject("read", "object_read failed")
		}
		off += int64(n)
	}
	lines := strings.SplitAfter(string(buf), "\n")
	if want >= len(lines) {
		outJSON(map[string]any{"status": 404})
		return 0
	}
	start := 0
	for _, l := range lines[:want] {
		start += len(l)
	}
	outJSON(map[string]any{"status": 200, "content_type": "text/plain", "offset": start, "length": len(strings.TrimSuffix(lines[want], "\n"))})
	return 0
}
