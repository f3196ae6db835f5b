package token

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadOrCreateKey reads the root key in path, creating the file with a new
// random key if it does not exist. The file holds exactly the key's 32
// bytes with mode 0600 (or narrower); a file of another size, or readable
// or writable by group or others, is refused. Creation is atomic and never
// replaces a key another process created meanwhile: the key is written to a
// temporary file in the same directory, fsynced, hard-linked into place
// (which fails if path exists, and then that key is read instead) and the
// directory fsynced. The directory must exist.
func LoadOrCreateKey(path string) (Key, error) {
	var k Key
	err := readKeyFile(path, k[:])
	if err == nil {
		return k, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Key{}, err
	}
	if k, err = NewKey(); err != nil {
		return Key{}, err
	}
	err = createFile(path, k[:])
	if errors.Is(err, fs.ErrExist) {
		err = readKeyFile(path, k[:])
	}
	if err != nil {
		return Key{}, err
	}
	return k, nil
}

// readKeyFile fills key from the file at path, which must be a regular file
// of exactly len(key) bytes with no permission for group or others.
func readKeyFile(path string, key []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("token: key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("token: key file: %w", err)
	}
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Errorf("token: key file %s is not a regular file", path)
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("token: key file %s has mode %04o; a key must be private to its owner (chmod 600 %s)", path, fi.Mode().Perm(), path)
	case fi.Size() != int64(len(key)):
		return fmt.Errorf("token: key file %s is %d bytes; a key file holds exactly %d", path, fi.Size(), len(key))
	}
	if _, err := io.ReadFull(f, key); err != nil {
		return fmt.Errorf("token: key file %s: %w", path, err)
	}
	return nil
}

// createFile writes data to a new file at path, atomically: it fails with
// an error wrapping fs.ErrExist if path exists.
func createFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("token: key file: %w", err)
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
		return fmt.Errorf("token: key file: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("token: key file: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("token: key file: sync %s: %w", dir, err)
	}
	return nil
}
