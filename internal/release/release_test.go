package release

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ronhost/ronhost/sdk-wasm/ronsig"
)

func newKey(t *testing.T) (ed25519.PrivateKey, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv, ronsig.FormatKey(pub)
}

// release writes a signed release of three files into a new directory.
func release(t *testing.T, key ed25519.PrivateKey) string {
	t.Helper()
	dir := t.TempDir()
	names := []string{"ronhost_v1_linux_amd64.tar.gz", "ronhost_1_amd64.deb", "ronhost_v1_linux_amd64.modules.txt"}
	for i, n := range names {
		b := bytes.Repeat([]byte{byte(i + 1)}, 100_000+i)
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sums, err := Sums(dir, names)
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, SumsFile, sums)
	write(t, dir, SigFile, Sign(key, sums).Marshal())
	return dir
}

func write(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerify(t *testing.T) {
	key, pub := newKey(t)
	dir := release(t, key)
	rep, err := Verify(dir, []string{pub}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Publisher != pub || len(rep.Verified) != 3 || len(rep.Absent) != 0 {
		t.Fatalf("report %+v", rep)
	}
	sums := string(read(t, dir, SumsFile))
	if !strings.HasPrefix(strings.SplitN(sums, "\n", 2)[0], fmt.Sprintf("%x  ronhost_1_amd64.deb", mustHash(t, dir, "ronhost_1_amd64.deb"))) {
		t.Errorf("SHA256SUMS is not sorted sha256sum output:\n%s", sums)
	}
	// Signing is deterministic: the same sums and key give the same bytes.
	if !bytes.Equal(Sign(key, []byte(sums)).Marshal(), read(t, dir, SigFile)) {
		t.Error("signing the same SHA256SUMS twice gave different signatures")
	}
	// GNU sha256sum reads the same file.
	if sha, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command(sha, "-c", "--strict", SumsFile)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("sha256sum -c: %v\n%s", err, out)
		}
	}

	// One file named: only it is hashed; a file not listed is refused.
	rep, err = Verify(dir, []string{pub}, []string{"ronhost_1_amd64.deb"})
	if err != nil || len(rep.Verified) != 1 {
		t.Errorf("verify one named file: %+v, %v", rep, err)
	}
	write(t, dir, "extra.tar.gz", []byte("x"))
	if _, err := Verify(dir, []string{pub}, []string{"extra.tar.gz"}); !errors.Is(err, ErrNotListed) {
		t.Errorf("verify an unlisted file: %v, want ErrNotListed", err)
	}

	// A partial download: what is present verifies, the rest is reported absent.
	if err := os.Remove(filepath.Join(dir, "ronhost_1_amd64.deb")); err != nil {
		t.Fatal(err)
	}
	rep, err = Verify(dir, []string{pub}, nil)
	if err != nil || len(rep.Verified) != 2 || len(rep.Absent) != 1 {
		t.Errorf("verify with one file absent: %+v, %v", rep, err)
	}
	if _, err := Verify(dir, []string{pub}, []string{"ronhost_1_amd64.deb"}); err == nil {
		t.Error("a named file that is absent verified")
	}
}

func mustHash(t *testing.T, dir, name string) [32]byte {
	t.Helper()
	h, err := hashFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// One flipped byte anywhere in an archive is refused, and nothing else than
// the signature decides: a SHA256SUMS edited to match is refused too.
func TestVerifyRefusesTampering(t *testing.T) {
	key, pub := newKey(t)
	dir := release(t, key)
	archive := "ronhost_v1_linux_amd64.tar.gz"
	orig := read(t, dir, archive)
	for _, at := range []int{0, len(orig) / 2, len(orig) - 1} {
		b := bytes.Clone(orig)
		b[at] ^= 0x01
		write(t, dir, archive, b)
		_, err := Verify(dir, []string{pub}, nil)
		if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), archive) {
			t.Errorf("byte %d flipped: %v, want ErrMismatch naming %s", at, err, archive)
		}
		if _, err := Verify(dir, []string{pub}, []string{archive}); !errors.Is(err, ErrMismatch) {
			t.Errorf("byte %d flipped, file named: %v, want ErrMismatch", at, err)
		}
	}
	// The attacker also rewrites SHA256SUMS to match the changed archive.
	b := bytes.Clone(orig)
	b[7] ^= 0x80
	write(t, dir, archive, b)
	newSums, err := Sums(dir, []string{archive, "ronhost_1_amd64.deb", "ronhost_v1_linux_amd64.modules.txt"})
	if err != nil {
		t.Fatal(err)
	}
	write(t, dir, SumsFile, newSums)
	if _, err := Verify(dir, []string{pub}, nil); !errors.Is(err, ErrBadSignature) {
		t.Errorf("SHA256SUMS rewritten to match a changed archive: %v, want ErrBadSignature", err)
	}
	// ... and signs it with a key of its own.
	evil, evilPub := newKey(t)
	write(t, dir, SigFile, Sign(evil, newSums).Marshal())
	if _, err := Verify(dir, []string{pub}, nil); !errors.Is(err, ErrUntrusted) || !strings.Contains(err.Error(), evilPub) {
		t.Errorf("signed by another key: %v, want ErrUntrusted naming it", err)
	}
	// A signature document whose hash is right but whose signature is another's.
	sig := Sign(evil, newSums)
	sig.Publisher = pub
	write(t, dir, SigFile, sig.Marshal())
	if _, err := Verify(dir, []string{pub}, nil); !errors.Is(err, ErrBadSignature) {
		t.Errorf("a signature relabelled with the trusted key: %v, want ErrBadSignature", err)
	}
}

func TestVerifySignatureRules(t *testing.T) {
	key, pub := newKey(t)
	dir := release(t, key)
	if _, err := Verify(dir, nil, nil); !errors.Is(err, ErrNoKey) {
		t.Errorf("no trusted key: %v, want ErrNoKey", err)
	}
	sums := read(t, dir, SumsFile)

	// A plugin signature (plugins/trust.go's context) by the release key over
	// the same hash is not a release signature.
	id := sumsID(sums)
	plugin := Signature{Sums: id, Publisher: pub, Signature: ronsig.Sign(key, []byte("ronhost plugin signature v1\n"+id))}
	write(t, dir, SigFile, plugin.Marshal())
	if _, err := Verify(dir, []string{pub}, nil); !errors.Is(err, ErrBadSignature) {
		t.Errorf("a plugin-context signature: %v, want ErrBadSignature", err)
	}
	for name, doc := range map[string]string{
		"not JSON":      "ed25519 sig",
		"unknown field": `{"sums":"` + id + `","publisher":"` + pub + `","signature":"00","x":1}`,
		"uppercase":     strings.ToUpper(string(Sign(key, sums).Marshal())),
		"empty":         "",
	} {
		write(t, dir, SigFile, []byte(doc))
		if _, err := Verify(dir, []string{pub}, nil); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s signature document: %v, want ErrBadSignature", name, err)
		}
	}
	write(t, dir, SigFile, bytes.Repeat([]byte(" "), maxSig+1))
	if _, err := Verify(dir, []string{pub}, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("oversized signature file: %v, want ErrMalformed", err)
	}
	if err := os.Remove(filepath.Join(dir, SigFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(dir, []string{pub}, nil); !errors.Is(err, ErrNoSignature) {
		t.Errorf("no SHA256SUMS.sig: %v, want ErrNoSignature", err)
	}
}

// A SHA256SUMS signed by the trusted key still may not name a file outside
// the release directory (a key compromise must not become a path traversal).
func TestVerifyRefusesHostileNames(t *testing.T) {
	key, pub := newKey(t)
	dir := release(t, key)
	outside := filepath.Join(filepath.Dir(dir), "outside")
	write(t, filepath.Dir(dir), "outside", []byte("x"))
	h := mustHash(t, filepath.Dir(dir), "outside")
	for _, name := range []string{"../outside", outside, "sub/x", `a\b`, "..", ".", "a\x00b", "a\rb"} {
		sums := fmt.Appendf(nil, "%x  %s\n", h, name)
		write(t, dir, SumsFile, sums)
		write(t, dir, SigFile, Sign(key, sums).Marshal())
		if _, err := Verify(dir, []string{pub}, nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("SHA256SUMS naming %q: %v, want ErrMalformed", name, err)
		}
	}
	// A FIFO listed in SHA256SUMS is refused, not waited on.
	fifo := filepath.Join(dir, "fifo")
	if err := exec.Command("mkfifo", fifo).Run(); err == nil {
		sums := fmt.Appendf(nil, "%x  fifo\n", h)
		write(t, dir, SumsFile, sums)
		write(t, dir, SigFile, Sign(key, sums).Marshal())
		if _, err := Verify(dir, []string{pub}, nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("a FIFO: %v, want ErrMalformed", err)
		}
	}
	if _, err := Sums(dir, []string{"../outside"}); !errors.Is(err, ErrMalformed) {
		t.Errorf("Sums of ../outside: %v, want ErrMalformed", err)
	}
}

func TestParseSums(t *testing.T) {
	h := strings.Repeat("ab", 32)
	good := h + "  a.tar.gz\n" + h + " *b.deb\n"
	s, err := ParseSums([]byte(good))
	if err != nil || len(s) != 2 || s[1].Name != "b.deb" || s[0].SHA256[0] != 0xab {
		t.Fatalf("ParseSums(good) = %+v, %v", s, err)
	}
	for name, in := range map[string]string{
		"empty":        "",
		"no newline":   h + "  a",
		"one space":    h + " a\n",
		"short hash":   h[:62] + "  a\n",
		"upper hex":    strings.ToUpper(h) + "  a\n",
		"not hex":      strings.Repeat("zz", 32) + "  a\n",
		"no name":      h + "  \n",
		"duplicate":    h + "  a\n" + h + "  a\n",
		"blank line":   h + "  a\n\n",
		"crlf":         h + "  a\r\n",
		"dir":          h + "  d/a\n",
		"too many":     manyLines(h, maxFiles+1),
		"dotdot":       h + "  ..\n",
		"leading tabs": "\t" + h + "  a\n",
	} {
		if _, err := ParseSums([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}

func manyLines(h string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "%s  f%d\n", h, i)
	}
	return b.String()
}

func TestKeys(t *testing.T) {
	for _, k := range Keys() {
		if _, ok := ronsig.ParseKey(k); !ok {
			t.Errorf("keys.txt holds %q, not a key", k)
		}
	}
	if strings.Contains(keysFile, "ronhost-ed25519-seed:") {
		t.Fatal("keys.txt holds a private key")
	}
}

func FuzzParseSums(f *testing.F) {
	h := strings.Repeat("0f", 32)
	f.Add([]byte(h + "  ronhost_v1_linux_amd64.tar.gz\n"))
	f.Add([]byte(h + " *a\n" + h + "  b\n"))
	f.Add([]byte(h + "  ../x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sums, err := ParseSums(b)
		if err != nil {
			return
		}
		// Whatever parses names only plain files of the directory, once each.
		seen := map[string]bool{}
		for _, s := range sums {
			if checkName(s.Name) != nil || seen[s.Name] || filepath.Base(s.Name) != s.Name {
				t.Fatalf("ParseSums accepted the name %q", s.Name)
			}
			seen[s.Name] = true
		}
	})
}
