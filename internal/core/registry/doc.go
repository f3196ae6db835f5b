// Package registry is the plugin registry's log format and its verification:
// pure functions over bytes, with no I/O, no clock and no network (the
// follower in core/registry/follower does those).
//
// A registry is a hash-chained, append-only log of entries. Each entry is a
// JSON object in canonical form (keys sorted, compact, see ronsig), and its
// ID is the BLAKE3 of those bytes, written "b3:<hex>":
//
//	genesis  the registry's name, its maintainer keys and threshold (seq 0)
//	bind     a TLD bound to a plugin module (hash, size, version, publisher, ABI)
//	upgrade  a bound TLD moved to another module
//	revoke   a module hash revoked, with a reason (for good)
//	rotate   a new maintainer set and threshold
//
// Every entry but the genesis names its predecessor's ID (prev) and has the
// next sequence number. An entry counts only when at least threshold distinct
// keys of the maintainer set in force at its position sign it: the set of the
// genesis, or of the last rotate before it (a rotate is signed by the set it
// replaces). The registry's identity is its genesis entry's ID.
//
// An entry travels as an entry object: the entry, the CID of the object
// that carries its predecessor (prev_object: a hint to fetch by, checked
// against prev), and its signatures, also in canonical form, so an object's
// bytes are a function of what it says. Extra signatures (by other keys, or
// ones that do not verify) are ignored, never counted; two objects carrying
// the same entry with different signatures are the same entry.
//
// A head is a signed record announcing the log's latest entry: the registry,
// a head sequence number that only grows, how many entries there are, the
// last entry's ID and object, when it was issued and when it expires. It is
// signed by a threshold of the maintainer set in force after its last entry.
// A node never accepts an older head (ErrRollback), one past its expiry
// (ErrExpired: a registry nobody re-signs is frozen), or a chain in which
// two different valid entries share a predecessor (ErrFork: both are refused).
//
// Signature messages are domain-separated: an entry's is
// "ronhost registry entry v1\n" + its canonical bytes, a head's
// "ronhost registry head v1\n" + the head's canonical bytes. Neither can be
// taken for the other, nor for a plugin or release signature.
//
// It imports core/cid and the SDK (package ron and ronsig) and nothing else
// of ronhost; it must not import plugins, core/node or anything that does I/O.
package registry
