// Package release writes and checks the checksums of a ronhost release and
// their signature.
//
// A release directory (what `make dist` writes) holds archives, Debian
// packages and module lists, a SHA256SUMS file in the format of GNU
// sha256sum (one "<64 lowercase hex>  <file name>" line per file, sorted by
// name, so `sha256sum -c` reads it too), and SHA256SUMS.sig: a release key's
// ed25519 signature of SHA256SUMS, made the way plugins are signed (see
// plugins/trust.go): the signed message is a domain-separation context
// followed by the hash of what is signed,
//
//	"ronhost release signature v1\n" + "sha256:<hex of SHA256SUMS>"
//
// kept as a small JSON document {"sums","publisher","signature"} with keys
// and signatures written as sdk-wasm/ronsig writes them. The context keeps a
// release signature from ever passing for a plugin signature or the reverse,
// even with the same key. ed25519 signatures are deterministic, so signing
// the same SHA256SUMS with the same key gives the same bytes.
//
// Verify trusts only the keys it is given; Keys returns the release keys
// this binary carries (keys.txt, public halves only: the private key never
// enters the repository; docs/OPERATING.md says how a maintainer keeps it
// offline).
//
// It imports the standard library and sdk-wasm/ronsig only; it must not
// import the node (core/) or the plugin host (plugins/).
package release
