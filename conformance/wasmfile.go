package conformance

import (
	"errors"
	"fmt"
	"strings"
)

// This file reads the import and export sections of a WebAssembly core
// module, so the abi.* checks can say exactly what is wrong with a module
// even when the host refuses to load it.

// wasm value types, as encoded in the binary format.
const (
	valI32 byte = 0x7f
	valI64 byte = 0x7e
	valF32 byte = 0x7d
	valF64 byte = 0x7c
)

// External kinds of imports and exports.
const (
	kindFunc   byte = 0
	kindTable  byte = 1
	kindMemory byte = 2
	kindGlobal byte = 3
	kindTag    byte = 4
)

type funcType struct{ params, results []byte }

func (t funcType) String() string {
	name := func(ts []byte) string {
		s := make([]string, len(ts))
		for i, v := range ts {
			switch v {
			case valI32:
				s[i] = "i32"
			case valI64:
				s[i] = "i64"
			case valF32:
				s[i] = "f32"
			case valF64:
				s[i] = "f64"
			default:
				s[i] = fmt.Sprintf("0x%02x", v)
			}
		}
		return "(" + strings.Join(s, ", ") + ")"
	}
	return name(t.params) + " -> " + name(t.results)
}

func (t funcType) is(params, results []byte) bool {
	return string(t.params) == string(params) && string(t.results) == string(results)
}

type wasmImport struct {
	module, name string
	kind         byte
	typ          funcType // functions only
}

type wasmExport struct {
	name string
	kind byte
	typ  funcType // functions only
}

type wasmModule struct {
	imports []wasmImport
	exports map[string]wasmExport
}

var errNotWasm = errors.New("not a WebAssembly core module")

type wasmReader struct {
	b   []byte
	off int
	err error
}

func (r *wasmReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("offset %d: "+format, append([]any{r.off}, args...)...)
	}
}

func (r *wasmReader) byte() byte {
	if r.err != nil || r.off >= len(r.b) {
		r.fail("unexpected end")
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *wasmReader) u64() uint64 {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail("LEB128 too long")
	return 0
}

func (r *wasmReader) u32() uint32 {
	v := r.u64()
	if v > 1<<32-1 {
		r.fail("u32 out of range")
	}
	return uint32(v)
}

func (r *wasmReader) bytes(n uint32) []byte {
	if r.err != nil {
		return nil
	}
	if uint64(r.off)+uint64(n) > uint64(len(r.b)) {
		r.fail("unexpected end")
		return nil
	}
	s := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return s
}

func (r *wasmReader) name() string { return string(r.bytes(r.u32())) }

func (r *wasmReader) limits() {
	flags := r.byte()
	r.u64()
	if flags&1 != 0 {
		r.u64()
	}
}

// parseWasm reads the sections the abi checks need.
func parseWasm(b []byte) (*wasmModule, error) {
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		return nil, fmt.Errorf("%w: the file does not start with the \\0asm magic", errNotWasm)
	}
	if string(b[4:8]) != "\x01\x00\x00\x00" {
		return nil, fmt.Errorf("%w: binary version %x (a component? ABI v1 plugins are core modules, version 1)", errNotWasm, b[4:8])
	}
	r := &wasmReader{b: b, off: 8}
	var types []funcType
	var funcs []uint32 // type index of every function, imported first
	m := &wasmModule{exports: map[string]wasmExport{}}
	type rawExport struct {
		name string
		kind byte
		idx  uint32
	}
	var exports []rawExport
	for r.off < len(b) && r.err == nil {
		id := r.byte()
		size := r.u32()
		body := r.bytes(size)
		if r.err != nil {
			break
		}
		s := &wasmReader{b: body}
		switch id {
		case 1: // types
			n := s.u32()
			for i := uint32(0); i < n && s.err == nil; i++ {
				if form := s.byte(); form != 0x60 {
					s.fail("type %d has form 0x%02x, want a function type", i, form)
					break
				}
				var t funcType
				t.params = append([]byte(nil), s.bytes(s.u32())...)
				t.results = append([]byte(nil), s.bytes(s.u32())...)
				types = append(types, t)
			}
		case 2: // imports
			n := s.u32()
			for i := uint32(0); i < n && s.err == nil; i++ {
				im := wasmImport{module: s.name(), name: s.name(), kind: s.byte()}
				switch im.kind {
				case kindFunc:
					ti := s.u32()
					if int(ti) >= len(types) {
						s.fail("import %s.%s has type %d out of range", im.module, im.name, ti)
						break
					}
					im.typ = types[ti]
					funcs = append(funcs, ti)
				case kindTable:
					s.byte()
					s.limits()
				case kindMemory:
					s.limits()
				case kindGlobal:
					s.byte()
					s.byte()
				case kindTag:
					s.byte()
					s.u32()
				default:
					s.fail("import %s.%s has unknown kind %d", im.module, im.name, im.kind)
				}
				m.imports = append(m.imports, im)
			}
		case 3: // functions
			n := s.u32()
			for i := uint32(0); i < n && s.err == nil; i++ {
				funcs = append(funcs, s.u32())
			}
		case 7: // exports
			n := s.u32()
			for i := uint32(0); i < n && s.err == nil; i++ {
				exports = append(exports, rawExport{name: s.name(), kind: s.byte(), idx: s.u32()})
			}
		}
		if s.err != nil {
			return nil, fmt.Errorf("%w: section %d: %v", errNotWasm, id, s.err)
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v", errNotWasm, r.err)
	}
	for _, e := range exports {
		x := wasmExport{name: e.name, kind: e.kind}
		if e.kind == kindFunc {
			if int(e.idx) >= len(funcs) || int(funcs[e.idx]) >= len(types) {
				return nil, fmt.Errorf("%w: export %s names function %d out of range", errNotWasm, e.name, e.idx)
			}
			x.typ = types[funcs[e.idx]]
		}
		m.exports[e.name] = x
	}
	return m, nil
}
