// Package token owns capability tokens: macaroon-style bearer tokens whose
// caveats only narrow what the holder may do, chained with a BLAKE3-keyed MAC.
//
// # Construction
//
// A token is a random 16-byte id, an ordered list of caveats and a 32-byte
// tag:
//
//	tag0 = MAC(rootKey, id)
//	tagi = MAC(tag(i-1), caveat i's encoding)
//
// where MAC(k, m) is keyed BLAKE3 (32-byte output) of m under k. Anyone who
// holds a token can Attenuate it (append caveats, advancing the tag) without
// the root key; only the root key can Verify it, and nobody can remove a
// caveat (that would need to invert the MAC). Tags are compared in constant
// time.
//
// # Caveats
//
// Every caveat must hold; several of the same kind all apply (intersection):
//
//	expires    the token is expired at and after this Unix second
//	methods    the request's method is one of these (exact, upper case; GET does not imply HEAD)
//	path       the request's path is this prefix or below it at a "/" boundary
//	max_bytes  the request body is at most this many bytes
//
// Request paths must be absolute and clean (path.Clean, a trailing "/"
// allowed): "/v1/publish" allows "/v1/publish" and "/v1/publish/x", never
// "/v1/publishx" nor "/v1/publish/../names". A request whose body length is
// unknown (Request.Bytes < 0) passes max_bytes, so the caller must cap the
// body at Token.MaxBytes. A caveat of a kind this version does not know
// parses (so older code can still attenuate newer tokens) but fails
// verification with ErrDenied: the package fails closed.
//
// # Text form
//
// "ront1." followed by unpadded base64url of the binary form
//
//	id[16] | caveat* | tag[32]      caveat = kind[1] | len[2, big endian] | body[len]
//
// at most MaxText bytes of text and MaxCaveats caveats. Each kind's body has
// one canonical spelling (see caveat.go), and Parse accepts exactly the
// strings String prints, so Parse(s).String() == s.
//
// # Keys
//
// A root Key is 32 random bytes, kept by LoadOrCreateKey in a 0600 file of
// exactly 32 bytes, created atomically (temporary file, fsync, link into
// place, fsync of the directory).
//
// # Revocation
//
// Revocations is a revocation list in an append-only file: a token whose
// id is on it (in the entry's time span) is refused by Revocations.Check,
// and so is every token attenuated from it (they share the id). Verify
// does not consult it: the caller checks both.
//
// Errors wrap the sentinels ErrMalformed, ErrBadSignature, ErrExpired,
// ErrDenied, ErrRevoked and ErrMissing; the gateway maps them to HTTP
// statuses.
//
// This package imports no other ronhost package but internal/secretfile (its key file).
package token
