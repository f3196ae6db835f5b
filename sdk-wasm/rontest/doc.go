// Package rontest is a native fake host for ronhost plugins written with the
// Go SDK, plus checks a plugin author calls from ordinary Go tests.
//
// [New] wraps a [ron.Plugin] in a [Host] whose Call runs [ron.Dispatch], the
// same function the plugin's wasm exports run, so a native test sees exactly
// the documents the real host would. Tests are written against the small
// [Caller] interface; the ronhost conformance package adapts a plugin loaded
// from a .wasm file into the real wazero host to the same interface, so one
// test runs natively (fast, with the race detector and coverage) and against
// the built module.
//
// Typed helpers ([Client]) encode inputs and decode outputs; the Check
// functions assert the ABI's rules (conservation, declared roles, determinism,
// order independence, idempotent normalization, no fault on hostile input).
//
// This package imports only the standard library, package testing and the
// SDK. It must not import the ronhost node.
package rontest
