// Package names owns name records: ed25519-signed bindings of a
// self-certifying name to a crab:// address, with sequence numbers, and the
// Registry that keeps the newest record per name in a Pebble database.
//
// # Names
//
// A name is "<label>.<key>": key is the publisher's ed25519 public key in
// lowercase base32 (RFC 4648 alphabet, no padding, 52 characters) and label
// is [a-z0-9-]{1,63}, not starting or ending with '-'. Anyone can check a
// record against the key in its name, with no registry, and nobody can sign
// records for another key's names.
//
// # Records
//
// A Record binds Name to Address (crab://<hash>.<tld>[/path], in the
// canonical form printed by core/cid) with a sequence number Seq and an
// optional expiry (Unix seconds; 0 never expires; expired from that second
// on). Sig is the ed25519 signature, by the key in the name, of
//
//	"ronhost name record v1\n"
//	"name=" Name "\n" "address=" Address "\n" "seq=" Seq "\n" "expires=" Expires "\n"
//
// (decimal numbers; neither a valid name nor a valid address can hold a
// newline, so the encoding is unambiguous). The JSON form has fields name,
// address, seq, expires and sig (standard base64), at most MaxRecord bytes.
//
// # Which record wins
//
// Newer(a, b): the higher Seq wins; at equal Seq the record whose signature
// bytes are lexicographically greater wins, so every node that sees both
// keeps the same one whatever the order they arrive in. An expired record
// still blocks records with a lower Seq (so an old record cannot be
// replayed).
//
// # Registry
//
// The Registry stores one record per name under a key prefix in a Pebble
// database its caller opened (and closes). Put verifies the record and
// stores it only if it is Newer than the stored one, under a mutex in one
// synced batch. Stored values are the record's JSON; Get and List verify
// them again when they read them.
//
// Errors wrap the sentinels ErrMalformed, ErrBadSignature, ErrExpired,
// ErrStale, ErrNotFound and ErrCorrupt (a stored value that no longer
// decodes or verifies).
//
// This package imports core/cid, internal/secretfile (key files) and
// internal/pebbledb (the registry's database), no other ronhost package.
package names
