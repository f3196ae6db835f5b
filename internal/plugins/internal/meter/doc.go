// Package meter rewrites a WebAssembly core module so that it meters its own
// work: a cheap, deterministic alternative to wazero's CloseOnContextDone,
// which leaves native code for Go at every loop header.
//
// Instrument appends two mutable i64 globals, exported as UsedGlobal and
// LimitGlobal, imports one host function, RefillModule.RefillName, and
// inserts inline checks that add to Used and, when Used exceeds Limit, call
// the host (which raises Limit or ends the call): at every loop header the
// static instruction count of the loop body (nested loops excluded, and at
// least LoopPassUnits), at
// every function entry the count of the code outside its loops (or, when
// the function reaches a loop before any call or branch, as Go's functions
// do, that loop pays for it), and before memory.fill/copy/init, memory.grow
// and table.fill/copy/init/grow a charge proportional to their length. One
// unit of fuel is therefore an upper bound on one executed instruction, and
// a byte of a bulk operation costs BulkUnitsPerByte: the floor per loop pass
// and the bulk rate bring a tight loop's or a fill loop's fuel per second
// close to that of Go's code, whose functions pay their whole body at every
// jump, so one budget fits every language.
//
// A loop near the top of its function (Go's one loop per function, and
// most others) is wrapped in three blocks so that the call to the host sits
// outside the loop's passes, which then only add and compare: with the call
// inside, a Go plugin's calls took a few percent longer (BenchmarkValidate
// and BenchmarkSplit, fuel-x-plain-p50). Its fuel is the same either way
// (code.go says how the refill re-enters the loop without paying the pass
// twice).
//
// The import comes after the module's own imported functions, so every
// defined function's index moves up by one: calls, ref.func, element
// segments, exports, the start function and the name section are
// renumbered. Custom sections are kept, except .debug_* (DWARF: its code
// offsets would be stale).
//
// Both globals start at 0, so the module cannot run code before the host
// gives it fuel: instantiate without start functions, set the globals, then
// call _initialize.
//
// Instrument also refuses modules that would make wazero allocate without
// bound at compile time (vector counts beyond their bytes, more than
// MaxLocals locals in a function), and shapes whose compile time grows
// faster than their size (br_tables, function bodies, nesting, function
// counts over the Max* limits; BenchmarkCompileAtLimits measures what the
// limits still let through). It is safe for concurrent use.
//
// It owns only the binary rewriting. It must not import wazero or anything
// from ronhost (its tests use wazero to check the modules it produces).
package meter
