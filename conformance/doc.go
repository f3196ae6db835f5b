// Package conformance is the plugin conformance suite: it takes a TLD
// plugin's .wasm file alone, loads it in the real host (package plugins) and
// checks every rule of ABI v1 (docs/ABI.md) a plugin must keep. It is a
// library; `ronhost plugin test PLUGIN.wasm [--cases DIR] [--junit FILE]` is a
// thin command over [Run], and [Test] runs it from `go test`.
//
// It owns the checks, the data-driven case format, the text and JUnit
// reports, and [PluginCaller], which adapts a loaded plugin to the Go SDK's
// rontest.Caller. It must not import core/ or cmd/: it needs the host and
// nothing of the node.
//
// # How a run works
//
// [Run] loads the module in a host of its own with memoization off, one
// pooled instance and no quarantine, so every call reaches the module, reuse
// of an instance is real, and a faulty plugin stays under test. The inputs
// come from the plugin itself: describe's examples, normalized by validate,
// are what every other check mutates and splits. Pseudo-random inputs come
// from Options.Seed (the report records it), so a run is repeatable. A
// check over many inputs (validate.*, resolve.garbage) lists every
// offending input in one run; the others stop at their first offence. Each
// says what to fix, showing the input (trimmed, with a label) and the
// offending output.
//
// # What a plugin is judged on
//
// A plugin fails only for what ABI v1 makes its job: its own table's
// semantics (status 1 on a wrong-typed member its normalized manifest
// keeps, its cases), exact money, determinism, no fault or hang on any
// input, and the limits. Input the host never sends (not UTF-8, not one
// JSON object, trailing bytes, a context or usage of another shape, a
// manifest over the host's size, depth or key limits, a [meta] or
// [payload] the host's own checks refuse, servers null) must still never
// cause a fault, but a status 0 on it is a warning (status [Warn]) with
// advice, never a failure: docs/ABI.md, "What the host guarantees". The
// text report prints WARN lines and counts them, the JUnit report keeps the
// case passing with the warning in its system-out, and [Report.Passed]
// counts warned checks as passed.
//
// # The checks
//
//	abi.marker          the module exports the marker ron_abi_v1: () -> ()
//	abi.exports         memory; ron_describe, ron_validate, ron_split (and
//	                    ron_resolve if present) as () -> i32; _initialize as
//	                    () -> (); the module size limit
//	abi.imports         only ron.{input_len,input_read,output_set,log,
//	                    object_read} with ABI signatures, and
//	                    wasi_snapshot_preview1; no imported memory or tables
//	abi.load            the host loads it (skipped when an abi check failed:
//	                    the host would refuse it)
//	describe.shape      describe's output: tld [a-z0-9-]{1,32}, name, version,
//	                    summary, unique non-empty roles, examples; "resolve"
//	                    in features only with a ron_resolve export
//	describe.examples   validate accepts every example (status 0, with
//	                    {"manifest":{...},"index":{...}}); a manifest's
//	                    [payload] size is its payload_size, else
//	                    Options.PayloadSize
//	validate.idempotent validating a normalized manifest returns it
//	validate.garbage    random bytes, empty input, broken syntax, trailing
//	                    data: no fault; a rejection is {"errors":[{path,code,
//	                    message}]}; status 0 warns (the host never sends it)
//	validate.truncated  an example's input cut at many points: the same
//	validate.nested     arrays and objects nested 100000 deep: the same
//	validate.huge       900 KiB strings, numbers, keys; 300000-element
//	                    arrays: the same
//	validate.utf8       invalid UTF-8 in values, keys and context: the same
//	validate.types      non-object inputs and manifests, a wrong-typed
//	                    context, and each member of an example given a value
//	                    of another type: status 1 when the member is the
//	                    plugin's and its normalized manifest keeps it (a
//	                    failure otherwise); a host-owned one ([meta],
//	                    [payload]) warns; never a fault
//	validate.dates      [v1.1] the normalized first example through the
//	                    host's typed validate with [meta] created and
//	                    updated, then with one value of each TOML date-time
//	                    kind and a forged "$date" key under a key of its
//	                    own: tagged when describe lists "dates", strings
//	                    otherwise; a fault, a malformed tag or an unescaped
//	                    "$" key in the answer fails; rejecting the host's
//	                    [meta] warns; rejecting the extra key passes
//	split.status        every split of a normalized example answers status 0
//	                    (a rejection of servers null, which the host never
//	                    sends, warns)
//	                    with {"allocations":[{payee,role,amount}...]}; amounts
//	                    0, 1, small primes, 10007, 2^32+15, 2^53-1 and seeded
//	                    random ones; servers null, [] and 1, 2, 3, 7 entries
//	                    (one served nothing, two share a payout)
//	split.conserve      the allocations sum to exactly the amount
//	split.nonnegative   amounts are JSON integers from 0 to 2^53-1
//	split.roles         every role is one describe declares
//	split.payees        every payee is non-empty
//	split.order         reordered servers give the same multiset of allocations
//	determinism.fresh   two fresh instances answer byte-identically
//	determinism.reused  the pooled instance, called again and again, answers
//	                    as a fresh one
//	determinism.order   so does it in shuffled orders of calls, rejections
//	                    mixed in
//	resolve.paths       (plugins declaring "resolve") many paths on each
//	                    normalized example, over a synthetic payload: 200
//	                    with a range inside the payload, 404 or status 1,
//	                    never a fault
//	resolve.garbage     garbage resolve inputs: no fault (status 0 warns)
//	cases.NAME          one per case file (below)
//	limits.time         no call spent its fuel budget (time judged by fuel, the same on any machine)
//	                    (a call that times out is retried once, so a busy
//	                    machine does not fail a plugin, and the run is redone,
//	                    up to MaxRuns runs, so its figures do not depend on
//	                    the machine; the report says so)
//	limits.memory       no call ran out of memory or left more than the cap
//	limits.output       no output over the output limit
//
// The limits are the ABI's (plugins.DefaultLimits) unless Options.Limits
// overrides them; the report records per entry point the calls made, the
// faults, the slowest call, the peak linear memory and the largest output.
//
// # Data-driven cases
//
// A plugin ships cases in a directory (Options.CasesDir), one NAME.json per
// case, checked as "cases.NAME". A case calls one entry point ("entry":
// "validate", the default, "split" or "resolve"):
//
//	{
//	  "manifest": {"meta": {"tld": "map", ...}, ...},
//	  "payload_size": 4096,
//	  "expect": {"manifest": {...the normalized manifest...}, "index": {...}}
//	}
//
//	{
//	  "manifest": {...},
//	  "expect": {"errors": [{"path": "map.maxzoom", "code": "range"}]}
//	}
//
//	{
//	  "entry": "split",
//	  "manifest": {...}, "amount": 1000, "epoch": "2026-01",
//	  "usage": {"requests": 4, "bytes": 4096, "servers": [{"node": "n1", "payout": "op1", "requests": 4, "bytes": 4096}]},
//	  "expect": {"allocations": [{"payee": "ron1ada", "role": "creator", "amount": 800}, ...]}
//	}
//
//	{
//	  "entry": "resolve",
//	  "manifest": {...}, "path": "/12/2048/1361", "payload_file": "tiles.pmtiles",
//	  "expect": {"resolved": {"status": 200, "content_type": "...", "offset": 127, "length": 4096}}
//	}
//
// A validate case's manifest is validated with context {"tld": describe's
// tld, "payload_size": N}; payload_size is optional (the manifest's
// [payload] size, else Options.PayloadSize). An accepted manifest must
// equal expect.manifest as JSON (key order and spacing aside); expect.index
// is optional and compared the same way. A rejection must list exactly the
// expected (path, code) pairs, in any order; messages are free.
//
// A split or resolve case validates its manifest first (it must be
// accepted: a node splits and resolves only normalized manifests), then
// calls the entry point with the normalized manifest. A split case needs
// "amount"; "usage" defaults to no servers, "epoch" to "cases"; its
// allocations are compared as a multiset. A resolve case needs "path"; the
// payload object_read reads is "payload" (text) or "payload_file" (a file
// beside the case), empty without either; payload_size defaults to its
// length; "resolved" is compared as JSON. Either may expect "errors"
// instead. Unknown members, and members of another entry point, are an
// error ([ErrBadCases]), so a typo cannot silently disable a case.
//
// With Options.Update (`ronhost plugin test --update`), the suite rewrites
// each case's expect with what the plugin answers now (path and code only
// for errors; index only where the case had one) and passes; review the
// diff and commit it, as with a golden file. A case without expect fails
// until it is updated.
//
// # From go test
//
// [Test] runs the suite with each check as a subtest. [LoadCaller] gives a
// rontest.Caller over the built module, so the checks an author wrote for
// the SDK's native fake host run unchanged against the .wasm.
package conformance
