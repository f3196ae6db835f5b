package token

import (
	"encoding/binary"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is a caveat's kind, its first byte on the wire.
type Kind byte

// The caveat kinds this version knows. Kind 0 is never valid; other unknown
// kinds parse but fail verification.
const (
	KindExpires  Kind = 1 // body: Unix seconds, int64 big endian
	KindMethods  Kind = 2 // body: methods, upper case, sorted, unique, comma-separated
	KindPath     Kind = 3 // body: an absolute clean path (path.Clean(p) == p)
	KindMaxBytes Kind = 4 // body: bytes, int64 >= 0 big endian
)

// String returns the kind's name (expires, methods, path, max_bytes).
func (k Kind) String() string {
	switch k {
	case KindExpires:
		return "expires"
	case KindMethods:
		return "methods"
	case KindPath:
		return "path"
	case KindMaxBytes:
		return "max_bytes"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Caveat is one restriction on a token. Build one with Expires, Methods,
// PathPrefix or MaxBytes; the zero Caveat is invalid and makes Mint fail
// (and a token attenuated with it fail verification).
type Caveat struct {
	kind Kind
	body string
}

// Expires restricts a token to requests before t (at one-second
// resolution, rounded down: the token is expired from t.Unix() on).
func Expires(t time.Time) Caveat {
	return Caveat{kind: KindExpires, body: string(binary.BigEndian.AppendUint64(nil, uint64(t.Unix())))}
}

// Methods restricts a token to requests with one of these HTTP methods.
// Names are upper-cased; names with characters other than A-Z, 0-9, '-'
// and '_' are dropped (no request could match them). With no valid name the
// caveat allows no method at all.
func Methods(methods ...string) Caveat {
	var ms []string
	for _, m := range methods {
		m = strings.ToUpper(strings.TrimSpace(m))
		if validMethod(m) {
			ms = append(ms, m)
		}
	}
	slices.Sort(ms)
	return Caveat{kind: KindMethods, body: strings.Join(slices.Compact(ms), ",")}
}

// PathPrefix restricts a token to requests whose path is p or below p at a
// "/" boundary. p is made absolute and cleaned ("v1/publish/" becomes
// "/v1/publish"); "/" allows every path.
func PathPrefix(p string) Caveat {
	return Caveat{kind: KindPath, body: path.Clean("/" + p)}
}

// MaxBytes restricts a token to requests whose body is at most n bytes (a
// negative n is taken as 0).
func MaxBytes(n int64) Caveat {
	return Caveat{kind: KindMaxBytes, body: string(binary.BigEndian.AppendUint64(nil, uint64(max(n, 0))))}
}

// Kind returns the caveat's kind.
func (c Caveat) Kind() Kind { return c.kind }

// String describes the caveat, e.g. "path=/v1/publish" or
// "expires=2026-01-02T15:04:05Z".
func (c Caveat) String() string {
	if err := c.check(); err != nil {
		return fmt.Sprintf("%s=<invalid %d-byte body>", c.kind, len(c.body))
	}
	switch c.kind {
	case KindExpires:
		return "expires=" + time.Unix(c.int64(), 0).UTC().Format(time.RFC3339)
	case KindMethods:
		return "methods=" + c.body
	case KindPath:
		return "path=" + c.body
	case KindMaxBytes:
		return "max_bytes=" + strconv.FormatInt(c.int64(), 10)
	}
	return fmt.Sprintf("%s=%x", c.kind, c.body)
}

func (c Caveat) int64() int64 { return int64(binary.BigEndian.Uint64([]byte(c.body))) }

// check reports whether c's body is the canonical spelling for its kind.
// Unknown kinds other than 0 pass (Verify denies them).
func (c Caveat) check() error {
	switch c.kind {
	case 0:
		return fmt.Errorf("caveat kind 0 is invalid")
	case KindExpires:
		if len(c.body) != 8 {
			return fmt.Errorf("an expires caveat is 8 bytes, not %d", len(c.body))
		}
	case KindMaxBytes:
		if len(c.body) != 8 {
			return fmt.Errorf("a max_bytes caveat is 8 bytes, not %d", len(c.body))
		}
		if c.int64() < 0 {
			return fmt.Errorf("a max_bytes caveat is negative")
		}
	case KindMethods:
		if c.body == "" {
			return nil
		}
		ms := strings.Split(c.body, ",")
		for i, m := range ms {
			if !validMethod(m) {
				return fmt.Errorf("methods caveat: %q is not an upper-case method name", m)
			}
			if i > 0 && ms[i-1] >= m {
				return fmt.Errorf("methods caveat: methods must be sorted and unique")
			}
		}
	case KindPath:
		if !strings.HasPrefix(c.body, "/") || path.Clean(c.body) != c.body {
			return fmt.Errorf("path caveat: %q is not an absolute clean path", c.body)
		}
	}
	return nil
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		ch := m[i]
		if !(ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			return false
		}
	}
	return true
}

// allows checks r against c. It returns nil, or an error wrapping
// ErrExpired or ErrDenied that names the caveat.
func (c Caveat) allows(i int, r Request) error {
	switch c.kind {
	case KindExpires:
		if r.Now.IsZero() {
			return fmt.Errorf("%w: caveat %d (%s): the request carries no time to check it against", ErrDenied, i, c)
		}
		if !r.Now.Before(time.Unix(c.int64(), 0)) {
			return fmt.Errorf("%w: caveat %d (%s)", ErrExpired, i, c)
		}
	case KindMethods:
		if c.body == "" || !slices.Contains(strings.Split(c.body, ","), r.Method) {
			return fmt.Errorf("%w: caveat %d (%s): method %q is not allowed", ErrDenied, i, c, r.Method)
		}
	case KindPath:
		if !underPrefix(r.Path, c.body) {
			return fmt.Errorf("%w: caveat %d (%s): path %q is not under it", ErrDenied, i, c, r.Path)
		}
	case KindMaxBytes:
		if r.Bytes > c.int64() { // an unknown length (< 0) passes: the caller caps the body at MaxBytes
			return fmt.Errorf("%w: caveat %d (%s): the body is %d bytes", ErrDenied, i, c, r.Bytes)
		}
	default:
		return fmt.Errorf("%w: caveat %d is of unknown %s, so the token allows nothing here", ErrDenied, i, c.kind)
	}
	return nil
}

// underPrefix reports whether the request path p is prefix or below it at
// a "/" boundary. p must be absolute and clean (one trailing "/" allowed),
// so that no "." or ".." segment or doubled "/" can step out of prefix.
func underPrefix(p, prefix string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	q := p
	if len(q) > 1 && strings.HasSuffix(q, "/") {
		q = q[:len(q)-1]
	}
	if path.Clean(q) != q {
		return false
	}
	if prefix == "/" {
		return true
	}
	return q == prefix || strings.HasPrefix(q, prefix+"/")
}
