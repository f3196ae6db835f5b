package names

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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
// creating the file with a new key if it does not exist. The file must have
// mode 0600 (or narrower) and exactly 32 bytes; anything else is refused.
// Creation is atomic and never replaces a key another process created
// meanwhile: the seed is written to a temporary file in the same directory,
// fsynced, hard-linked into place (which fails if path exists, and then that
// key is read instead) and the directory fsynced. The directory must exist.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	seed := make([]byte, ed25519.SeedSize)
	err := readKeyFile(path, seed)
	if err == nil {
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	priv, err := GenerateKey()
	if err != nil {
		return nil, err
	}
	err = createFile(path, priv.Seed())
	if errors.Is(err, fs.ErrExist) {
		if err = readKeyFile(path, seed); err == nil {
			return ed25519.NewKeyFromSeed(seed), nil
		}
	}
	if err != nil {
		return nil, err
	}
	return priv, nil
}

// readKeyFile fills key from the file at path, which must be a regular file
// of exactly len(key) bytes with no permission for group or others.
func readKeyFile(path string, key []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("names: key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("names: key file: %w", err)
	}
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Errorf("names: key file %s is not a regular file", path)
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("names: key file %s has mode %04o; a key must be private to its owner (chmod 600 %s)", path, fi.Mode().Perm(), path)
	case fi.Size() != int64(len(key)):
		return fmt.Errorf("names: key file %s is %d bytes; a key file holds exactly %d (an ed25519 seed)", path, fi.Size(), len(key))
	}
	if _, err := io.ReadFull(f, key); err != nil {
		return fmt.Errorf("names: key file %s: %w", path, err)
	}
	return nil
}

// createFile writes data to a new file at path, atomically: it fails with
// an error wrapping fs.ErrExist if path exists.
func createFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("names: key file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("names: key file: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("names: key file: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("names: key file: sync %s: %w", dir, err)
	}
	return nil
}
