package token

import (
	"fmt"

	"github.com/ronhost/ronhost/internal/secretfile"
)

// LoadOrCreateKey reads the root key in path, creating the file with a new
// random key if it does not exist (see internal/secretfile: mode 0600,
// exactly 32 bytes, atomic creation that never replaces a key another
// process created meanwhile). The directory must exist.
func LoadOrCreateKey(path string) (Key, error) {
	var k Key
	b, err := secretfile.LoadOrCreate(path, len(k), func() ([]byte, error) {
		nk, err := NewKey()
		return nk[:], err
	})
	if err != nil {
		return Key{}, fmt.Errorf("token: key file: %w", err)
	}
	copy(k[:], b)
	return k, nil
}
