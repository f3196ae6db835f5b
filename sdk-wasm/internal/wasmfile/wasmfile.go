package wasmfile

import (
	"errors"
	"fmt"
)

// Import is one imported item.
type Import struct {
	Module, Name string
	Kind         byte // 0 func, 1 table, 2 memory, 3 global
}

// Export is one exported item.
type Export struct {
	Name string
	Kind byte // 0 func, 1 table, 2 memory, 3 global
}

// Module lists a binary's imports and exports.
type Module struct {
	Imports []Import
	Exports []Export
}

// HasExport reports whether the module exports name with kind.
func (m *Module) HasExport(name string, kind byte) bool {
	for _, e := range m.Exports {
		if e.Name == name && e.Kind == kind {
			return true
		}
	}
	return false
}

var errShort = errors.New("wasmfile: truncated module")

type reader struct {
	b   []byte
	off int
}

func (r *reader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, errShort
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *reader) uleb() (uint32, error) {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, errors.New("wasmfile: bad LEB128")
}

func (r *reader) name() (string, error) {
	n, err := r.uleb()
	if err != nil {
		return "", err
	}
	if int(n) > len(r.b)-r.off {
		return "", errShort
	}
	s := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	return s, nil
}

func (r *reader) limits() error {
	flag, err := r.byte()
	if err != nil {
		return err
	}
	if _, err := r.uleb(); err != nil {
		return err
	}
	if flag&1 != 0 {
		_, err = r.uleb()
	}
	return err
}

// Parse reads b's import and export sections.
func Parse(b []byte) (*Module, error) {
	if len(b) < 8 || string(b[:4]) != "\x00asm" || b[4] != 1 {
		return nil, errors.New("wasmfile: not a WebAssembly 1 binary")
	}
	r := &reader{b: b, off: 8}
	m := &Module{}
	for r.off < len(b) {
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		size, err := r.uleb()
		if err != nil {
			return nil, err
		}
		end := r.off + int(size)
		if end > len(b) {
			return nil, errShort
		}
		sec := &reader{b: b[:end], off: r.off}
		switch id {
		case 2:
			if err := parseImports(sec, m); err != nil {
				return nil, err
			}
		case 7:
			if err := parseExports(sec, m); err != nil {
				return nil, err
			}
		}
		r.off = end
	}
	return m, nil
}

func parseImports(r *reader, m *Module) error {
	n, err := r.uleb()
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		mod, err := r.name()
		if err != nil {
			return err
		}
		name, err := r.name()
		if err != nil {
			return err
		}
		kind, err := r.byte()
		if err != nil {
			return err
		}
		switch kind {
		case 0:
			_, err = r.uleb()
		case 1:
			if _, err = r.byte(); err == nil {
				err = r.limits()
			}
		case 2:
			err = r.limits()
		case 3:
			if _, err = r.byte(); err == nil {
				_, err = r.byte()
			}
		default:
			err = fmt.Errorf("wasmfile: import kind %d", kind)
		}
		if err != nil {
			return err
		}
		m.Imports = append(m.Imports, Import{Module: mod, Name: name, Kind: kind})
	}
	return nil
}

func parseExports(r *reader, m *Module) error {
	n, err := r.uleb()
	if err != nil {
		return err
	}
	for i := uint32(0); i < n; i++ {
		name, err := r.name()
		if err != nil {
			return err
		}
		kind, err := r.byte()
		if err != nil {
			return err
		}
		if _, err := r.uleb(); err != nil {
			return err
		}
		m.Exports = append(m.Exports, Export{Name: name, Kind: kind})
	}
	return nil
}
