package token

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"lukechampine.com/blake3"

	"github.com/ronhost/ronhost/internal/codes"
)

// Sentinel errors; every error of this package wraps one of them.
var (
	ErrMalformed    = codes.New(codes.Unauthorized, "token: malformed token")
	ErrBadSignature = codes.New(codes.Unauthorized, "token: bad signature (not minted with this node's key, or altered)")
	ErrExpired      = codes.New(codes.Unauthorized, "token: expired")
	ErrDenied       = codes.New(codes.Forbidden, "token: denied")
	ErrMissing      = codes.New(codes.Unauthorized, "token: no token (send Authorization: Bearer <token>)")
)

// Prefix starts every token's text form.
const Prefix = "ront1."

// Limits on a token.
const (
	MaxText    = 4096 // bytes of text form, Prefix included
	MaxCaveats = 32
)

const (
	idSize  = 16
	tagSize = 32
	// KeySize is the size of a root key.
	KeySize = 32
)

var b64 = base64.RawURLEncoding.Strict()

// Key is a root key: it mints and verifies tokens. Its fmt forms are
// redacted so that it does not end up in logs.
type Key [KeySize]byte

// NewKey returns a random key.
func NewKey() (Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return Key{}, fmt.Errorf("token: new key: %w", err)
	}
	return k, nil
}

// String returns a redacted placeholder, never the key.
func (k Key) String() string { return "token.Key(redacted)" }

// GoString returns a redacted placeholder, never the key.
func (k Key) GoString() string { return k.String() }

// Request is what a token is checked against.
type Request struct {
	Method string
	Path   string    // r.URL.Path: absolute and clean, or it is under no path caveat
	Bytes  int64     // the body's length; negative when unknown (then cap the body at Token.MaxBytes)
	Now    time.Time // required when the token has an expires caveat
}

// Token is a parsed capability token. The zero Token verifies under no key.
type Token struct {
	id      [idSize]byte
	caveats []Caveat
	tag     [tagSize]byte
}

func mac(key []byte, msg []byte) (out [tagSize]byte) {
	h := blake3.New(tagSize, key)
	h.Write(msg)
	h.Sum(out[:0])
	return out
}

// appendCaveat appends c's wire encoding: kind, 2-byte length, body.
func appendCaveat(b []byte, c Caveat) []byte {
	b = append(b, byte(c.kind))
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.body)))
	return append(b, c.body...)
}

// chain advances tag over cs.
func chain(tag [tagSize]byte, cs []Caveat) [tagSize]byte {
	var buf []byte
	for _, c := range cs {
		buf = appendCaveat(buf[:0], c)
		tag = mac(tag[:], buf)
	}
	return tag
}

// Mint returns a new token under k with a random id and the caveats given
// (none: the token allows everything).
func Mint(k Key, caveats ...Caveat) (Token, error) {
	if k == (Key{}) {
		return Token{}, errors.New("token: mint: the root key is all zeros")
	}
	t := Token{caveats: slices.Clone(caveats)}
	if _, err := rand.Read(t.id[:]); err != nil {
		return Token{}, fmt.Errorf("token: mint: %w", err)
	}
	if err := t.check(); err != nil {
		return Token{}, fmt.Errorf("token: mint: %w", err)
	}
	t.tag = chain(mac(k[:], t.id[:]), t.caveats)
	return t, nil
}

// Attenuate returns a copy of t with caveats appended, which allows at most
// what t allows. It needs no key and does not change t. A caveat that cannot
// be encoded (the zero Caveat, or one that takes the token past MaxCaveats
// or MaxText) makes a token that fails to parse and to verify: fail closed.
func (t Token) Attenuate(caveats ...Caveat) Token {
	u := Token{id: t.id, caveats: slices.Concat(t.caveats, caveats)}
	u.tag = chain(t.tag, caveats)
	return u
}

// ID returns the token's id in hex (it names the token in logs; it is not
// secret, the tag is).
func (t Token) ID() string { return hex.EncodeToString(t.id[:]) }

// Caveats returns a copy of the token's caveats, in order.
func (t Token) Caveats() []Caveat { return slices.Clone(t.caveats) }

// MaxBytes returns the smallest max_bytes caveat, if there is one: a
// gateway that does not know a request's length up front caps the body
// stream there.
func (t Token) MaxBytes() (int64, bool) {
	n, ok := int64(0), false
	for _, c := range t.caveats {
		if c.kind == KindMaxBytes && c.check() == nil {
			if v := c.int64(); !ok || v < n {
				n, ok = v, true
			}
		}
	}
	return n, ok
}

func (t Token) binary() []byte {
	b := make([]byte, 0, idSize+tagSize+len(t.caveats)*16)
	b = append(b, t.id[:]...)
	for _, c := range t.caveats {
		b = appendCaveat(b, c)
	}
	return append(b, t.tag[:]...)
}

// String returns the text form, "ront1." and base64url.
func (t Token) String() string { return Prefix + b64.EncodeToString(t.binary()) }

// MarshalText implements encoding.TextMarshaler.
func (t Token) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with Parse.
func (t *Token) UnmarshalText(b []byte) error {
	p, err := Parse(string(b))
	if err != nil {
		return err
	}
	*t = p
	return nil
}

// check enforces the limits and each caveat's canonical form.
func (t Token) check() error {
	if len(t.caveats) > MaxCaveats {
		return fmt.Errorf("%d caveats, more than %d", len(t.caveats), MaxCaveats)
	}
	n := idSize + tagSize
	for i, c := range t.caveats {
		if err := c.check(); err != nil {
			return fmt.Errorf("caveat %d: %w", i, err)
		}
		n += 3 + len(c.body)
	}
	if l := len(Prefix) + b64.EncodedLen(n); l > MaxText {
		return fmt.Errorf("%d bytes as text, more than %d", l, MaxText)
	}
	return nil
}

// Parse parses a token's text form. It checks the form only: Verify checks
// the signature and caveats.
func Parse(s string) (Token, error) {
	if len(s) > MaxText {
		return Token{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxText)
	}
	if len(s) < len(Prefix) || s[:len(Prefix)] != Prefix {
		return Token{}, fmt.Errorf("%w: it must start with %q", ErrMalformed, Prefix)
	}
	enc := s[len(Prefix):]
	for i := 0; i < len(enc); i++ {
		// The decoder skips '\r' and '\n'; refuse them (and anything
		// else outside the alphabet) so that one token has one spelling.
		if ch := enc[i]; !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			return Token{}, fmt.Errorf("%w: %q at position %d is not base64url", ErrMalformed, ch, len(Prefix)+i)
		}
	}
	b, err := b64.DecodeString(enc)
	if err != nil {
		return Token{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(b) < idSize+tagSize {
		return Token{}, fmt.Errorf("%w: %d bytes, shorter than an id and a tag", ErrMalformed, len(b))
	}
	var t Token
	copy(t.id[:], b)
	copy(t.tag[:], b[len(b)-tagSize:])
	for p := b[idSize : len(b)-tagSize]; len(p) > 0; {
		if len(t.caveats) == MaxCaveats {
			return Token{}, fmt.Errorf("%w: more than %d caveats", ErrMalformed, MaxCaveats)
		}
		if len(p) < 3 {
			return Token{}, fmt.Errorf("%w: caveat %d is truncated", ErrMalformed, len(t.caveats))
		}
		n := int(binary.BigEndian.Uint16(p[1:3]))
		if len(p) < 3+n {
			return Token{}, fmt.Errorf("%w: caveat %d is truncated", ErrMalformed, len(t.caveats))
		}
		t.caveats = append(t.caveats, Caveat{kind: Kind(p[0]), body: string(p[3 : 3+n])})
		p = p[3+n:]
	}
	if err := t.check(); err != nil {
		return Token{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return t, nil
}

// Verify checks that k minted t (tags compared in constant time) and that
// every caveat allows r. Its errors wrap ErrMalformed, ErrBadSignature,
// ErrExpired or ErrDenied; a denial names the caveat.
func (k Key) Verify(t Token, r Request) error {
	if err := t.check(); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if k == (Key{}) {
		return fmt.Errorf("%w: the root key is all zeros", ErrBadSignature)
	}
	want := chain(mac(k[:], t.id[:]), t.caveats)
	if subtle.ConstantTimeCompare(want[:], t.tag[:]) != 1 {
		return ErrBadSignature
	}
	for i, c := range t.caveats {
		if err := c.allows(i, r); err != nil {
			return err
		}
	}
	return nil
}
