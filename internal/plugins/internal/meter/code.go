package meter

import "fmt"

// kind classifies a decoded instruction for the rewriter.
type kind uint8

const (
	kPlain kind = iota
	kBlock      // block, if: opens a frame
	kLoop       // opens a frame and a metered region
	kElse
	kEnd
	kCall    // call, call_indirect, return_call, return_call_indirect
	kGlobal  // global.get, global.set: idx
	kLocal   // local.get, local.set, local.tee: idx
	kBulk    // a bulk operation whose length is on top of the stack: scale
	kBranch  // br, br_if, br_table
	kRefFunc // ref.func: idx
)

// scale says how a bulk operation's length converts to fuel.
type scale uint8

const (
	perByte    scale = iota // memory.fill/copy/init: length << bulkShift
	perElement              // table.fill/copy/init/grow: length
	perPage                 // memory.grow: pages << (16 + bulkShift)
)

type instr struct {
	kind   kind
	idx    uint32
	scale  scale
	direct bool // kCall: call or return_call, to function idx
}

// simdHoles lists the 0xFD sub-opcodes from 0x5e up that do not exist
// (SIMD's numbering has holes); everything else from 0x5e to 0xff takes no
// immediate.
var simdHoles = map[uint32]bool{
	0x9a: true, 0xa2: true, 0xa5: true, 0xa6: true, 0xaf: true, 0xb0: true, 0xb2: true, 0xb3: true,
	0xb4: true, 0xbb: true, 0xc2: true, 0xc5: true, 0xc6: true, 0xcf: true, 0xd0: true, 0xd2: true,
	0xd3: true, 0xd4: true, 0xe2: true, 0xee: true,
}

// decode reads one instruction with all its immediates.
func decode(r *reader) (instr, error) {
	at := r.base + r.off
	op, err := r.byte()
	if err != nil {
		return instr{}, err
	}
	unsupported := func(what string) (instr, error) {
		return instr{}, fmt.Errorf("%w: %s (opcode 0x%02x at byte %d)", ErrUnsupported, what, op, at)
	}
	switch {
	case op == 0x00, op == 0x01, op == 0x0f, op == 0x1a, op == 0x1b, op == 0xd1:
		// unreachable, nop, return, drop, select, ref.is_null
		return instr{}, nil
	case op >= 0x45 && op <= 0xc4:
		// numeric instructions of MVP and sign extension: no immediates
		return instr{}, nil
	case op >= 0x28 && op <= 0x3e:
		return instr{}, memarg(r)
	}
	switch op {
	case 0x02, 0x04:
		return instr{kind: kBlock}, blocktype(r)
	case 0x03:
		return instr{kind: kLoop}, blocktype(r)
	case 0x05:
		return instr{kind: kElse}, nil
	case 0x0b:
		return instr{kind: kEnd}, nil
	case 0x0c, 0x0d: // br, br_if
		_, err := r.u32()
		return instr{kind: kBranch}, err
	case 0x0e: // br_table
		n, err := r.u32()
		if err != nil {
			return instr{}, err
		}
		if n > MaxBrTableTargets {
			return instr{}, fmt.Errorf("%w: a br_table with %d targets at byte %d, the most is %d", ErrLimit, n, at, MaxBrTableTargets)
		}
		for i := uint64(0); i <= uint64(n); i++ {
			if _, err := r.u32(); err != nil {
				return instr{}, err
			}
		}
		return instr{kind: kBranch, idx: n}, nil
	case 0x10, 0x12: // call, return_call
		idx, err := r.u32()
		return instr{kind: kCall, idx: idx, direct: true}, err
	case 0x11, 0x13: // call_indirect, return_call_indirect
		if _, err := r.u32(); err != nil {
			return instr{}, err
		}
		_, err := r.u32()
		return instr{kind: kCall}, err
	case 0x1c: // select t*
		n, err := r.u32()
		if err != nil {
			return instr{}, err
		}
		if n > uint32(len(r.b)) {
			return instr{}, r.errorf("select with %d types", n)
		}
		for range n {
			if err := valtype(r); err != nil {
				return instr{}, err
			}
		}
		return instr{}, nil
	case 0x20, 0x21, 0x22:
		idx, err := r.u32()
		return instr{kind: kLocal, idx: idx}, err
	case 0x23, 0x24:
		idx, err := r.u32()
		return instr{kind: kGlobal, idx: idx}, err
	case 0x25, 0x26: // table.get, table.set
		_, err := r.u32()
		return instr{}, err
	case 0x3f: // memory.size
		_, err := r.u32()
		return instr{}, err
	case 0x40: // memory.grow
		_, err := r.u32()
		return instr{kind: kBulk, scale: perPage}, err
	case 0x41:
		_, err := r.sleb(32)
		return instr{}, err
	case 0x42:
		_, err := r.sleb(64)
		return instr{}, err
	case 0x43:
		_, err := r.bytes(4)
		return instr{}, err
	case 0x44:
		_, err := r.bytes(8)
		return instr{}, err
	case 0xd0: // ref.null
		t, err := r.byte()
		if err != nil {
			return instr{}, err
		}
		if t != 0x70 && t != 0x6f {
			return unsupported(fmt.Sprintf("ref.null of heap type 0x%02x", t))
		}
		return instr{}, nil
	case 0xd2: // ref.func
		idx, err := r.u32()
		return instr{kind: kRefFunc, idx: idx}, err
	case 0xfc:
		return decodeFC(r, unsupported)
	case 0xfd:
		return decodeSIMD(r, unsupported)
	case 0x06, 0x07, 0x08, 0x09, 0x0a, 0x18, 0x19, 0x1f:
		return unsupported("exception handling")
	case 0x14, 0x15, 0xd3, 0xd4, 0xd5, 0xd6, 0xfb:
		return unsupported("typed function references or GC")
	case 0xfe:
		return unsupported("threads (atomic.wait would block unmetered)")
	}
	return unsupported("unknown instruction")
}

func decodeFC(r *reader, unsupported func(string) (instr, error)) (instr, error) {
	sub, err := r.u32()
	if err != nil {
		return instr{}, err
	}
	switch sub {
	case 0, 1, 2, 3, 4, 5, 6, 7: // trunc_sat
		return instr{}, nil
	case 8: // memory.init data mem
		if _, err := r.u32(); err != nil {
			return instr{}, err
		}
		_, err := r.u32()
		return instr{kind: kBulk, scale: perByte}, err
	case 9: // data.drop
		_, err := r.u32()
		return instr{}, err
	case 10: // memory.copy mem mem
		if _, err := r.u32(); err != nil {
			return instr{}, err
		}
		_, err := r.u32()
		return instr{kind: kBulk, scale: perByte}, err
	case 11: // memory.fill mem
		_, err := r.u32()
		return instr{kind: kBulk, scale: perByte}, err
	case 12: // table.init elem table
		if _, err := r.u32(); err != nil {
			return instr{}, err
		}
		_, err := r.u32()
		return instr{kind: kBulk, scale: perElement}, err
	case 13: // elem.drop
		_, err := r.u32()
		return instr{}, err
	case 14: // table.copy table table
		if _, err := r.u32(); err != nil {
			return instr{}, err
		}
		_, err := r.u32()
		return instr{kind: kBulk, scale: perElement}, err
	case 15: // table.grow
		_, err := r.u32()
		return instr{kind: kBulk, scale: perElement}, err
	case 16: // table.size
		_, err := r.u32()
		return instr{}, err
	case 17: // table.fill
		_, err := r.u32()
		return instr{kind: kBulk, scale: perElement}, err
	}
	return unsupported(fmt.Sprintf("0xfc sub-opcode %d", sub))
}

func decodeSIMD(r *reader, unsupported func(string) (instr, error)) (instr, error) {
	sub, err := r.u32()
	if err != nil {
		return instr{}, err
	}
	switch {
	case sub <= 0x0b, sub == 0x5c, sub == 0x5d: // loads, store, load_zero
		return instr{}, memarg(r)
	case sub == 0x0c, sub == 0x0d: // v128.const, i8x16.shuffle
		_, err := r.bytes(16)
		return instr{}, err
	case sub >= 0x0e && sub <= 0x14: // swizzle, splats
		return instr{}, nil
	case sub >= 0x15 && sub <= 0x22: // extract_lane, replace_lane
		_, err := r.byte()
		return instr{}, err
	case sub >= 0x23 && sub <= 0x53: // comparisons, bitwise, any_true
		return instr{}, nil
	case sub >= 0x54 && sub <= 0x5b: // load_lane, store_lane
		if err := memarg(r); err != nil {
			return instr{}, err
		}
		_, err := r.byte()
		return instr{}, err
	case sub >= 0x5e && sub <= 0xff && !simdHoles[sub]:
		return instr{}, nil
	}
	return unsupported(fmt.Sprintf("SIMD sub-opcode 0x%x (relaxed SIMD is not supported)", sub))
}

// memarg skips a memory argument: alignment (bit 6 flags a memory index,
// multi-memory) and offset.
func memarg(r *reader) error {
	align, err := r.u32()
	if err != nil {
		return err
	}
	if align&0x40 != 0 {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	_, err = r.u32()
	return err
}

// blocktype skips a block type: 0x40, a value type, or a type index (s33).
func blocktype(r *reader) error {
	if r.off >= len(r.b) {
		return r.errorf("unexpected end")
	}
	switch c := r.b[r.off]; c {
	case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		r.off++
		return nil
	}
	at := r.base + r.off
	v, err := r.sleb(33)
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("%w: block type %d at byte %d (GC reference types)", ErrUnsupported, v, at)
	}
	return nil
}

// skipConstExpr skips a constant expression up to and including its end.
func skipConstExpr(r *reader) error {
	for {
		in, err := decode(r)
		if err != nil {
			return err
		}
		switch in.kind {
		case kEnd:
			return nil
		case kPlain, kGlobal, kRefFunc:
		default:
			return r.errorf("instruction not allowed in a constant expression")
		}
	}
}

// insertion is a place in a body where metering code goes (kLoop, kBulk),
// or a function index to renumber (kCall, kRefFunc: the bytes at..end).
type insertion struct {
	at, end int // offsets in the body
	kind    kind
	region  int    // kLoop: the loop's region
	scale   scale  // kBulk
	idx     uint32 // kCall, kRefFunc
	wrapped bool   // kLoop, kEnd: a loop whose refill is outside it
	bt      []byte // kLoop (wrapped): the loop's block type
	repl    []byte // kBranch: the instruction's new immediates
}

// bodyRewriter rewrites function bodies; it is reused across bodies.
type bodyRewriter struct {
	m           *module
	used, limit uint32 // indices of the Used and Limit globals
	globals     uint32 // globals of the original module
	refill      uint32 // index of the refill import
	ins         []insertion
	costs       []uint64
}

type frame struct {
	outer   int  // the region current outside this frame
	cond    bool // an if: its code may be skipped
	wrapped bool // a loop wrapped in three blocks (see appendWrappedHead)
	region  int  // a wrapped loop's region
}

// rewrite decodes one function body and returns it with its checks.
func (b *bodyRewriter) rewrite(body []byte, base int, nparams uint32) ([]byte, error) {
	r := &reader{b: body, base: base}
	nent, err := r.u32()
	if err != nil {
		return nil, err
	}
	localsStart := r.off
	nlocals := uint64(nparams)
	for range nent {
		n, err := r.u32()
		if err != nil {
			return nil, err
		}
		if err := valtype(r); err != nil {
			return nil, err
		}
		nlocals += uint64(n)
		if nlocals > MaxLocals {
			return nil, fmt.Errorf("%w: a function with over %d locals", ErrLimit, MaxLocals)
		}
	}
	codeStart := r.off

	b.ins, b.costs = b.ins[:0], append(b.costs[:0], 0)
	ctrl := []frame{{outer: 0}}
	region := 0
	// The entry check can be left out when every path from the entry either
	// leaves the function or reaches a loop header with no call on the way:
	// the code before the first loop has no call and no branch, and the loop
	// is nested in plain blocks only (Go wraps each resumable function in
	// block; loop). That loop's check then also pays for the code outside
	// loops (an overcharge per iteration, never an undercharge).
	straight := true
	merged := -1
	depth := 0       // the deepest nesting, the function's frame excluded
	wrappedOpen := 0 // wrapped loops open
	needTemp := false
	for {
		if r.done() {
			return nil, r.errorf("function body ends without end")
		}
		start := r.off
		in, err := decode(r)
		if err != nil {
			return nil, err
		}
		b.costs[region]++
		switch in.kind {
		case kBlock:
			if len(ctrl) > MaxNesting {
				return nil, fmt.Errorf("%w: blocks nested over %d deep", ErrLimit, MaxNesting)
			}
			depth = max(depth, len(ctrl))
			ctrl = append(ctrl, frame{outer: region, cond: body[start] == 0x04})
		case kLoop:
			if straight && merged < 0 {
				for _, f := range ctrl[1:] {
					straight = straight && !f.cond
				}
				if straight {
					merged = len(b.costs)
				}
			}
			straight = false
			if len(ctrl) > MaxNesting {
				return nil, fmt.Errorf("%w: blocks nested over %d deep", ErrLimit, MaxNesting)
			}
			depth = max(depth, len(ctrl))
			bt := body[start+1 : r.off]
			wrap := b.noParams(bt) && len(ctrl)+3*wrappedOpen+4 <= maxWrapDepth && b.m.wrappedLoops < maxWrappedLoops
			if wrap {
				wrappedOpen++
				b.m.wrappedLoops++
			}
			ctrl = append(ctrl, frame{outer: region, wrapped: wrap, region: len(b.costs)})
			region = len(b.costs)
			b.costs = append(b.costs, 0)
			if wrap {
				b.ins = append(b.ins, insertion{at: start, kind: kLoop, region: region, wrapped: true, bt: bt, end: r.off})
			} else {
				b.ins = append(b.ins, insertion{at: r.off, kind: kLoop, region: region})
			}
		case kElse:
			if len(ctrl) < 2 {
				return nil, r.errorf("else outside if")
			}
		case kEnd:
			if f := ctrl[len(ctrl)-1]; f.wrapped {
				b.ins = append(b.ins, insertion{at: r.off, kind: kEnd, region: f.region, wrapped: true})
				wrappedOpen--
			}
			region = ctrl[len(ctrl)-1].outer
			ctrl = ctrl[:len(ctrl)-1]
		case kCall:
			straight = false
			if in.direct && in.idx >= b.m.importedFuncs {
				b.ins = append(b.ins, insertion{at: start + 1, end: r.off, kind: kCall, idx: in.idx})
			}
		case kRefFunc:
			if in.idx >= b.m.importedFuncs {
				b.ins = append(b.ins, insertion{at: start + 1, end: r.off, kind: kRefFunc, idx: in.idx})
			}
		case kBranch:
			straight = false
			if repl, ok := relabel(body[start+1:r.off], body[start], ctrl); ok {
				b.ins = append(b.ins, insertion{at: start + 1, end: r.off, kind: kBranch, repl: repl})
			}
			if b.m.brTargets += uint64(in.idx); b.m.brTargets > MaxModuleBrTableTargets {
				return nil, fmt.Errorf("%w: over %d br_table targets in the module", ErrLimit, MaxModuleBrTableTargets)
			}
		case kGlobal:
			if in.idx >= b.globals {
				return nil, r.errorf("global index %d out of range (%d globals)", in.idx, b.globals)
			}
		case kLocal:
			if uint64(in.idx) >= nlocals {
				return nil, r.errorf("local index %d out of range (%d locals)", in.idx, nlocals)
			}
		case kBulk:
			needTemp = true
			b.ins = append(b.ins, insertion{at: start, kind: kBulk, scale: in.scale})
		}
		if len(ctrl) == 0 {
			break
		}
	}
	if !r.done() {
		return nil, r.errorf("%d bytes after the function's end", len(body)-r.off)
	}
	if b.m.nesting += uint64(depth); b.m.nesting > MaxModuleNesting {
		return nil, fmt.Errorf("%w: the functions' deepest nestings sum to over %d", ErrLimit, MaxModuleNesting)
	}

	out := make([]byte, 0, len(body)+24*(len(b.ins)+1)+8)
	temp := uint32(nlocals)
	if needTemp {
		out = appendU32(out, nent+1)
		out = append(out, body[localsStart:codeStart]...)
		out = append(out, 0x01, 0x7f) // one i32: the length of a bulk operation
	} else {
		out = append(out, body[:codeStart]...)
	}
	if merged >= 0 {
		b.costs[merged] += b.costs[0]
		b.m.stats.MergedEntries++
	} else {
		out = b.appendCheck(out, b.costs[0])
		b.m.stats.EntryChecks++
	}
	last := codeStart
	for _, in := range b.ins {
		out = append(out, body[last:in.at]...)
		last = in.at
		switch in.kind {
		case kLoop:
			if in.wrapped {
				out = b.appendWrappedHead(out, in.bt)
				out = append(out, body[in.at:in.end]...) // the loop and its block type
				out = b.appendWrappedCheck(out, max(b.costs[in.region], LoopPassUnits))
				last = in.end
			} else {
				out = b.appendCheck(out, max(b.costs[in.region], LoopPassUnits))
			}
			b.m.stats.LoopChecks++
		case kEnd:
			out = b.appendWrappedTail(out, max(b.costs[in.region], LoopPassUnits))
		case kBranch:
			out = append(out, in.repl...)
			last = in.end
		case kBulk:
			out = b.appendBulk(out, temp, in.scale)
			b.m.stats.BulkChecks++
		case kCall, kRefFunc:
			out = appendU32(out, b.m.fn(in.idx))
			last = in.end
		}
	}
	return append(out, body[last:]...), nil
}

// appendCheck appends: used += cost; then setAndCheck.
func (b *bodyRewriter) appendCheck(out []byte, cost uint64) []byte {
	out = appendU32(append(out, 0x23), b.used)      // global.get used
	out = appendS64(append(out, 0x42), int64(cost)) // i64.const cost
	out = append(out, 0x7c)                         // i64.add
	return b.setAndCheck(out)
}

// appendBulk appends a charge for the length on top of the stack, which it
// leaves in place: local.set t; used += cost(t); check; local.get t.
func (b *bodyRewriter) appendBulk(out []byte, temp uint32, s scale) []byte {
	out = appendU32(append(out, 0x21), temp) // local.set t
	out = appendU32(append(out, 0x23), b.used)
	out = appendU32(append(out, 0x20), temp) // local.get t
	out = append(out, 0xad)                  // i64.extend_i32_u
	switch s {
	case perByte:
		out = append(out, 0x42, bulkShift, 0x86) // i64.const; i64.shl
	case perPage:
		out = append(out, 0x42, 16+bulkShift, 0x86) // i64.const; i64.shl
	}
	out = append(out, 0x7c) // i64.add
	out = b.setAndCheck(out)
	return appendU32(append(out, 0x20), temp) // local.get t
}

// setAndCheck appends: global.set used; if used > limit { refill(); if
// used > limit { unreachable } }. wazero reuses the value just stored for
// the second global.get used; it loads limit from memory (and both again
// after the call).
func (b *bodyRewriter) setAndCheck(out []byte) []byte {
	out = appendU32(append(out, 0x24), b.used) // global.set used
	out = b.over(out)
	out = append(out, 0x04, 0x40)                // if
	out = appendU32(append(out, 0x10), b.refill) // call refill
	out = b.over(out)
	return append(out, 0x04, 0x40, 0x00, 0x0b, 0x0b) // if unreachable end end
}

// over appends: used > limit.
func (b *bodyRewriter) over(out []byte) []byte {
	out = appendU32(append(out, 0x23), b.used)
	out = appendU32(append(out, 0x23), b.limit)
	return append(out, 0x56) // i64.gt_u
}

// noParams reports whether a block type takes no parameters.
func (b *bodyRewriter) noParams(bt []byte) bool {
	switch bt[0] {
	case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		return true
	}
	r := &reader{b: bt}
	v, err := r.sleb(33)
	return err == nil && v >= 0 && uint64(v) < uint64(len(b.m.typeParams)) && b.m.typeParams[v] == 0
}

// Loops are wrapped (their refill call kept out of their passes) only
// near the top of a function, and at most maxWrappedLoops in a module, so
// the three blocks of each add at most maxWrapDepth to a function's nesting
// and 3*maxWrappedLoops to the module's: what the nesting limits bound
// (wazero's compile time) grows by at most a quarter. Go's functions have
// one loop, a block or two deep; other loops keep their inline refill.
const (
	maxWrapDepth    = 64
	maxWrappedLoops = MaxModuleNesting / 12
)

// A wrapped loop keeps its refill call out of its passes:
//
//	block bt          ;; $done: what the loop leaves
//	  loop            ;; $again
//	    block         ;; $out
//	      loop bt     ;; the loop
//	        used += cost; br_if $out (used > limit)
//	        ...
//	      end
//	      br $done
//	    end
//	    refill(); trap if used > limit; used -= cost  ;; the next pass pays it again
//	    br $again
//	  end
//	  unreachable
//	end
//
// Branches from inside the loop to labels outside it skip three more.

func (b *bodyRewriter) appendWrappedHead(out, bt []byte) []byte {
	out = append(append(out, 0x02), bt...)     // block bt
	return append(out, 0x03, 0x40, 0x02, 0x40) // loop; block
}

func (b *bodyRewriter) appendWrappedCheck(out []byte, cost uint64) []byte {
	out = appendU32(append(out, 0x23), b.used)
	out = appendS64(append(out, 0x42), int64(cost))
	out = append(out, 0x7c)
	out = appendU32(append(out, 0x24), b.used)
	out = b.over(out)
	return append(out, 0x0d, 1) // br_if $out
}

func (b *bodyRewriter) appendWrappedTail(out []byte, cost uint64) []byte {
	out = append(out, 0x0c, 2, 0x0b)             // br $done; end $out
	out = appendU32(append(out, 0x10), b.refill) // call refill
	out = b.over(out)
	out = append(out, 0x04, 0x40, 0x00, 0x0b) // if unreachable end
	out = appendU32(append(out, 0x23), b.used)
	out = appendS64(append(out, 0x42), int64(cost))
	out = append(out, 0x7d) // i64.sub
	out = appendU32(append(out, 0x24), b.used)
	return append(out, 0x0c, 0, 0x0b, 0x00, 0x0b) // br $again; end; unreachable; end
}

// relabel returns the immediates of a br, br_if or br_table (op) whose
// labels skip wrapped loops, renumbered; ok is false when none does.
func relabel(imm []byte, op byte, ctrl []frame) ([]byte, bool) {
	r := &reader{b: imm}
	var labels []uint32
	n := uint32(1)
	if op == 0x0e {
		c, _ := r.u32()
		n = c + 1
	}
	changed := false
	for range n {
		d, _ := r.u32()
		nd := d
		for k := uint32(0); k < d && int(k) < len(ctrl); k++ {
			if ctrl[len(ctrl)-1-int(k)].wrapped {
				nd += 3
			}
		}
		changed = changed || nd != d
		labels = append(labels, nd)
	}
	if !changed {
		return nil, false
	}
	var out []byte
	if op == 0x0e {
		out = appendU32(out, n-1)
	}
	for _, l := range labels {
		out = appendU32(out, l)
	}
	return out, true
}
