package meter

// A tiny WebAssembly encoder for hand-built test modules (the idea of the
// plugins package's wasm_test.go, extended to arbitrary code).

const (
	i32  = 0x7f
	i64  = 0x7e
	f32  = 0x7d
	f64  = 0x7c
	v128 = 0x7b
	fref = 0x70
)

func leb(n uint32) []byte { return appendU32(nil, n) }

func sleb(n int64) []byte { return appendS64(nil, n) }

func str(s string) []byte { return append(leb(uint32(len(s))), s...) }

func vec(items ...[]byte) []byte {
	out := leb(uint32(len(items)))
	for _, it := range items {
		out = append(out, it...)
	}
	return out
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func functype(params, results []byte) []byte {
	return cat([]byte{0x60}, leb(uint32(len(params))), params, leb(uint32(len(results))), results)
}

type fn struct {
	typ    uint32
	locals []byte // local declarations: pairs of (count, type) as bytes, count < 128
	code   []byte // instructions, final end included
	export string
}

type custom struct {
	name  string
	data  []byte
	after byte // emitted where the section of this id goes (0: first, 0xff: last)
}

type mod struct {
	types   [][]byte
	imports [][]byte // full import entries
	nimport uint32   // imported functions (for export indices)
	funcs   []fn
	table   []byte // a table type, or nil
	memory  bool
	globals [][]byte // full global entries
	exports [][]byte // extra export entries
	start   []byte
	elems   [][]byte
	datas   [][]byte
	customs []custom
}

func sect(id byte, body []byte) []byte {
	return cat([]byte{id}, leb(uint32(len(body))), body)
}

func (m mod) encode() []byte {
	out := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	emitCustoms := func(after byte) {
		for _, c := range m.customs {
			if c.after == after {
				out = append(out, sect(0, cat(str(c.name), c.data))...)
			}
		}
	}
	emitCustoms(0)
	var funcs, code, exports [][]byte
	for i, f := range m.funcs {
		funcs = append(funcs, leb(f.typ))
		body := cat(leb(uint32(len(f.locals)/2)), f.locals, f.code)
		code = append(code, cat(leb(uint32(len(body))), body))
		if f.export != "" {
			exports = append(exports, cat(str(f.export), []byte{0x00}, leb(m.nimport+uint32(i))))
		}
	}
	exports = append(exports, m.exports...)
	if m.memory {
		exports = append(exports, cat(str("memory"), []byte{0x02, 0x00}))
	}
	add := func(id byte, present bool, body []byte) {
		if present {
			out = append(out, sect(id, body)...)
		}
		emitCustoms(id)
	}
	add(1, len(m.types) > 0, vec(m.types...))
	add(2, len(m.imports) > 0, vec(m.imports...))
	add(3, len(funcs) > 0, vec(funcs...))
	add(4, m.table != nil, vec(m.table))
	add(5, m.memory, vec([]byte{0x00, 0x01}))
	add(6, len(m.globals) > 0, vec(m.globals...))
	add(7, len(exports) > 0, vec(exports...))
	add(8, m.start != nil, m.start)
	add(9, len(m.elems) > 0, vec(m.elems...))
	add(10, len(code) > 0, vec(code...))
	add(11, len(m.datas) > 0, vec(m.datas...))
	emitCustoms(0xff)
	return out
}
