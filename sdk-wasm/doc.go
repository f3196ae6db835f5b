// Package ron is the Go SDK for ronhost TLD plugins (ABI version 1).
//
// A plugin is an ordinary Go value implementing [Plugin] (and optionally
// [Resolver]). Its main package registers it from init and has an empty main,
// because a WebAssembly reactor (GOOS=wasip1 GOARCH=wasm -buildmode=c-shared)
// never runs main:
//
//	package main
//
//	import (
//		ron "github.com/ronhost/ronhost/sdk-wasm"
//		"example.com/myplugin/logic"
//	)
//
//	func init() { ron.Register(logic.Plugin{}) }
//
//	func main() {}
//
// The SDK owns the whole ABI: the `ron` imports and the ron_abi_v1,
// ron_describe, ron_validate, ron_split and ron_resolve exports live in this
// package's wasip1-only file, so a plugin never writes //go:wasmexport glue.
// Go cannot export a function conditionally, so every module built with the
// SDK exports ron_resolve; describe lists the feature "resolve" only when the
// plugin implements [Resolver], and without one ron_resolve answers status 1
// with code "unsupported".
//
// Every call goes through [Dispatch], the one function that turns an input
// document into a status and an output document. The wasm exports call it, and
// so does the native fake host in package rontest, so a plugin's native unit
// tests exercise exactly the code that runs inside the host.
//
// # What Dispatch guarantees
//
//   - Inputs are checked before a handler sees them: at most [MaxInputBytes],
//     valid UTF-8, nesting at most [MaxDepth], a JSON object, integers within
//     0..[MaxAmount] where the ABI says money or counts. Anything else is
//     status 1 ([StatusRejected]) with a clear error; nothing traps.
//   - A handler's [*Rejection] (see [Reject] and [Errors]) becomes status 1
//     with {"errors":[{"path","code","message"}...]}.
//   - Any other non-nil error also becomes status 1, as a single field error
//     with an empty path and code "invalid" ([CodeInvalid]).
//   - A panic in a handler is recovered: it is logged at error level and the
//     call returns status 2 ([StatusFault]) with code "panic", so the host
//     counts a fault and discards the instance. Go runtime fatal errors (out
//     of memory, stack exhaustion) cannot be recovered and trap.
//   - Results that break the ABI (a split that does not sum to the amount, an
//     undeclared role, an empty payee, a byte range past the payload, a bad
//     describe document, an output over [MaxOutputBytes]) are status 2 with
//     code "contract" and a message naming the broken rule, so an author sees
//     the bug in a native test rather than as a host fault later.
//   - Output is deterministic: struct fields in a fixed order, manifest tables
//     with object keys sorted recursively, allocations merged and sorted by
//     (payee, role), field errors sorted by (path, code, message).
//
// Money is uint64 minor units. The ABI carries it as JSON integers from 0 to
// 2^53-1 ([MaxAmount]); the split helpers ([SplitBPS], [SplitWeighted],
// [PartitionBPS], [Portion]) use 128-bit intermediate arithmetic and are
// exact for any uint64. [ValidPayout], [ValidCID], [CheckShares],
// [CheckSplitParts] and [NormalizeLicense] check what a manifest declares
// about payees, content, splits and licenses.
//
// In a module, [Register] also prepares the Go runtime for calls: it grows
// the heap by 4 MiB and collects it, while the host runs the module's
// _initialize, so an instance starts with about 8 MiB of linear memory and
// its calls do not grow memory while the heap settles (each growth is a copy
// of the whole memory by the host, in the call that asked for it).
//
// This package imports only the standard library. Everything except the
// wasip1 glue builds for any GOOS, so plugins compile and test natively.
// It must not import anything from the ronhost node.
package ron
