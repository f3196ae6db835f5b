package secretfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadOrCreate returns the size-byte secret kept at path. When the file does
// not exist it stores generate's secret there and returns it. The file must
// be a regular file of exactly size bytes with no permission for group or
// others; anything else is refused, never replaced.
//
// Creation is atomic and never replaces a secret another process created
// meanwhile: the secret is written to a temporary file in the same directory
// (mode 0600), fsynced, hard-linked into place (which fails if path exists,
// and then that secret is read instead) and the directory fsynced. The
// directory must exist.
func LoadOrCreate(path string, size int, generate func() ([]byte, error)) ([]byte, error) {
	b := make([]byte, size)
	err := read(path, b)
	if !errors.Is(err, fs.ErrNotExist) {
		return b, err
	}
	secret, err := generate()
	if err != nil {
		return nil, err
	}
	if len(secret) != size {
		return nil, fmt.Errorf("secretfile: generated %d bytes, want %d", len(secret), size)
	}
	err = create(path, secret)
	if errors.Is(err, fs.ErrExist) {
		return b, read(path, b)
	}
	if err != nil {
		return nil, err
	}
	return secret, nil
}

// Load returns the size-byte secret kept at path, which must exist (a
// secret that others share, such as a bus role key, is never made up
// here). The file is checked as LoadOrCreate checks it.
func Load(path string, size int) ([]byte, error) {
	b := make([]byte, size)
	if err := read(path, b); err != nil {
		return nil, err
	}
	return b, nil
}

// read fills b from the file at path.
func read(path string, b []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	case fi.Mode().Perm()&0o077 != 0:
		return fmt.Errorf("%s has mode %04o; a key must be private to its owner (chmod 600 %s)", path, fi.Mode().Perm(), path)
	case fi.Size() != int64(len(b)):
		return fmt.Errorf("%s is %d bytes; it must hold exactly %d", path, fi.Size(), len(b))
	}
	if _, err := io.ReadFull(f, b); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// create writes data to a new file at path; it fails with an error wrapping
// fs.ErrExist if path exists.
func create(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
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
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
