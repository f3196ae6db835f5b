package release

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ronhost/ronhost/sdk-wasm/ronsig"
)

// The files of a release directory this package reads and writes.
const (
	SumsFile = "SHA256SUMS"
	SigFile  = "SHA256SUMS.sig"
)

// signContext starts every signed message (see the package doc).
const signContext = "ronhost release signature v1\n"

// Caps on what Verify reads before it trusts anything: a release lists a
// few dozen files.
const (
	maxSums  = 1 << 20
	maxSig   = 4 << 10
	maxFiles = 1000
)

// Errors callers test with errors.Is.
var (
	ErrMalformed    = errors.New("release: malformed")
	ErrNoSignature  = errors.New("release: no signature")
	ErrBadSignature = errors.New("release: bad signature")
	ErrUntrusted    = errors.New("release: signed by an untrusted key")
	ErrNoKey        = errors.New("release: no release key to trust")
	ErrMismatch     = errors.New("release: checksum mismatch")
	ErrNotListed    = errors.New("release: not in SHA256SUMS")
	ErrAbsent       = errors.New("release: absent")
)

//go:embed keys.txt
var keysFile string

// Keys returns the release keys this binary carries ("ed25519:<hex>").
func Keys() []string {
	var out []string
	for _, line := range strings.Split(keysFile, "\n") {
		line = strings.TrimSpace(line)
		if _, ok := ronsig.ParseKey(line); ok {
			out = append(out, line)
		}
	}
	return out
}

// Sum is one line of SHA256SUMS.
type Sum struct {
	Name   string
	SHA256 [sha256.Size]byte
}

// Sums hashes the named files of dir and returns SHA256SUMS's text, sorted
// by name.
func Sums(dir string, names []string) ([]byte, error) {
	sums := make([]Sum, 0, len(names))
	for _, name := range names {
		if err := checkName(name); err != nil {
			return nil, err
		}
		h, err := hashFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		sums = append(sums, Sum{Name: name, SHA256: h})
	}
	sort.Slice(sums, func(i, j int) bool { return sums[i].Name < sums[j].Name })
	var b bytes.Buffer
	for i, s := range sums {
		if i > 0 && sums[i-1].Name == s.Name {
			return nil, fmt.Errorf("%w: %s listed twice", ErrMalformed, s.Name)
		}
		fmt.Fprintf(&b, "%x  %s\n", s.SHA256, s.Name)
	}
	return b.Bytes(), nil
}

// ParseSums reads SHA256SUMS strictly: each line is 64 lowercase hex digits,
// two spaces (or a space and '*', sha256sum's binary mark) and a plain file
// name (no directory, no "..", no control character), each name once.
func ParseSums(b []byte) ([]Sum, error) {
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return nil, fmt.Errorf("%w: %s is empty or does not end in a newline", ErrMalformed, SumsFile)
	}
	lines := strings.Split(string(b[:len(b)-1]), "\n")
	if len(lines) > maxFiles {
		return nil, fmt.Errorf("%w: %s lists more than %d files", ErrMalformed, SumsFile, maxFiles)
	}
	seen := map[string]bool{}
	out := make([]Sum, 0, len(lines))
	for i, line := range lines {
		if len(line) < 67 || (line[64:66] != "  " && line[64:66] != " *") {
			return nil, fmt.Errorf("%w: %s line %d: want \"<64 hex>  <name>\"", ErrMalformed, SumsFile, i+1)
		}
		var s Sum
		h := line[:64]
		if strings.ToLower(h) != h {
			return nil, fmt.Errorf("%w: %s line %d: uppercase hex", ErrMalformed, SumsFile, i+1)
		}
		if _, err := hex.Decode(s.SHA256[:], []byte(h)); err != nil {
			return nil, fmt.Errorf("%w: %s line %d: %v", ErrMalformed, SumsFile, i+1, err)
		}
		s.Name = line[66:]
		if err := checkName(s.Name); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", SumsFile, i+1, err)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("%w: %s line %d: %s listed twice", ErrMalformed, SumsFile, i+1, s.Name)
		}
		seen[s.Name] = true
		out = append(out, s)
	}
	return out, nil
}

// checkName refuses anything but a plain file name in the release directory.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\") {
		return fmt.Errorf("%w: %q is not a file name in the release directory", ErrMalformed, name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: %q has a control character", ErrMalformed, name)
		}
	}
	return nil
}

// Signature is SHA256SUMS.sig.
type Signature struct {
	Sums      string `json:"sums"`      // "sha256:<hex>" of SHA256SUMS
	Publisher string `json:"publisher"` // "ed25519:<hex>"
	Signature string `json:"signature"` // 128 lowercase hex
}

// Marshal encodes the signature document.
func (s Signature) Marshal() []byte {
	b, _ := json.MarshalIndent(s, "", "  ")
	return append(b, '\n')
}

func sumsID(sums []byte) string {
	h := sha256.Sum256(sums)
	return "sha256:" + hex.EncodeToString(h[:])
}

// Sign signs the bytes of SHA256SUMS with key.
func Sign(key ed25519.PrivateKey, sums []byte) Signature {
	id := sumsID(sums)
	return Signature{
		Sums:      id,
		Publisher: ronsig.FormatKey(key.Public().(ed25519.PublicKey)),
		Signature: ronsig.Sign(key, []byte(signContext+id)),
	}
}

// CheckSignature verifies that sig signs sums and that its key is one of
// trusted; it returns the signing key.
func CheckSignature(sums, sig []byte, trusted []string) (string, error) {
	if len(trusted) == 0 {
		return "", ErrNoKey
	}
	var s Signature
	dec := json.NewDecoder(bytes.NewReader(sig))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return "", fmt.Errorf("%w: %s is not a signature document: %v", ErrBadSignature, SigFile, err)
	}
	if want := sumsID(sums); s.Sums != want {
		return "", fmt.Errorf("%w: %s signs %s, but %s is %s", ErrBadSignature, SigFile, s.Sums, SumsFile, want)
	}
	if !ronsig.Verify(s.Publisher, s.Signature, []byte(signContext+s.Sums)) {
		return "", fmt.Errorf("%w: the signature does not verify for %q", ErrBadSignature, s.Publisher)
	}
	for _, k := range trusted {
		if k == s.Publisher {
			return k, nil
		}
	}
	return "", fmt.Errorf("%w: %s is signed by %s, which is not a trusted release key", ErrUntrusted, SumsFile, s.Publisher)
}

// Report says what Verify checked.
type Report struct {
	Publisher string   `json:"publisher"` // the trusted key that signed SHA256SUMS
	Verified  []string `json:"verified"`  // files whose SHA-256 matched
	Absent    []string `json:"absent"`    // listed files not in the directory (when none were named)
}

// Verify checks the release in dir: first that SHA256SUMS.sig is a valid
// signature of SHA256SUMS by one of trusted, then the files. With names, each
// named file must be listed and match; without, every listed file present in
// dir must match, and at least one must be present. Nothing is hashed before
// the signature verifies.
func Verify(dir string, trusted []string, names []string) (Report, error) {
	var rep Report
	sums, err := readCapped(filepath.Join(dir, SumsFile), maxSums)
	if err != nil {
		return rep, err
	}
	sig, err := readCapped(filepath.Join(dir, SigFile), maxSig)
	if errors.Is(err, os.ErrNotExist) {
		return rep, fmt.Errorf("%w: %s has no %s beside it", ErrNoSignature, SumsFile, SigFile)
	}
	if err != nil {
		return rep, err
	}
	if rep.Publisher, err = CheckSignature(sums, sig, trusted); err != nil {
		return rep, err
	}
	list, err := ParseSums(sums)
	if err != nil {
		return rep, err
	}
	byName := map[string]Sum{}
	for _, s := range list {
		byName[s.Name] = s
	}
	check := list
	if len(names) > 0 {
		check = nil
		for _, n := range names {
			s, ok := byName[n]
			if !ok {
				return rep, fmt.Errorf("%w: %s", ErrNotListed, n)
			}
			check = append(check, s)
		}
	}
	for _, s := range check {
		got, err := hashFile(filepath.Join(dir, s.Name))
		if errors.Is(err, os.ErrNotExist) && len(names) == 0 {
			rep.Absent = append(rep.Absent, s.Name)
			continue
		}
		if err != nil {
			return rep, err
		}
		if got != s.SHA256 {
			return rep, fmt.Errorf("%w: %s is not the file released (SHA-256 %x, %s says %x)", ErrMismatch, s.Name, got, SumsFile, s.SHA256)
		}
		rep.Verified = append(rep.Verified, s.Name)
	}
	if len(rep.Verified) == 0 {
		return rep, fmt.Errorf("%w: none of the %d files %s lists is in %s", ErrAbsent, len(list), SumsFile, dir)
	}
	return rep, nil
}

// readCapped reads a small regular file, refusing one larger than max.
func readCapped(path string, max int64) ([]byte, error) {
	f, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrMalformed, path, max)
	}
	return b, nil
}

func hashFile(path string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, err := openRegular(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, fmt.Errorf("release: %w", err)
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// openRegular opens path if it is a regular file (opening a FIFO would
// block; a directory has no checksum).
func openRegular(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrMalformed, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	return f, nil
}
