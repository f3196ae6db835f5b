package tor

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ronhost/ronhost/internal/secretfile"

	"github.com/cretz/bine/control"
)

// onionVersion is the version byte of a v3 onion address.
const onionVersion = 3

var onionBase32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// OnionAddress returns the v3 onion service ID of pub (56 lowercase base32
// characters, without ".onion"): base32(pub || checksum || 0x03) where
// checksum is the first two bytes of SHA3-256(".onion checksum" || pub || 0x03).
func OnionAddress(pub ed25519.PublicKey) string {
	h := sha3.New256()
	h.Write([]byte(".onion checksum"))
	h.Write(pub)
	h.Write([]byte{onionVersion})
	sum := h.Sum(nil)
	buf := make([]byte, 0, 35)
	buf = append(buf, pub...)
	buf = append(buf, sum[:2]...)
	buf = append(buf, onionVersion)
	return strings.ToLower(onionBase32.EncodeToString(buf))
}

// ParseOnion checks a v3 onion address ("xxx.onion" or the bare service ID)
// and returns its public key.
func ParseOnion(addr string) (ed25519.PublicKey, error) {
	id := strings.TrimSuffix(strings.ToLower(addr), ".onion")
	if len(id) != 56 {
		return nil, fmt.Errorf("tor: %q is not a v3 onion address (want 56 base32 characters)", addr)
	}
	raw, err := onionBase32.DecodeString(strings.ToUpper(id))
	if err != nil || len(raw) != 35 {
		return nil, fmt.Errorf("tor: %q is not a v3 onion address: bad base32", addr)
	}
	if raw[34] != onionVersion {
		return nil, fmt.Errorf("tor: %q is not a v3 onion address: version %d", addr, raw[34])
	}
	pub := ed25519.PublicKey(raw[:32])
	if OnionAddress(pub) != id {
		return nil, fmt.Errorf("tor: %q is not a v3 onion address: bad checksum", addr)
	}
	return pub, nil
}

// expandedKey converts an ed25519 private key (seed form, as crypto/ed25519
// keeps it) to the 64-byte expanded secret key tor's ADD_ONION ED25519-V3
// takes: SHA-512(seed) with the scalar half clamped.
func expandedKey(key ed25519.PrivateKey) []byte {
	digest := sha512.Sum512(key.Seed())
	digest[0] &= 248
	digest[31] &= 127
	digest[31] |= 64
	return digest[:]
}

// onionKey is the ADD_ONION key argument (control.Key).
type onionKey struct{ key ed25519.PrivateKey }

func (onionKey) Type() control.KeyType { return control.KeyTypeED25519V3 }
func (k onionKey) Blob() string {
	return base64.StdEncoding.EncodeToString(expandedKey(k.key))
}

// LoadOrCreateOnionKey reads the ed25519 seed (32 raw bytes) kept at path, or
// creates one (see internal/secretfile: mode 0600, atomic creation; the
// directory is created 0700 if missing), so the onion address stays stable.
func LoadOrCreateOnionKey(path string) (ed25519.PrivateKey, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("tor: onion key: %w", err)
	}
	seed, err := secretfile.LoadOrCreate(path, ed25519.SeedSize, func() ([]byte, error) {
		seed := make([]byte, ed25519.SeedSize)
		_, err := rand.Read(seed)
		return seed, err
	})
	if err != nil {
		return nil, fmt.Errorf("tor: onion key: %w", err)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}
