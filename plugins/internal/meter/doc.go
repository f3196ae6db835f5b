// Package meter rewrites a WebAssembly core module so that it meters its own
// work: a cheap, deterministic alternative to wazero's CloseOnContextDone,
// which costs an indirect call at every loop header.
//
// Instrument appends two mutable i64 globals, exported as UsedGlobal and
// LimitGlobal, and inserts inline checks that add to Used and trap
// (unreachable) when Used exceeds Limit: at every loop header the static
// instruction count of the loop body (nested loops excluded), at every
// function entry the count of the code outside its loops (or, when the
// function reaches a loop before any call or branch, as Go's functions do,
// that loop pays for it), and before memory.fill/copy/init, memory.grow and
// table.fill/copy/init/grow a charge proportional to their length. One unit
// of fuel is therefore an upper bound on one executed instruction, or
// BulkBytesPerUnit bytes of a bulk operation.
//
// Both globals start at 0, so the module cannot run code before the host
// gives it fuel: instantiate without start functions, set Limit, then call
// _initialize. A host enforces a wall-clock deadline as well by storing 0 in
// Limit from another goroutine: the call traps at its next check.
//
// Instrument also refuses modules that would make wazero allocate without
// bound at compile time (vector counts beyond their bytes, more than
// MaxLocals locals in a function).
//
// It owns only the binary rewriting. It must not import wazero or anything
// from ronhost (its tests use wazero to check the modules it produces).
package meter
