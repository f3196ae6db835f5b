#!/bin/sh
# verify-release.sh KEY [DIR]: check a ronhost release without a ronhost
# binary, with openssl (3.0 or later), sha256sum and xxd: the same checks as
# `ronhost verify-release --key KEY DIR` (docs/OPERATING.md). KEY is the
# release key as published, ed25519:<64 hex>. Exits non-zero on any failure.
set -eu
key=${1#ed25519:}
dir=${2:-.}
cd "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The signed message: a context line, then the SHA-256 of SHA256SUMS.
sums=$(sha256sum SHA256SUMS | cut -d' ' -f1)
printf 'ronhost release signature v1\nsha256:%s' "$sums" >"$tmp/msg"
# The signature, 128 hex digits in SHA256SUMS.sig.
sig=$(sed -n 's/^ *"signature": "\([0-9a-f]\{128\}\)".*/\1/p' SHA256SUMS.sig)
[ -n "$sig" ] || { echo "SHA256SUMS.sig holds no signature" >&2; exit 1; }
printf '%s' "$sig" | xxd -r -p >"$tmp/sig"
# The key as an X.509 SubjectPublicKeyInfo: a fixed 12-byte ed25519 prefix, then the key.
printf '302a300506032b6570032100%s' "$key" | xxd -r -p >"$tmp/key.der"
openssl pkey -pubin -inform DER -in "$tmp/key.der" -out "$tmp/key.pem"
openssl pkeyutl -verify -pubin -inkey "$tmp/key.pem" -rawin -in "$tmp/msg" -sigfile "$tmp/sig"
# Then every file of the release that is here.
sha256sum --strict --ignore-missing -c SHA256SUMS
