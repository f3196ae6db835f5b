package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDebVersion(t *testing.T) {
	at := time.Date(2026, 12, 6, 23, 30, 2, 0, time.UTC)
	for in, want := range map[string]string{
		"v1.2.3":                 "1.2.3",
		"1.2.3":                  "1.2.3",
		"v1.2.3-rc1":             "1.2.3~rc1",
		"v1.2.3-4-g0123456789ab": "0~git20261206233002.v1.2.3.4.g0123456789ab",
		"2b8928e6a79f":           "0~git20261206233002.2b8928e6a79f",
		"2b8928e6a79f-dirty":     "0~git20261206233002.2b8928e6a79f.dirty",
		"dev":                    "0~git20261206233002.dev",
		"x y/../z;rm":            "0~git20261206233002.x.y....z.rm",
	} {
		if got := debVersion(in, at); got != want {
			t.Errorf("debVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

// The archive's bytes depend on the files' contents, names and the epoch,
// not on their modification times, the order they are given in, or the
// umask they were checked out with.
func TestArchiveIgnoresTheBuilder(t *testing.T) {
	write := func(dir string, mtime time.Time, binMode os.FileMode) []string {
		var paths []string
		for name, mode := range map[string]os.FileMode{"ronhost": binMode, "README.md": 0o600} {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte("contents of "+name), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, mtime, mtime); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
		}
		return paths
	}
	epoch := time.Unix(1_800_000_000, 0).UTC()
	a, b := t.TempDir(), t.TempDir()
	pa := write(a, time.Unix(1, 0), 0o700)
	pb := write(b, time.Now(), 0o775)
	if pa[0] == pb[0] {
		t.Fatal("same paths")
	}
	out := t.TempDir()
	if err := writeArchive(filepath.Join(out, "a.tar.gz"), "ronhost_v1_linux_amd64", epoch, pa); err != nil {
		t.Fatal(err)
	}
	// The other order.
	if err := writeArchive(filepath.Join(out, "b.tar.gz"), "ronhost_v1_linux_amd64", epoch, []string{pb[1], pb[0]}); err != nil {
		t.Fatal(err)
	}
	ba, _ := os.ReadFile(filepath.Join(out, "a.tar.gz"))
	bb, _ := os.ReadFile(filepath.Join(out, "b.tar.gz"))
	if len(ba) == 0 || !bytes.Equal(ba, bb) {
		t.Fatal("two archives of the same files differ")
	}
	if err := writeArchive(filepath.Join(out, "c.tar.gz"), "ronhost_v1_linux_amd64", epoch.Add(time.Second), pa); err != nil {
		t.Fatal(err)
	}
	if bc, _ := os.ReadFile(filepath.Join(out, "c.tar.gz")); bytes.Equal(ba, bc) {
		t.Error("the epoch does not reach the archive")
	}
	// Two files of one name cannot both be in it.
	dup := filepath.Join(t.TempDir(), "ronhost")
	if err := os.WriteFile(dup, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeArchive(filepath.Join(out, "d.tar.gz"), "r", epoch, append(pa, dup)); err == nil {
		t.Error("an archive with two files named ronhost was written")
	}
}

func TestSums(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"b.deb": "b", "a.tar.gz": "a", "SHA256SUMS.sig": "old", ".archive-123": "temp"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeSums(dir); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	want := "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb  a.tar.gz\n" +
		"3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d  b.deb\n"
	if string(got) != want {
		t.Errorf("SHA256SUMS:\n%s\nwant:\n%s", got, want)
	}
	if err := writeSums(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no file") {
		t.Errorf("sums of an empty directory: %v", err)
	}
}
