package names

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"

	"github.com/ronhost/ronhost/internal/secretfile"
)

// GenerateKey returns a new random ed25519 private key.
func GenerateKey() (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("names: generate key: %w", err)
	}
	return priv, nil
}

// LoadOrCreateKey reads the ed25519 private key in path (its 32-byte seed),
// creating the file with a new key if it does not exist (see
// internal/secretfile: mode 0600, exactly 32 bytes, atomic creation that
// never replaces a key another process created meanwhile). The directory
// must exist.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	seed, err := secretfile.LoadOrCreate(path, ed25519.SeedSize, func() ([]byte, error) {
		priv, err := GenerateKey()
		if err != nil {
			return nil, err
		}
		return priv.Seed(), nil
	})
	if err != nil {
		return nil, fmt.Errorf("names: key file: %w", err)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}
