package cid

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/ronhost/ronhost/internal/codes"
)

// Schemes an address may start with. String prints SchemeCrab.
const (
	SchemeCrab  = "crab://"
	SchemeEmoji = "🦀://"
)

// MaxTLD is the longest TLD (ABI v1: lowercase [a-z0-9-]{1,32}).
const MaxTLD = 32

// MaxAddress is the longest address text accepted, in bytes.
const MaxAddress = 4096

// ErrInvalidAddress is wrapped by every address parse error.
var ErrInvalidAddress = codes.New(codes.Invalid, "cid: invalid address")

// Address is crab://<hash>.<tld>[/path]: Hash names a stored manifest whose
// [meta] tld equals TLD; Path (empty, or starting with "/") is resolved by the
// TLD's plugin.
type Address struct {
	Hash CID
	TLD  string
	Path string
}

// String returns the crab:// form. Parse(a.String()) == a for every valid a.
func (a Address) String() string { return SchemeCrab + a.Hash.Hex() + "." + a.TLD + a.Path }

// Emoji returns the 🦀:// form.
func (a Address) Emoji() string { return SchemeEmoji + a.Hash.Hex() + "." + a.TLD + a.Path }

// MarshalText implements encoding.TextMarshaler.
func (a Address) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseAddress.
func (a *Address) UnmarshalText(b []byte) error {
	p, err := ParseAddress(string(b))
	if err != nil {
		return err
	}
	*a = p
	return nil
}

// IsAddress reports whether s starts with an address scheme (so a caller can
// choose between Parse and ParseAddress).
func IsAddress(s string) bool {
	return strings.HasPrefix(s, SchemeCrab) || strings.HasPrefix(s, SchemeEmoji) ||
		(len(s) >= len(SchemeCrab) && equalFold(s[:len(SchemeCrab)], SchemeCrab))
}

// ParseAddress parses crab://<64 lowercase hex>.<tld>[/path] or the same with 🦀://.
func ParseAddress(s string) (Address, error) {
	if len(s) > MaxAddress {
		return Address{}, addrError(s, fmt.Sprintf("longer than %d bytes", MaxAddress))
	}
	var rest string
	switch {
	case strings.HasPrefix(s, SchemeCrab):
		rest = s[len(SchemeCrab):]
	case strings.HasPrefix(s, SchemeEmoji):
		rest = s[len(SchemeEmoji):]
	case len(s) >= len(SchemeCrab) && equalFold(s[:len(SchemeCrab)], SchemeCrab):
		return Address{}, addrError(s, `the scheme must be lowercase "crab://"`)
	default:
		return Address{}, addrError(s, `must start with "crab://" or "🦀://"`)
	}
	host, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		host, path = rest[:i], rest[i:]
	}
	if strings.HasPrefix(host, Prefix) {
		return Address{}, addrError(s, `the hash in an address is written without "b3:"`)
	}
	dot := strings.IndexByte(host, '.')
	if dot < 0 {
		if len(host) == 2*Size && isHex(host) {
			return Address{}, addrError(s, "missing the TLD after the hash (crab://<hash>.<tld>)")
		}
		return Address{}, addrError(s, "the host must be <hash>.<tld>")
	}
	h, err := parseHex(host[:dot])
	if err != nil {
		return Address{}, addrError(s, err.Error())
	}
	tld := host[dot+1:]
	if err := CheckTLD(tld); err != nil {
		return Address{}, addrError(s, err.Error())
	}
	if err := checkPath(path); err != nil {
		return Address{}, addrError(s, err.Error())
	}
	return Address{Hash: h, TLD: tld, Path: path}, nil
}

// CheckTLD reports whether tld is a valid TLD: lowercase [a-z0-9-]{1,32}.
// Its errors are plain descriptions (callers add context).
func CheckTLD(tld string) error {
	if tld == "" {
		return errors.New("the TLD is empty")
	}
	if len(tld) > MaxTLD {
		return fmt.Errorf("the TLD is longer than %d characters", MaxTLD)
	}
	for i := 0; i < len(tld); i++ {
		ch := tld[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= '0' && ch <= '9', ch == '-':
		case ch >= 'A' && ch <= 'Z':
			return fmt.Errorf("the TLD must be lowercase (%q)", tld)
		case ch == '.':
			return fmt.Errorf("the TLD %q has a dot: an address is <hash>.<tld> with one dot", tld)
		default:
			return fmt.Errorf("the TLD may hold only a-z, 0-9 and '-', not %q", firstRune(tld[i:]))
		}
	}
	return nil
}

// checkPath accepts "" or "/" followed by printable, non-space UTF-8 with no
// '?' or '#' (queries and fragments are not part of an address).
func checkPath(p string) error {
	if p == "" {
		return nil
	}
	if !utf8.ValidString(p) {
		return errors.New("the path is not valid UTF-8")
	}
	for i, r := range p {
		switch {
		case r == '?' || r == '#':
			return fmt.Errorf("the path has %q at byte %d: queries and fragments are not part of an address", r, i)
		case r <= ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return fmt.Errorf("the path has a space or control character at byte %d", i)
		case r == '\\':
			return fmt.Errorf("the path has a backslash at byte %d", i)
		}
	}
	return nil
}

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

func addrError(s, why string) error {
	return fmt.Errorf("%w %s: %s", ErrInvalidAddress, quote(s), why)
}
