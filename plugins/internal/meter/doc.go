// Package meter rewrites a WebAssembly core module so that it meters its own
// work: a cheap, deterministic alternative to wazero's CloseOnContextDone,
// which costs an indirect call at every loop header.
//
// Instrument appends one mutable i64 global, exported as GlobalName, and
// inserts inline checks that charge it: at every loop header the static
// instruction count of the loop body (nested loops excluded), at every
// function entry the count of the code outside its loops, and before
// memory.fill/copy/init and table.fill/copy/init a charge proportional to
// their length. When the fuel cannot pay a charge the check stores Exhausted
// in the global and traps (unreachable). One unit of fuel is therefore an
// upper bound on one executed instruction, or BulkBytesPerUnit bytes of a
// bulk operation.
//
// The global starts at 0, so the module must not run code before the host
// sets the fuel: instantiate without start functions, set the global, then
// call _initialize.
//
// It owns only the binary rewriting. It must not import wazero or anything
// from ronhost (its tests use wazero to check the modules it produces).
package meter
