// Package ronsig signs and verifies statements that plugins carry inside
// manifests with ed25519: a moderator's verdict, an auditor's audit. The
// signed message is a domain-separation prefix (e.g. "ronhost .mod verdict
// v1\n") followed by the SDK's canonical JSON of the statement (see
// ron.Manifest.AppendCanonical: compact, object keys sorted by bytes,
// strings escaped as encoding/json does without HTML escaping, integers in
// decimal), so a signature covers what the statement says, not how a
// publisher spelt it, and cannot be replayed as another kind of statement.
// Keys are written "ed25519:<64 lowercase hex>" and signatures as 128
// lowercase hex.
//
// A plugin verifies; signing is for tools and tests. crypto/ed25519 works
// in GOOS=wasip1, but it adds about 300 KB to a module, which is why this
// is a package of its own and not part of package ron: plugins that sign
// nothing do not pay for it.
//
// It imports the standard library and package ron only; it must not import
// anything from the ronhost node.
package ronsig
