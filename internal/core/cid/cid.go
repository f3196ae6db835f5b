package cid

import (
	"encoding/hex"
	"fmt"
	"io"

	"lukechampine.com/blake3"

	"github.com/ronhost/ronhost/internal/codes"
)

// Prefix starts every CID's text form.
const Prefix = "b3:"

// Size is the length in bytes of a CID's hash.
const Size = 32

// ErrInvalidCID is wrapped by every CID parse error.
var ErrInvalidCID = codes.New(codes.Invalid, "cid: invalid CID")

// CID is the BLAKE3 hash of a byte string. The zero value is not the hash of
// anything in practice; IsZero reports it.
type CID [Size]byte

// Sum returns the CID of b.
func Sum(b []byte) CID { return CID(blake3.Sum256(b)) }

// Hasher computes a CID over streamed bytes.
type Hasher struct{ h *blake3.Hasher }

// NewHasher returns a Hasher for streamed input.
func NewHasher() *Hasher { return &Hasher{h: blake3.New(Size, nil)} }

// Write adds p to the hashed bytes; it never fails.
func (h *Hasher) Write(p []byte) (int, error) { return h.h.Write(p) }

// CID returns the CID of everything written so far.
func (h *Hasher) CID() CID {
	var c CID
	h.h.Sum(c[:0])
	return c
}

// SumReader returns the CID of everything r yields and its length.
func SumReader(r io.Reader) (CID, int64, error) {
	h := NewHasher()
	n, err := io.Copy(h, r)
	if err != nil {
		return CID{}, n, fmt.Errorf("cid: hashing: %w", err)
	}
	return h.CID(), n, nil
}

// IsZero reports whether c is the zero value.
func (c CID) IsZero() bool { return c == CID{} }

// Hex returns the 64 lowercase hex digits of c, without the prefix.
func (c CID) Hex() string { return hex.EncodeToString(c[:]) }

// String returns "b3:<64 lowercase hex>".
func (c CID) String() string { return Prefix + c.Hex() }

// MarshalText implements encoding.TextMarshaler (JSON strings, TOML, flags).
func (c CID) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with Parse.
func (c *CID) UnmarshalText(b []byte) error {
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*c = p
	return nil
}

// Parse parses "b3:<64 lowercase hex>".
func Parse(s string) (CID, error) {
	if len(s) < len(Prefix) || s[:len(Prefix)] != Prefix {
		if len(s) == 2*Size && isHex(s) {
			return CID{}, cidError(s, `missing the "b3:" prefix`)
		}
		if len(s) >= len(Prefix) && equalFold(s[:len(Prefix)], Prefix) {
			return CID{}, cidError(s, `the prefix must be lowercase "b3:"`)
		}
		return CID{}, cidError(s, `must start with "b3:" (a BLAKE3 hash)`)
	}
	c, err := parseHex(s[len(Prefix):])
	if err != nil {
		return CID{}, cidError(s, err.Error())
	}
	return c, nil
}

// parseHex parses exactly 64 lowercase hex digits; the error says why not.
func parseHex(h string) (CID, error) {
	if len(h) != 2*Size {
		return CID{}, fmt.Errorf("the hash must be %d hex digits, got %d characters", 2*Size, len(h))
	}
	var c CID
	for i := 0; i < len(h); i++ {
		ch := h[i]
		switch {
		case ch >= '0' && ch <= '9', ch >= 'a' && ch <= 'f':
		case ch >= 'A' && ch <= 'F':
			return CID{}, fmt.Errorf("hex digits must be lowercase (position %d)", i)
		default:
			return CID{}, fmt.Errorf("%q at position %d is not a hex digit", rune(ch), i)
		}
	}
	if _, err := hex.Decode(c[:], []byte(h)); err != nil {
		return CID{}, err // unreachable: checked above
	}
	return c, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f' || ch >= 'A' && ch <= 'F') {
			return false
		}
	}
	return true
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func cidError(s, why string) error {
	return fmt.Errorf("%w %s: %s", ErrInvalidCID, quote(s), why)
}

// quote quotes s for an error message, shortening long input.
func quote(s string) string {
	const max = 100
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
