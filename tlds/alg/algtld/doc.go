// Package algtld is the logic of the built-in .alg plugin: algorithm
// transparency.
//
// A .alg manifest publishes a ranking or feed algorithm in its [alg] table:
// the CID of its code (a WebAssembly module), the inputs it reads, its
// version and changelog, its authors with their shares, and the audits that
// checked it. Each audit names the code CID and version it examined and is
// signed by the auditor's ed25519 key over [AuditMessage]: a
// domain-separation line and the SDK's canonical JSON of the normalized audit
// without its signature. Validate verifies every audit's signature inside the
// plugin, so an index of .alg manifests only ever shows audits their auditors
// really signed; because an audit signs the code CID and not the manifest,
// it stays valid in later manifests that still list it.
//
// Split pays the auditors of the current code (audits whose code is [alg]
// code) auditor_bps of the amount, equally, and the authors the rest by
// their shares; with no audit of the current code the authors get it all.
// README.md in the parent directory is the user-facing description, with the
// complete error code table.
//
// The package is importable natively (tests, benchmarks, signing tools) and
// is the whole plugin: tlds/alg registers [New] in a wasip1 reactor. It
// imports the SDK and the standard library only; it must not import the
// ronhost node (core, plugins, bus).
package algtld
