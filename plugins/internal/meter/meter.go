package meter

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
)

// The metered module exports two mutable i64 globals. The guest adds what
// it spends to Used and traps when Used exceeds Limit; it never writes
// Limit. The host sets Used to 0 and Limit to the call's budget before the
// call, and after a trap reads both: Used > Limit means out of fuel.
//
// Because the guest only reads Limit, a host goroutine that stores 0 there
// stops the call at its next check (wazero loads the global at every check):
// a wall-clock deadline costs nothing in the guest. (A single counter the
// guest decrements would not do: the guest's read-modify-write overwrites a
// store from another thread that lands between its load and its store, and
// in a tight loop that is nearly every time.)
//
// Instrument refuses a module that already exports either name.
const (
	UsedGlobal  = "__ron_fuel_used"
	LimitGlobal = "__ron_fuel_limit"
)

// BulkBytesPerUnit is how many bytes of memory.fill, memory.copy and
// memory.init one unit of fuel pays for; memory.grow pays for the bytes of
// the pages it adds. table.fill, table.copy, table.init and table.grow pay
// one unit per element.
const BulkBytesPerUnit = 1 << bulkShift

const bulkShift = 4

// MaxLocals bounds the parameters and locals of one function, as web
// browsers do. wazero allocates a byte per declared local when it compiles,
// so a 30-byte module declaring 2^32-1 locals would make it allocate 4 GiB
// (and spend minutes): the meter refuses it before wazero sees it.
const MaxLocals = 50000

var (
	// ErrMalformed reports bytes that are not a well-formed WebAssembly
	// module (or a construct that would change meaning once the fuel global
	// exists, such as an out-of-range global index).
	ErrMalformed = errors.New("meter: malformed module")
	// ErrUnsupported reports a well-formed module using a feature the meter
	// does not know how to instrument (GC, exception handling, threads, ...).
	ErrUnsupported = errors.New("meter: unsupported")
	// ErrLimit reports a module over one of the meter's limits (MaxLocals).
	ErrLimit = errors.New("meter: over a limit")
	// ErrReserved reports a module that already exports UsedGlobal or LimitGlobal.
	ErrReserved = errors.New("meter: reserved export name " + UsedGlobal + " or " + LimitGlobal)
)

// Stats counts what Instrument inserted.
type Stats struct {
	Functions     int // function bodies rewritten
	LoopChecks    int // checks at loop headers
	EntryChecks   int // checks at function entries
	MergedEntries int // function entries charged by their first loop's check instead
	BulkChecks    int // dynamic charges before bulk memory and table operations
	DroppedCustom int // custom sections dropped (.debug_*: their code offsets go stale)
}

// Instrument returns a copy of the module wasm that meters itself through
// the exported globals UsedGlobal and LimitGlobal (see the package doc). It
// never returns a module it could not fully decode: unknown instructions and
// sections fail with ErrUnsupported, broken bytes with ErrMalformed.
func Instrument(wasm []byte) ([]byte, error) {
	out, _, err := InstrumentStats(wasm)
	return out, err
}

// InstrumentStats is Instrument that also reports what it inserted.
func InstrumentStats(wasm []byte) ([]byte, Stats, error) {
	m, err := parse(wasm)
	if err != nil {
		return nil, Stats{}, err
	}
	return m.emit()
}

var header = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

// Section ids.
const (
	secCustom   = 0
	secType     = 1
	secImport   = 2
	secFunction = 3
	secTable    = 4
	secMemory   = 5
	secGlobal   = 6
	secExport   = 7
	secStart    = 8
	secElement  = 9
	secCode     = 10
	secData     = 11
	secDataCnt  = 12
	secTag      = 13
)

// sectionRank is the required order of the non-custom sections.
var sectionRank = map[byte]int{
	secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5, secTag: 6,
	secGlobal: 7, secExport: 8, secStart: 9, secElement: 10, secDataCnt: 11, secCode: 12, secData: 13,
}

type section struct {
	id         byte
	start, end int    // the whole section in the module, header included
	body       []byte // the contents
	bodyOff    int    // offset of body in the module
	drop       bool
}

type module struct {
	wasm     []byte
	sections []section

	typeParams      []uint32 // parameter count of each function type (-1: not a function type)
	funcTypes       []uint32 // type index of each defined function
	importedGlobals uint32
	definedGlobals  uint32
	globalRest      []byte // the global section after its count
	exportCount     uint32
	exportRest      []byte // the export section after its count
	code            *section
	stats           Stats
}

// usedIndex is the index of the Used global; Limit follows it.
func (m *module) usedIndex() uint32 { return m.importedGlobals + m.definedGlobals }

func parse(wasm []byte) (*module, error) {
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], header[:4]) {
		return nil, fmt.Errorf("%w: not a WebAssembly module (bad magic)", ErrMalformed)
	}
	if !bytes.Equal(wasm[4:8], header[4:8]) {
		return nil, fmt.Errorf("%w: binary version %x (only core modules of version 1)", ErrUnsupported, wasm[4:8])
	}
	m := &module{wasm: wasm}
	r := &reader{b: wasm, off: 8}
	lastRank := 0
	for !r.done() {
		start := r.off
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		bodyOff := r.off
		body, err := r.bytes(size)
		if err != nil {
			return nil, err
		}
		s := section{id: id, start: start, end: r.off, body: body, bodyOff: bodyOff}
		if id == secCustom {
			cr := &reader{b: body, base: bodyOff}
			name, err := cr.name()
			if err != nil {
				return nil, err
			}
			s.drop = strings.HasPrefix(name, ".debug_")
			if name == "name" {
				if err := checkNames(cr); err != nil {
					return nil, err
				}
			}
			m.sections = append(m.sections, s)
			continue
		}
		rank, ok := sectionRank[id]
		if !ok {
			return nil, fmt.Errorf("%w: section id %d at byte %d", ErrUnsupported, id, start)
		}
		if rank <= lastRank {
			return nil, fmt.Errorf("%w: section id %d at byte %d is out of order or repeated", ErrMalformed, id, start)
		}
		lastRank = rank
		m.sections = append(m.sections, s)
	}
	for i := range m.sections {
		s := &m.sections[i]
		r := &reader{b: s.body, base: s.bodyOff}
		var err error
		switch s.id {
		case secType:
			err = m.parseTypes(r)
		case secImport:
			err = m.parseImports(r)
		case secFunction:
			err = m.parseFunctions(r)
		case secGlobal:
			err = m.parseGlobals(r)
		case secExport:
			err = m.parseExports(r)
		case secCode:
			m.code = s
		case secTable:
			err = vector(r, func() error {
				if err := valtype(r); err != nil {
					return err
				}
				return r.limits()
			})
		case secMemory:
			err = vector(r, r.limits)
		case secStart, secDataCnt:
			_, err = r.u32()
		case secElement:
			err = vector(r, func() error { return elementSegment(r) })
		case secData:
			err = vector(r, func() error { return dataSegment(r) })
		case secTag:
			err = fmt.Errorf("%w: tag section (exception handling)", ErrUnsupported)
		}
		if err == nil && s.id != secCode && s.id != secCustom {
			err = expectEnd(r)
		}
		if err != nil {
			return nil, err
		}
	}
	if uint64(m.importedGlobals)+uint64(m.definedGlobals) >= math.MaxUint32-1 {
		return nil, fmt.Errorf("%w: too many globals", ErrMalformed)
	}
	return m, nil
}

func (m *module) parseTypes(r *reader) error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	for range n {
		form, err := r.byte()
		if err != nil {
			return err
		}
		if form != 0x60 {
			return fmt.Errorf("%w: type form 0x%02x (only function types; GC types are not supported)", ErrUnsupported, form)
		}
		np, err := m.valtypes(r)
		if err != nil {
			return err
		}
		if _, err := m.valtypes(r); err != nil {
			return err
		}
		m.typeParams = append(m.typeParams, np)
	}
	return expectEnd(r)
}

// valtypes skips a vector of value types and returns its length.
func (m *module) valtypes(r *reader) (uint32, error) {
	n, err := r.u32()
	if err != nil {
		return 0, err
	}
	for range n {
		if err := valtype(r); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// valtype reads one value type of WebAssembly 2.0.
func valtype(r *reader) error {
	t, err := r.byte()
	if err != nil {
		return err
	}
	switch t {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		return nil
	}
	return fmt.Errorf("%w: value type 0x%02x at byte %d", ErrUnsupported, t, r.base+r.off-1)
}

func (m *module) parseImports(r *reader) error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	for range n {
		if _, err := r.name(); err != nil {
			return err
		}
		if _, err := r.name(); err != nil {
			return err
		}
		kind, err := r.byte()
		if err != nil {
			return err
		}
		switch kind {
		case 0x00: // function
			_, err = r.u32()
		case 0x01: // table
			if err = valtype(r); err == nil {
				err = r.limits()
			}
		case 0x02: // memory
			err = r.limits()
		case 0x03: // global
			if err = valtype(r); err == nil {
				var mut byte
				if mut, err = r.byte(); err == nil && mut > 1 {
					err = r.errorf("global mutability 0x%02x", mut)
				}
			}
			m.importedGlobals++
		case 0x04: // tag
			return fmt.Errorf("%w: imported tag (exception handling)", ErrUnsupported)
		default:
			return r.errorf("import kind 0x%02x", kind)
		}
		if err != nil {
			return err
		}
	}
	return expectEnd(r)
}

func (m *module) parseGlobals(r *reader) error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	m.definedGlobals = n
	m.globalRest = r.b[r.off:]
	for range n {
		if err := valtype(r); err != nil {
			return err
		}
		mut, err := r.byte()
		if err != nil {
			return err
		}
		if mut > 1 {
			return r.errorf("global mutability 0x%02x", mut)
		}
		if err := skipConstExpr(r); err != nil {
			return err
		}
	}
	return expectEnd(r)
}

func (m *module) parseFunctions(r *reader) error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	if uint64(n) > uint64(len(r.b)) {
		return r.errorf("%d functions in a %d-byte section", n, len(r.b))
	}
	m.funcTypes = make([]uint32, 0, n)
	for range n {
		t, err := r.u32()
		if err != nil {
			return err
		}
		if uint64(t) >= uint64(len(m.typeParams)) {
			return r.errorf("function type index %d out of range", t)
		}
		m.funcTypes = append(m.funcTypes, t)
	}
	return expectEnd(r)
}

func (m *module) parseExports(r *reader) error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	m.exportCount = n
	m.exportRest = r.b[r.off:]
	for range n {
		name, err := r.name()
		if err != nil {
			return err
		}
		if name == UsedGlobal || name == LimitGlobal {
			return ErrReserved
		}
		kind, err := r.byte()
		if err != nil {
			return err
		}
		idx, err := r.u32()
		if err != nil {
			return err
		}
		// The global section precedes the export section, so every global
		// is counted: an out-of-range index would name the fuel global once
		// it is appended.
		if kind == 0x03 && uint64(idx) >= uint64(m.importedGlobals)+uint64(m.definedGlobals) {
			return r.errorf("exported global index %d out of range", idx)
		}
		if kind > 0x04 {
			return r.errorf("export kind 0x%02x", kind)
		}
	}
	return expectEnd(r)
}

// vector reads a vector whose elements item reads. Every element takes at
// least a byte, so a count beyond the bytes left fails without a long loop.
func vector(r *reader, item func() error) error {
	n, err := r.u32()
	if err != nil {
		return err
	}
	if uint64(n) > uint64(len(r.b)-r.off) {
		return r.errorf("a vector of %d elements in %d bytes", n, len(r.b)-r.off)
	}
	for range n {
		if err := item(); err != nil {
			return err
		}
	}
	return nil
}

// elementSegment reads one element segment (all eight forms).
func elementSegment(r *reader) error {
	flags, err := r.u32()
	if err != nil {
		return err
	}
	if flags > 7 {
		return r.errorf("element segment flags %d", flags)
	}
	if flags&3 == 2 { // explicit table index
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	if flags&1 == 0 { // active: offset
		if err := skipConstExpr(r); err != nil {
			return err
		}
	}
	if flags&3 != 0 { // elemkind or reftype
		if _, err := r.byte(); err != nil {
			return err
		}
	}
	if flags&4 == 0 { // function indices
		return vector(r, func() error { _, err := r.u32(); return err })
	}
	return vector(r, func() error { return skipConstExpr(r) })
}

// dataSegment reads one data segment.
func dataSegment(r *reader) error {
	flags, err := r.u32()
	if err != nil {
		return err
	}
	switch flags {
	case 0:
		err = skipConstExpr(r)
	case 1:
	case 2:
		if _, err = r.u32(); err == nil {
			err = skipConstExpr(r)
		}
	default:
		return r.errorf("data segment flags %d", flags)
	}
	if err != nil {
		return err
	}
	n, err := r.u32()
	if err != nil {
		return err
	}
	_, err = r.bytes(n)
	return err
}

// checkNames checks the structure of the "name" custom section: wazero
// decodes it and sizes its maps by the counts it declares, so a count far
// beyond the section's bytes would make it allocate gigabytes.
func checkNames(r *reader) error {
	for !r.done() {
		id, err := r.byte()
		if err != nil {
			return err
		}
		size, err := r.u32()
		if err != nil {
			return err
		}
		start := r.base + r.off
		body, err := r.bytes(size)
		if err != nil {
			return err
		}
		sr := &reader{b: body, base: start}
		name := func() error { _, err := sr.name(); return err }
		assoc := func() error {
			if _, err := sr.u32(); err != nil {
				return err
			}
			return name()
		}
		switch id {
		case 0: // module name
			err = name()
		case 1: // function names
			err = vector(sr, assoc)
		case 2: // local names
			err = vector(sr, func() error {
				if _, err := sr.u32(); err != nil {
					return err
				}
				return vector(sr, assoc)
			})
		default:
			continue
		}
		if err == nil {
			err = expectEnd(sr)
		}
		if err != nil {
			return fmt.Errorf("name section: %w", err)
		}
	}
	return nil
}

func expectEnd(r *reader) error {
	if !r.done() {
		return r.errorf("%d trailing bytes in section", len(r.b)-r.off)
	}
	return nil
}

// emit assembles the instrumented module.
func (m *module) emit() ([]byte, Stats, error) {
	out := make([]byte, 0, len(m.wasm)+len(m.wasm)/8+64)
	out = append(out, header...)
	used := m.usedIndex()

	globalSec := appendU32(nil, m.definedGlobals+2)
	globalSec = append(globalSec, m.globalRest...)
	globalSec = append(globalSec, 0x7e, 0x01, 0x42, 0x00, 0x0b) // Used: mut i64 = 0
	globalSec = append(globalSec, 0x7e, 0x01, 0x42, 0x00, 0x0b) // Limit: mut i64 = 0

	exportSec := appendU32(nil, m.exportCount+2)
	exportSec = append(exportSec, m.exportRest...)
	for i, name := range []string{UsedGlobal, LimitGlobal} {
		exportSec = appendU32(exportSec, uint32(len(name)))
		exportSec = append(exportSec, name...)
		exportSec = append(exportSec, 0x03)
		exportSec = appendU32(exportSec, used+uint32(i))
	}

	wroteGlobal, wroteExport := false, false
	for _, s := range m.sections {
		rank := sectionRank[s.id]
		if s.id != secCustom && !wroteGlobal && rank > sectionRank[secGlobal] {
			out = appendSection(out, secGlobal, globalSec)
			wroteGlobal = true
		}
		if s.id != secCustom && !wroteExport && rank > sectionRank[secExport] {
			out = appendSection(out, secExport, exportSec)
			wroteExport = true
		}
		switch {
		case s.drop:
			m.stats.DroppedCustom++
		case s.id == secGlobal:
			out = appendSection(out, secGlobal, globalSec)
			wroteGlobal = true
		case s.id == secExport:
			out = appendSection(out, secExport, exportSec)
			wroteExport = true
		case s.id == secCode:
			code, err := m.rewriteCode(s)
			if err != nil {
				return nil, Stats{}, err
			}
			out = appendSection(out, secCode, code)
		default:
			out = append(out, m.wasm[s.start:s.end]...)
		}
	}
	if !wroteGlobal {
		out = appendSection(out, secGlobal, globalSec)
	}
	if !wroteExport {
		out = appendSection(out, secExport, exportSec)
	}
	if m.code == nil && len(m.funcTypes) > 0 {
		return nil, Stats{}, fmt.Errorf("%w: %d functions declared and no code section", ErrMalformed, len(m.funcTypes))
	}
	return out, m.stats, nil
}

func appendSection(out []byte, id byte, body []byte) []byte {
	out = append(out, id)
	out = appendU32(out, uint32(len(body)))
	return append(out, body...)
}

// rewriteCode rewrites every function body of the code section.
func (m *module) rewriteCode(s section) ([]byte, error) {
	r := &reader{b: s.body, base: s.bodyOff}
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	if int(n) != len(m.funcTypes) {
		return nil, fmt.Errorf("%w: %d function bodies for %d declared functions", ErrMalformed, n, len(m.funcTypes))
	}
	out := make([]byte, 0, len(s.body)+len(s.body)/4+16)
	out = appendU32(out, n)
	b := bodyRewriter{m: m, used: m.usedIndex(), limit: m.usedIndex() + 1, globals: m.usedIndex()}
	for i := range n {
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		off := r.off
		body, err := r.bytes(size)
		if err != nil {
			return nil, err
		}
		nb, err := b.rewrite(body, s.bodyOff+off, m.typeParams[m.funcTypes[i]])
		if err != nil {
			return nil, fmt.Errorf("function %d: %w", i, err)
		}
		if uint64(len(nb)) > math.MaxUint32 {
			return nil, fmt.Errorf("%w: function %d too large once instrumented", ErrLimit, i)
		}
		out = appendU32(out, uint32(len(nb)))
		out = append(out, nb...)
		m.stats.Functions++
	}
	if err := expectEnd(r); err != nil {
		return nil, err
	}
	return out, nil
}
