package secretfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func gen(b byte, n int) func() ([]byte, error) {
	return func() ([]byte, error) { return bytes.Repeat([]byte{b}, n), nil }
}

func TestLoadOrCreate(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "k")
	a, err := LoadOrCreate(p, 32, gen(1, 32))
	if err != nil || a[0] != 1 {
		t.Fatal(a, err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%v %v", fi, err)
	}
	if b, err := LoadOrCreate(p, 32, gen(2, 32)); err != nil || !bytes.Equal(a, b) {
		t.Fatalf("reload gave another secret: %v %v", b, err)
	}
	for name, want := range map[string]string{"mode": "chmod 600", "size": "7 bytes", "dir": "not a regular file"} {
		q := filepath.Join(dir, name)
		switch name {
		case "mode":
			os.WriteFile(q, make([]byte, 32), 0o644)
		case "size":
			os.WriteFile(q, make([]byte, 7), 0o600)
		case "dir":
			os.Mkdir(q, 0o700)
		}
		if _, err := LoadOrCreate(q, 32, gen(3, 32)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
	if _, err := LoadOrCreate(filepath.Join(dir, "short"), 32, gen(4, 31)); err == nil {
		t.Error("a generated secret of the wrong size was stored")
	}
	if _, err := LoadOrCreate(filepath.Join(dir, "missing", "k"), 32, gen(5, 32)); err == nil {
		t.Error("created a secret in a missing directory")
	}
}

func TestConcurrentCreatorsAgree(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "k")
	got := make([][]byte, 8)
	errs := make([]error, len(got))
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i], errs[i] = LoadOrCreate(p, 32, gen(byte(i+1), 32)) })
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil || !bytes.Equal(got[i], got[0]) {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("left %d files behind", len(ents))
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "k")
	if _, err := Load(p, 32); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing file: %v", err)
	}
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("Load created the file")
	}
	if err := os.WriteFile(p, bytes.Repeat([]byte{5}, 32), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p, 32); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a group-readable file: %v", err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := Load(p, 32); err != nil || b[31] != 5 {
		t.Fatal(b, err)
	}
}
