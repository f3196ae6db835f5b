package meter

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
)

// The metered module exports two mutable i64 globals and imports one
// function. The guest adds what it spends to Used; when Used exceeds Limit
// it calls the import RefillModule.RefillName, a host function of type
// () -> (), and traps (unreachable) if Used still exceeds Limit when it
// returns. The guest never writes Limit.
//
// The host sets Used to 0 and Limit to a first slice of fuel before a call.
// Its refill function decides: raise Limit by another slice and return, or
// end the call (panic with an error, or return without raising Limit). It
// runs on the calling goroutine, so it can check the budget, the deadline
// and the caller's context without any other goroutine; and because it is
// Go code, the Go runtime can stop the goroutine there (native wasm code
// cannot be preempted: without such calls a garbage collection waits for
// the wasm call to end, and every goroutine of the process with it).
//
// Instrument refuses a module that already exports either global name or
// imports anything from RefillModule.
const (
	UsedGlobal   = "__ron_fuel_used"
	LimitGlobal  = "__ron_fuel_limit"
	RefillModule = "ron_meter"
	RefillName   = "refill"
)

// BulkUnitsPerByte is what each byte of memory.fill, memory.copy and
// memory.init costs; memory.grow pays it for the bytes of the pages it adds.
// table.fill, table.copy, table.init and table.grow pay one unit per
// element. With LoopPassUnits it keeps every shape of code within a few
// times the fuel rate of the fastest one measured (BenchmarkRate: Go's
// function-wide loops, a one-instruction loop, a memory.fill loop), so a
// call that reaches its budget does so well inside the wall-clock safety
// net whatever the language: before, a tight loop or a fill loop burnt fuel
// thousands of times slower than Go's code and met the net first.
const BulkUnitsPerByte = 1 << bulkShift

const bulkShift = 6

// LoopPassUnits is the least a pass through a loop costs, however few
// instructions its body has (a pass costs the larger of its body's count and
// this): Go's functions pay their whole body at every jump, a C or Rust
// tight loop a handful of instructions per pass.
const LoopPassUnits = 1024

// Limits on module shapes that compilers handle badly: time or memory
// growing faster than the module's bytes. A module over one is refused with
// ErrLimit before any compiler sees it (docs/ABI.md lists them). Each is
// far above what toolchains produce: the Go, Rust and C plugins of this
// repository peak at 964 targets in one br_table (Go emits one per call
// site of a function, to resume it), 91,000 in all, 29 KB of function
// body, 2,600 functions and a nesting of about a thousand blocks.
const (
	// MaxLocals bounds the parameters and locals of one function, as web
	// browsers do. wazero allocates a byte per declared local when it
	// compiles, so a 30-byte module declaring 2^32-1 locals would make it
	// allocate 4 GiB (and spend minutes).
	MaxLocals = 50000
	// MaxBrTableTargets bounds the targets of one br_table: compile time
	// grows faster than linearly in them (a 1 MB module with a single
	// 1,000,000-target br_table took wazero 166 s and 2.4 GB).
	MaxBrTableTargets = 16384
	// MaxModuleBrTableTargets bounds the br_table targets of a module.
	MaxModuleBrTableTargets = 1 << 18
	// MaxFunctionBytes bounds the size of one function body.
	MaxFunctionBytes = 2 << 20
	// MaxFunctions bounds the functions a module defines.
	MaxFunctions = 1 << 17
	// MaxNesting bounds how deeply blocks, loops and ifs nest in a
	// function: wazero's compile time grows with its square (16,384 deep
	// took 100 times the compile of as many bytes of ordinary code).
	MaxNesting = 4096
	// MaxModuleNesting bounds the sum over a module's functions of their
	// deepest nesting.
	MaxModuleNesting = 1 << 18
)

var (
	// ErrMalformed reports bytes that are not a well-formed WebAssembly
	// module (or a construct that would change meaning once the fuel global
	// exists, such as an out-of-range global index).
	ErrMalformed = errors.New("meter: malformed module")
	// ErrUnsupported reports a well-formed module using a feature the meter
	// does not know how to instrument (GC, exception handling, threads, ...).
	ErrUnsupported = errors.New("meter: unsupported")
	// ErrLimit reports a module over one of the meter's limits (MaxLocals,
	// MaxBrTableTargets, MaxModuleBrTableTargets, MaxFunctionBytes,
	// MaxFunctions, MaxNesting, MaxModuleNesting).
	ErrLimit = errors.New("meter: over a limit")
	// ErrReserved reports a module that already exports UsedGlobal or
	// LimitGlobal, or imports from RefillModule.
	ErrReserved = errors.New("meter: reserved name (" + UsedGlobal + ", " + LimitGlobal + " or the module " + RefillModule + ")")
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
// the exported globals UsedGlobal and LimitGlobal and the imported function
// RefillModule.RefillName (see the package doc). It
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
	name       string // of a custom section
	start, end int    // the whole section in the module, header included
	body       []byte // the contents
	bodyOff    int    // offset of body in the module
	drop       bool
}

type module struct {
	wasm     []byte
	sections []section

	typeParams      []uint32 // parameter count of each function type
	funcTypes       []uint32 // type index of each defined function
	importedFuncs   uint32
	importedGlobals uint32
	definedGlobals  uint32
	code            *section
	stats           Stats
	brTargets       uint64 // br_table targets so far
	wrappedLoops    int    // loops whose refill is outside them (code.go)
	nesting         uint64 // the deepest nesting of each function so far, summed
}

// usedIndex is the index of the Used global; Limit follows it.
func (m *module) usedIndex() uint32 { return m.importedGlobals + m.definedGlobals }

// refillIndex is the function index of the refill import: after the
// module's imported functions, so every defined function moves up by one.
func (m *module) refillIndex() uint32 { return m.importedFuncs }

// fn maps a function index of the original module to the instrumented one.
func (m *module) fn(i uint32) uint32 {
	if i >= m.importedFuncs {
		return i + 1
	}
	return i
}

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
			s.name = name
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
	if uint64(m.importedGlobals)+uint64(m.definedGlobals) >= math.MaxUint32-1 ||
		uint64(m.importedFuncs)+uint64(len(m.funcTypes)) >= math.MaxUint32 || len(m.typeParams) >= math.MaxUint32 {
		return nil, fmt.Errorf("%w: too many globals, functions or types", ErrMalformed)
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
		mod, err := r.name()
		if err != nil {
			return err
		}
		if mod == RefillModule {
			return ErrReserved
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
			m.importedFuncs++
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
	if n > MaxFunctions {
		return fmt.Errorf("%w: %d functions, the most is %d", ErrLimit, n, MaxFunctions)
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

func appendSection(out []byte, id byte, body []byte) []byte {
	out = append(out, id)
	out = appendU32(out, uint32(len(body)))
	return append(out, body...)
}

// rewriteCode rewrites every function body of the code section.
func (m *module) rewriteCode(s section) ([]byte, error) {
	if m.code == nil { // synthesized: cannot happen, the code section is never added
		return nil, fmt.Errorf("%w: no code section", ErrMalformed)
	}
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
	b := bodyRewriter{m: m, used: m.usedIndex(), limit: m.usedIndex() + 1, globals: m.usedIndex(), refill: m.refillIndex()}
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
		if size > MaxFunctionBytes {
			return nil, fmt.Errorf("%w: function %d has %d bytes of body, the most is %d", ErrLimit, i, size, MaxFunctionBytes)
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
