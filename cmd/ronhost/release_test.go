package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/internal/release"
)

// A maintainer signs SHA256SUMS with a key made by `plugin keygen`; an
// operator verifies it with the public key; one flipped byte in an archive
// is refused, and so is a release signed by someone else.
func TestSignAndVerifyRelease(t *testing.T) {
	c := newCLI(t)
	keyDir := t.TempDir()
	var kg struct {
		PublicKey string `json:"public_key"`
	}
	c.json(&kg, "plugin", "keygen", "-o", filepath.Join(keyDir, "release.key"))

	dir := t.TempDir()
	archive := filepath.Join(dir, "ronhost_v1_linux_amd64.tar.gz")
	if err := os.WriteFile(archive, []byte(strings.Repeat("archive bytes ", 1000)), 0o644); err != nil {
		t.Fatal(err)
	}
	sums, err := release.Sums(dir, []string{filepath.Base(archive)})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, release.SumsFile), sums, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := c.run("", "sign-release", dir); code != 2 || !strings.Contains(errs, "--key is required") {
		t.Errorf("sign-release without --key: exit %d, %q", code, errs)
	}
	c.ok("sign-release", "--key", filepath.Join(keyDir, "release.key"), filepath.Join(dir, release.SumsFile))

	out := c.ok("verify-release", "--key", kg.PublicKey, dir)
	if !strings.Contains(out, "signed by "+kg.PublicKey) || !strings.Contains(out, "OK      ronhost_v1_linux_amd64.tar.gz") {
		t.Errorf("verify-release printed:\n%s", out)
	}
	// This binary carries no release key yet: without --key it says what to do.
	if len(release.Keys()) == 0 {
		if _, errs, code := c.run("", "verify-release", dir); code != 1 || !strings.Contains(errs, "--key") {
			t.Errorf("verify-release without a key: exit %d, %q", code, errs)
		}
	}
	if _, errs, code := c.run("", "verify-release", "--key", "ed25519:XYZ", dir); code != 2 {
		t.Errorf("verify-release with a malformed key: exit %d, %q", code, errs)
	}

	b, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0x04
	if err := os.WriteFile(archive, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := c.run("", "verify-release", "--key", kg.PublicKey, dir); code != 1 || !strings.Contains(errs, "is not the file released") {
		t.Errorf("verify-release of a flipped byte: exit %d, %q", code, errs)
	}

	other := newCLI(t)
	var kg2 struct {
		PublicKey string `json:"public_key"`
	}
	other.json(&kg2, "plugin", "keygen", "-o", filepath.Join(keyDir, "other.key"))
	if _, errs, code := c.run("", "verify-release", "--key", kg2.PublicKey, dir); code != 1 || !strings.Contains(errs, "not a trusted release key") {
		t.Errorf("verify-release with another key: exit %d, %q", code, errs)
	}
}
