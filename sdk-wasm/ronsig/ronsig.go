package ronsig

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	ron "github.com/ronhost/ronhost/sdk-wasm"
)

// KeyPrefix starts a public key: "ed25519:<64 lowercase hex>".
const KeyPrefix = "ed25519:"

// Message returns the bytes a signature of v is over: domain, then the
// canonical JSON of v as encoding/json encodes it, which must be a JSON
// object. Leave the signature itself out of v (an empty field with
// omitempty, or a copy without it); sign and verify the same message.
func Message(domain string, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("ronsig: %w", err)
	}
	doc, err := ron.ParseManifest(b)
	if err != nil {
		return nil, fmt.Errorf("ronsig: %w", err)
	}
	return doc.AppendCanonical([]byte(domain))
}

// FormatKey writes pub as a key: "ed25519:<64 lowercase hex>".
func FormatKey(pub ed25519.PublicKey) string { return KeyPrefix + hex.EncodeToString(pub) }

// ParseKey reads a key written by FormatKey; ok is false for anything else
// (another prefix, uppercase hex, another length).
func ParseKey(s string) (pub ed25519.PublicKey, ok bool) {
	h, ok := strings.CutPrefix(s, KeyPrefix)
	if !ok {
		return nil, false
	}
	return lowerHex(h, ed25519.PublicKeySize)
}

// ParseSignature reads a signature written by Sign (128 lowercase hex).
func ParseSignature(s string) (sig []byte, ok bool) { return lowerHex(s, ed25519.SignatureSize) }

// Sign returns priv's signature of msg as 128 lowercase hex.
func Sign(priv ed25519.PrivateKey, msg []byte) string {
	return hex.EncodeToString(ed25519.Sign(priv, msg))
}

// Verify reports whether sig (128 lowercase hex) is a valid signature of
// msg by key ("ed25519:<64 lowercase hex>"). A malformed key or signature
// does not verify.
func Verify(key, sig string, msg []byte) bool {
	pub, ok := ParseKey(key)
	if !ok {
		return false
	}
	s, ok := ParseSignature(sig)
	return ok && ed25519.Verify(pub, msg, s)
}

// lowerHex decodes s if it is exactly n bytes in lowercase hex.
func lowerHex(s string, n int) ([]byte, bool) {
	if len(s) != 2*n {
		return nil, false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return nil, false
		}
	}
	b, err := hex.DecodeString(s)
	return b, err == nil
}
