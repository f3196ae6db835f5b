package meter

import "fmt"

// Emitting the instrumented module: the sections that name functions are
// re-encoded with every defined function's index moved up by one (the
// refill import comes first); the type, import, global and export sections
// gain the meter's entries; everything else is copied byte for byte.

// emit assembles the instrumented module.
func (m *module) emit() ([]byte, Stats, error) {
	if m.code == nil && len(m.funcTypes) > 0 {
		return nil, Stats{}, fmt.Errorf("%w: %d functions declared and no code section", ErrMalformed, len(m.funcTypes))
	}
	rewrite := map[byte]func(s section) ([]byte, error){
		secType:    m.emitTypes,
		secImport:  m.emitImports,
		secGlobal:  m.emitGlobals,
		secExport:  m.emitExports,
		secStart:   m.emitStart,
		secElement: m.emitElements,
		secCode:    m.rewriteCode,
	}
	// Sections the meter adds entries to; synthesized from an empty vector when missing.
	needed := []byte{secType, secImport, secGlobal, secExport}
	present := map[byte]bool{}
	for _, s := range m.sections {
		present[s.id] = true
	}
	out := make([]byte, 0, len(m.wasm)+len(m.wasm)/8+256)
	out = append(out, header...)
	var err error
	addMissing := func(beforeRank int) {
		for _, id := range needed {
			if !present[id] && sectionRank[id] < beforeRank && err == nil {
				present[id] = true
				var body []byte
				if body, err = rewrite[id](section{id: id, body: []byte{0x00}}); err == nil {
					out = appendSection(out, id, body)
				}
			}
		}
	}
	for _, s := range m.sections {
		if s.id != secCustom {
			addMissing(sectionRank[s.id])
		}
		var body []byte
		switch {
		case s.drop:
			m.stats.DroppedCustom++
			continue
		case s.id == secCustom && s.name == "name":
			body, err = m.emitNames(s)
		case rewrite[s.id] != nil:
			body, err = rewrite[s.id](s)
		default:
			out = append(out, m.wasm[s.start:s.end]...)
			continue
		}
		if err != nil {
			return nil, Stats{}, err
		}
		out = appendSection(out, s.id, body)
	}
	addMissing(len(sectionRank) + 1)
	if err != nil {
		return nil, Stats{}, err
	}
	return out, m.stats, nil
}

func appendName(out []byte, s string) []byte {
	return append(appendU32(out, uint32(len(s))), s...)
}

// sectionVector reads a section's vector count.
func sectionVector(s section) (*reader, uint32, error) {
	r := &reader{b: s.body, base: s.bodyOff}
	n, err := r.u32()
	return r, n, err
}

// emitTypes appends the refill function's type, () -> ().
func (m *module) emitTypes(s section) ([]byte, error) {
	r, n, err := sectionVector(s)
	if err != nil {
		return nil, err
	}
	out := appendU32(nil, n+1)
	out = append(out, r.b[r.off:]...)
	return append(out, 0x60, 0x00, 0x00), nil
}

// emitImports appends the refill import, as the last imported function.
func (m *module) emitImports(s section) ([]byte, error) {
	r, n, err := sectionVector(s)
	if err != nil {
		return nil, err
	}
	out := appendU32(nil, n+1)
	out = append(out, r.b[r.off:]...)
	out = appendName(out, RefillModule)
	out = appendName(out, RefillName)
	out = append(out, 0x00)
	return appendU32(out, uint32(len(m.typeParams))), nil
}

// emitGlobals re-encodes the globals (their initializers may hold ref.func)
// and appends Used and Limit: mutable i64, 0.
func (m *module) emitGlobals(s section) ([]byte, error) {
	r, n, err := sectionVector(s)
	if err != nil {
		return nil, err
	}
	out := appendU32(nil, n+2)
	for range n {
		t, err := r.bytes(2) // value type (one byte, checked at parse) and mutability
		if err != nil {
			return nil, err
		}
		out = append(out, t...)
		if out, err = m.copyExpr(r, out); err != nil {
			return nil, err
		}
	}
	for range 2 {
		out = append(out, 0x7e, 0x01, 0x42, 0x00, 0x0b)
	}
	return out, nil
}

// emitExports renumbers exported functions and appends the two globals.
func (m *module) emitExports(s section) ([]byte, error) {
	r, n, err := sectionVector(s)
	if err != nil {
		return nil, err
	}
	out := appendU32(nil, n+2)
	for range n {
		name, err := r.name()
		if err != nil {
			return nil, err
		}
		kind, err := r.byte()
		if err != nil {
			return nil, err
		}
		idx, err := r.u32()
		if err != nil {
			return nil, err
		}
		if kind == 0x00 {
			idx = m.fn(idx)
		}
		out = append(appendName(out, name), kind)
		out = appendU32(out, idx)
	}
	for i, name := range []string{UsedGlobal, LimitGlobal} {
		out = append(appendName(out, name), 0x03)
		out = appendU32(out, m.usedIndex()+uint32(i))
	}
	return out, nil
}

func (m *module) emitStart(s section) ([]byte, error) {
	r := &reader{b: s.body, base: s.bodyOff}
	idx, err := r.u32()
	if err != nil {
		return nil, err
	}
	return appendU32(nil, m.fn(idx)), nil
}

// emitElements renumbers the functions of element segments.
func (m *module) emitElements(s section) ([]byte, error) {
	r, n, err := sectionVector(s)
	if err != nil {
		return nil, err
	}
	out := appendU32(nil, n)
	for range n {
		start := r.off
		flags, err := r.u32()
		if err != nil {
			return nil, err
		}
		if flags&3 == 2 {
			if _, err := r.u32(); err != nil {
				return nil, err
			}
		}
		out = append(out, r.b[start:r.off]...) // flags and table index
		if flags&1 == 0 {
			if out, err = m.copyExpr(r, out); err != nil {
				return nil, err
			}
		}
		if flags&3 != 0 {
			k, err := r.byte()
			if err != nil {
				return nil, err
			}
			out = append(out, k)
		}
		items, err := r.u32()
		if err != nil {
			return nil, err
		}
		out = appendU32(out, items)
		for range items {
			if flags&4 != 0 {
				if out, err = m.copyExpr(r, out); err != nil {
					return nil, err
				}
				continue
			}
			idx, err := r.u32()
			if err != nil {
				return nil, err
			}
			out = appendU32(out, m.fn(idx))
		}
	}
	return out, nil
}

// copyExpr copies a constant expression, renumbering ref.func.
func (m *module) copyExpr(r *reader, out []byte) ([]byte, error) {
	for {
		start := r.off
		in, err := decode(r)
		if err != nil {
			return nil, err
		}
		if in.kind == kRefFunc {
			out = appendU32(append(out, 0xd2), m.fn(in.idx))
		} else {
			out = append(out, r.b[start:r.off]...)
		}
		if in.kind == kEnd {
			return out, nil
		}
	}
}

// emitNames renumbers the function and local names of the name section
// (checked by checkNames at parse).
func (m *module) emitNames(s section) ([]byte, error) {
	r := &reader{b: s.body, base: s.bodyOff}
	name, err := r.name()
	if err != nil {
		return nil, err
	}
	out := appendName(nil, name)
	for !r.done() {
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		start := r.base + r.off
		body, err := r.bytes(size)
		if err != nil {
			return nil, err
		}
		if id != 1 && id != 2 {
			out = append(out, id)
			out = appendU32(out, size)
			out = append(out, body...)
			continue
		}
		sr := &reader{b: body, base: start}
		n, err := sr.u32()
		if err != nil {
			return nil, err
		}
		sub := appendU32(nil, n)
		for range n {
			idx, err := sr.u32()
			if err != nil {
				return nil, err
			}
			sub = appendU32(sub, m.fn(idx))
			from := sr.off
			if id == 1 {
				_, err = sr.name()
			} else {
				err = vector(sr, func() error {
					if _, err := sr.u32(); err != nil {
						return err
					}
					_, err := sr.name()
					return err
				})
			}
			if err != nil {
				return nil, err
			}
			sub = append(sub, sr.b[from:sr.off]...)
		}
		out = append(out, id)
		out = appendU32(out, uint32(len(sub)))
		out = append(out, sub...)
	}
	return out, nil
}
