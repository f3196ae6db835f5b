// Package manifest parses Manifest.toml into the JSON document the plugin ABI
// hands to TLD plugins, validates and normalizes the tables the host owns,
// and encodes the result canonically so that it has one CID.
//
// # The document
//
// TOML decodes to JSON as ABI v1 says: tables are objects, arrays are arrays,
// offset datetimes are RFC 3339 strings, local dates, times and datetimes are
// their TOML text ("2025-08-25", "12:34:56", "2025-08-25T12:34:56"); NaN and
// infinities are refused. (The plugin host tags those strings for a plugin
// that declares ABI v1.1's "dates"; the document and its CID stay as here.) A manifest is at most MaxSize bytes, MaxKeys keys
// (in all its tables together) and MaxDepth levels deep; over a limit, the
// error wraps ErrTooLarge as well as ErrInvalid.
//
// DecodeTOML's work is linear in the size of its input: it builds the tree
// from go-toml's parser with a map per table (toml.go), where go-toml's
// Unmarshal checked every key against all the keys before it. Its rules are
// go-toml's, which FuzzDecodeTOML checks on every input. MarshalTree
// encodes a decoded tree for DecodeJSON to take back unchanged, so that a
// publish parses its TOML once.
//
// # Who owns what
//
// The host owns [meta] and [payload] and validates them here; unknown keys in
// them are errors (so typos are caught). Every other top-level key, such as
// the TLD's own table ([map] for .map), belongs to the TLD's plugin, which
// validates it through ron_validate (this package only checks that it is
// plain JSON). [meta]: tld (required, lowercase [a-z0-9-]{1,32}), title,
// description, created and updated (RFC 3339 with an offset), license, tags,
// authors, price (integer minor units per access, 0..2^53-1, default 0:
// free; the node meters priced accesses for the payout ledger). [payload]: cid (required, b3:<hex>), size (required, bytes),
// media_type (type/subtype, normalized to lowercase), filename (a base name).
//
// # Canonical encoding
//
// Canonical returns the normalized document as JSON with object keys sorted
// by their UTF-8 bytes, no insignificant whitespace, no HTML escaping,
// integers in plain decimal, other numbers as Go's encoding/json writes a
// float64 (integral values print as integers, so 3.0 and 3 are the same
// number), and no trailing newline. Decoding canonical bytes and encoding
// them again gives the same bytes; the manifest's CID is the BLAKE3 of them,
// and its address is crab://<that hash>.<meta.tld>.
//
// This package imports core/cid only; it must not import the store or the
// plugin host (the node calls the plugin's ron_validate after Normalize).
package manifest
