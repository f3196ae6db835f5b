package plugins

// A tiny WebAssembly encoder for load-time tests: modules with chosen
// imports and exports, each defined function returning a constant.

type wasmImport struct {
	module, name    string
	params, results []byte
}

type wasmFunc struct {
	name            string // "" defines the function without exporting it
	params, results []byte
	body            []byte // locals and code up to its end; nil returns a constant
}

type wasmSpec struct {
	imports []wasmImport
	funcs   []wasmFunc
	memory  bool
	data    []byte // a data segment at address 0 (needs memory)
}

const (
	i32 = 0x7f
	i64 = 0x7e
)

func leb(n uint32) []byte {
	var out []byte
	for {
		b := byte(n & 0x7f)
		n >>= 7
		if n != 0 {
			out = append(out, b|0x80)
			continue
		}
		return append(out, b)
	}
}

func wasmName(s string) []byte { return append(leb(uint32(len(s))), s...) }

func section(id byte, items [][]byte) []byte {
	body := leb(uint32(len(items)))
	for _, it := range items {
		body = append(body, it...)
	}
	return append(append([]byte{id}, leb(uint32(len(body)))...), body...)
}

func (s wasmSpec) encode() []byte {
	var types [][]byte
	typeOf := func(params, results []byte) uint32 {
		t := append([]byte{0x60}, leb(uint32(len(params)))...)
		t = append(t, params...)
		t = append(t, leb(uint32(len(results)))...)
		t = append(t, results...)
		for i, x := range types {
			if string(x) == string(t) {
				return uint32(i)
			}
		}
		types = append(types, t)
		return uint32(len(types) - 1)
	}
	var imports, funcs, exports, code [][]byte
	for _, im := range s.imports {
		e := append(wasmName(im.module), wasmName(im.name)...)
		e = append(e, 0x00)
		imports = append(imports, append(e, leb(typeOf(im.params, im.results))...))
	}
	for i, f := range s.funcs {
		funcs = append(funcs, leb(typeOf(f.params, f.results)))
		if f.name != "" {
			e := append(wasmName(f.name), 0x00)
			exports = append(exports, append(e, leb(uint32(len(s.imports)+i))...))
		}
		if f.body != nil {
			code = append(code, append(leb(uint32(len(f.body))), f.body...))
			continue
		}
		body := []byte{0x00} // no locals
		if len(f.results) == 1 {
			if f.results[0] == i64 {
				body = append(body, 0x42, 0x00)
			} else {
				body = append(body, 0x41, 0x00)
			}
		}
		body = append(body, 0x0b)
		code = append(code, append(leb(uint32(len(body))), body...))
	}
	var mem [][]byte
	if s.memory {
		mem = [][]byte{{0x00, 0x01}}
		exports = append(exports, append(wasmName("memory"), 0x02, 0x00))
	}
	out := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	out = append(out, section(1, types)...)
	if len(imports) > 0 {
		out = append(out, section(2, imports)...)
	}
	out = append(out, section(3, funcs)...)
	if len(mem) > 0 {
		out = append(out, section(5, mem)...)
	}
	out = append(out, section(7, exports)...)
	out = append(out, section(10, code)...)
	if len(s.data) > 0 {
		seg := []byte{0x00, 0x41, 0x00, 0x0b} // memory 0, offset i32.const 0
		seg = append(seg, leb(uint32(len(s.data)))...)
		out = append(out, section(11, [][]byte{append(seg, s.data...)})...)
	}
	return out
}

// abiFuncs are the exports of a well-shaped ABI v1 module (marker and entries).
func abiFuncs(marker string) []wasmFunc {
	fs := []wasmFunc{
		{name: "ron_describe", results: []byte{i32}},
		{name: "ron_validate", results: []byte{i32}},
		{name: "ron_split", results: []byte{i32}},
	}
	if marker != "" {
		fs = append(fs, wasmFunc{name: marker})
	}
	return fs
}
