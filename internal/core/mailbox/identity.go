package mailbox

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base32"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/ronhost/ronhost/internal/secretfile"

	"golang.org/x/crypto/curve25519"
)

// keyPrefix starts the text form of a mailbox's keys.
const keyPrefix = "rmb1."

// b32 is lowercase RFC 4648 base32 without padding.
var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Keys are a mailbox's public keys: Sign verifies what it signs (ed25519)
// and Box is what messages are sealed to (X25519). Text form:
// "rmb1." + base32(Sign || Box), 103 lowercase base32 characters after the
// prefix.
type Keys struct {
	Sign [ed25519.PublicKeySize]byte
	Box  [curve25519.PointSize]byte
}

// String returns the text form of k.
func (k Keys) String() string {
	var b [64]byte
	copy(b[:32], k.Sign[:])
	copy(b[32:], k.Box[:])
	return keyPrefix + b32.EncodeToString(b[:])
}

// ParseKeys parses the text form of a mailbox's keys.
func ParseKeys(s string) (Keys, error) {
	rest, ok := strings.CutPrefix(s, keyPrefix)
	if !ok {
		return Keys{}, fmt.Errorf("%w: mailbox keys %.40q do not start with %q", ErrBadAddress, s, keyPrefix)
	}
	if len(rest) != b32.EncodedLen(64) {
		return Keys{}, fmt.Errorf("%w: mailbox keys are %d base32 characters after %q, not %d", ErrBadAddress, b32.EncodedLen(64), keyPrefix, len(rest))
	}
	b, err := b32.DecodeString(rest)
	if err != nil || b32.EncodeToString(b) != rest {
		return Keys{}, fmt.Errorf("%w: mailbox keys are not lowercase base32", ErrBadAddress)
	}
	var k Keys
	copy(k.Sign[:], b[:32])
	copy(k.Box[:], b[32:])
	return k, nil
}

// Address is where a mailbox is reached (Host, "host:port": a v3 .onion
// and its virtual port, or 127.0.0.1:port in tests) and its keys. Text
// form: Keys.String() + "@" + Host.
type Address struct {
	Keys Keys
	Host string
}

// String returns the text form of a.
func (a Address) String() string { return a.Keys.String() + "@" + a.Host }

// IsZero reports whether a is the zero Address.
func (a Address) IsZero() bool { return a == Address{} }

// MarshalText implements encoding.TextMarshaler.
func (a Address) MarshalText() ([]byte, error) {
	if a.IsZero() {
		return []byte{}, nil
	}
	return []byte(a.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Address) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*a = Address{}
		return nil
	}
	p, err := ParseAddress(string(b))
	if err != nil {
		return err
	}
	*a = p
	return nil
}

// MaxHostBytes bounds the host:port part of an address.
const MaxHostBytes = 255

// ParseAddress parses the text form of an address. It accepts only the
// canonical form String prints: lowercase keys, a lowercase host name or
// an IP literal ([v6] in brackets), a decimal port 1-65535 without leading
// zeros.
func ParseAddress(s string) (Address, error) {
	ks, host, ok := strings.Cut(s, "@")
	if !ok {
		return Address{}, fmt.Errorf("%w: %.40q has no @host:port", ErrBadAddress, s)
	}
	k, err := ParseKeys(ks)
	if err != nil {
		return Address{}, err
	}
	if err := checkHostPort(host); err != nil {
		return Address{}, err
	}
	return Address{Keys: k, Host: host}, nil
}

// checkHostPort checks a canonical "host:port".
func checkHostPort(hp string) error {
	if len(hp) > MaxHostBytes {
		return fmt.Errorf("%w: host longer than %d bytes", ErrBadAddress, MaxHostBytes)
	}
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadAddress, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return fmt.Errorf("%w: port %q is not 1-65535", ErrBadAddress, port)
	}
	if net.JoinHostPort(host, port) != hp {
		return fmt.Errorf("%w: %q is not a canonical host:port", ErrBadAddress, hp)
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.String() != host {
			return fmt.Errorf("%w: IP %q is not in canonical form", ErrBadAddress, host)
		}
		return nil
	}
	if host == "" || strings.HasPrefix(host, ".") || strings.HasSuffix(host, ".") || strings.Contains(host, "..") {
		return fmt.Errorf("%w: bad host name %q", ErrBadAddress, host)
	}
	for _, c := range host {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return fmt.Errorf("%w: host name %q must be lowercase letters, digits, '-' and '.'", ErrBadAddress, host)
		}
	}
	return nil
}

// Identity is a mailbox's private keys. Both come from one 32-byte seed:
// the ed25519 signing key is the seed's (RFC 8032), and the X25519 private
// key is the first 32 bytes of SHA-512(seed), clamped as RFC 7748 says
// (which is the scalar RFC 8032 derives from the seed, the conversion age
// and libsodium use for ed25519 keys). The X25519 public key is computed
// from that scalar and published in the Address next to the ed25519 key,
// so nobody needs to convert keys.
type Identity struct {
	sign ed25519.PrivateKey
	box  [32]byte // X25519 private scalar, clamped
	keys Keys
}

// NewIdentity returns the identity of a 32-byte seed.
func NewIdentity(seed []byte) (*Identity, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("mailbox: an identity seed is %d bytes, not %d", ed25519.SeedSize, len(seed))
	}
	id := &Identity{sign: ed25519.NewKeyFromSeed(seed)}
	h := sha512.Sum512(seed)
	copy(id.box[:], h[:32])
	id.box[0] &= 248
	id.box[31] &= 127
	id.box[31] |= 64
	pub, err := curve25519.X25519(id.box[:], curve25519.Basepoint)
	if err != nil {
		return nil, fmt.Errorf("mailbox: deriving the X25519 key: %w", err)
	}
	copy(id.keys.Sign[:], id.sign.Public().(ed25519.PublicKey))
	copy(id.keys.Box[:], pub)
	return id, nil
}

// GenerateIdentity returns a new random identity.
func GenerateIdentity() (*Identity, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, fmt.Errorf("mailbox: generating an identity: %w", err)
	}
	return NewIdentity(seed)
}

// Keys returns the identity's public keys.
func (id *Identity) Keys() Keys { return id.keys }

// Address returns the identity's address at hostport.
func (id *Identity) Address(hostport string) (Address, error) {
	if err := checkHostPort(hostport); err != nil {
		return Address{}, err
	}
	return Address{Keys: id.keys, Host: hostport}, nil
}

// Seed returns the identity's 32-byte seed (what its key file holds).
func (id *Identity) Seed() []byte { return id.sign.Seed() }

// LoadOrCreateIdentity reads the identity in path (its 32-byte seed),
// creating the file with a new identity if it does not exist. The file must
// be a regular file of exactly 32 bytes with mode 0600 (or narrower).
// Creation is atomic and never replaces an identity another process created
// meanwhile: the seed is written to a temporary file in the same directory,
// fsynced, hard-linked into place (which fails if path exists, and then
// that identity is read) and the directory fsynced. The directory must
// exist.
func LoadOrCreateIdentity(path string) (*Identity, error) {
	seed, err := secretfile.LoadOrCreate(path, ed25519.SeedSize, func() ([]byte, error) {
		id, err := GenerateIdentity()
		if err != nil {
			return nil, err
		}
		return id.Seed(), nil
	})
	if err != nil {
		return nil, fmt.Errorf("mailbox: identity file: %w", err)
	}
	return NewIdentity(seed)
}
