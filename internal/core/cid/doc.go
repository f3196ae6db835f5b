// Package cid names content: CIDs and crab:// addresses.
//
// A CID is "b3:" followed by the 64 lowercase hex digits of the BLAKE3 hash
// (32 bytes, default output length) of the whole byte string, so `b3sum FILE`
// and the CID of FILE agree. An address is
//
//	crab://<64 lowercase hex>.<tld>[/path]
//
// also written with the scheme "🦀://". The hash names a stored manifest
// object (see core/manifest); the TLD is lowercase [a-z0-9-]{1,32} as in the
// plugin ABI; the path, if any, starts with "/" and is handed to the TLD's
// plugin to resolve. Parsing is strict (one spelling per value, so that
// printing and parsing round-trip exactly) and every error says what is wrong
// and wraps ErrInvalidCID or ErrInvalidAddress.
//
// A CID also has a DNS label (Label, ParseLabel): the 52 lower-case base32
// characters of its hash, which name an address's origin in a browser
// (<label>.<tld>.<gateway domain>; a label holds at most 63 characters, so
// the hex form does not fit). The crab:// form stays hex.
//
// This package owns only names and the hash function. It must not import any
// other ronhost package; everything else imports it.
package cid
