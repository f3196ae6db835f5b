package token

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ronhost/ronhost/internal/codes"
)

// ErrRevoked is wrapped by the error for a token whose id is on the
// revocation list.
var ErrRevoked = codes.New(codes.Unauthorized, "token: revoked")

// Revocations is a revocation list kept in a file: one line per revoked
// token id, "<32 hex digits> <until> [<from>]\n", both Unix seconds: the
// entry holds from `from` (0 or absent: at once) until `until` (the token's
// expiry, after which the entry may be forgotten; 0 means never). Revoking
// an id revokes every token attenuated from it, since they share the id.
//
// The file is only appended to (O_APPEND, fsynced), so the CLI and a running
// node can both revoke without losing each other's lines; Check rereads the
// file whenever its size or modification time changed, so a revocation
// takes effect at the next request. A malformed line (a torn append) is
// skipped; several lines for one id widen each other (the earliest from,
// the latest until). The file is created 0600.
//
// A Revocations is safe for concurrent use. NewRevocations does no I/O.
type Revocations struct {
	path string

	mu      sync.Mutex
	size    int64
	mtime   time.Time
	ids     map[[idSize]byte]span
	loadErr error
}

// span is when an entry holds: [from, until), 0 meaning unbounded.
type span struct{ from, until int64 }

func (s span) holds(now int64) bool {
	return (s.from == 0 || now >= s.from) && (s.until == 0 || now < s.until)
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// NewRevocations returns the revocation list kept at path.
func NewRevocations(path string) *Revocations {
	return &Revocations{path: path, ids: map[[idSize]byte]span{}}
}

// ParseID parses a token id's hex form (Token.ID).
func ParseID(s string) ([idSize]byte, error) {
	var id [idSize]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != idSize {
		return id, fmt.Errorf("%w: a token id is %d hex digits", ErrMalformed, 2*idSize)
	}
	copy(id[:], b)
	return id, nil
}

// IDBytes returns the token's id (ID is its hex form).
func (t Token) IDBytes() [idSize]byte { return t.id }

// Expiry returns the earliest expires caveat of t, if it has one.
func (t Token) Expiry() (time.Time, bool) {
	var out time.Time
	ok := false
	for _, c := range t.caveats {
		if c.kind == KindExpires && c.check() == nil {
			if e := time.Unix(c.int64(), 0); !ok || e.Before(out) {
				out, ok = e, true
			}
		}
	}
	return out, ok
}

// Revoke appends id to the list at once; until is when the entry may be
// forgotten (the zero time: never).
func (r *Revocations) Revoke(id [idSize]byte, until time.Time) error {
	return r.RevokeFrom(id, time.Time{}, until)
}

// RevokeFrom appends id to the list, holding from `from` (a grace period
// for a token being replaced) until `until`; zero times are unbounded.
func (r *Revocations) RevokeFrom(id [idSize]byte, from, until time.Time) error {
	sp := span{from: unix(from), until: unix(until)}
	line := hex.EncodeToString(id[:]) + " " + strconv.FormatInt(sp.until, 10)
	if sp.from != 0 {
		line += " " + strconv.FormatInt(sp.from, 10)
	}
	f, err := os.OpenFile(r.path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("token: revocation list: %w", err)
	}
	_, err = f.WriteString(line + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("token: revocation list: %w", err)
	}
	r.mu.Lock()
	r.mergeLocked(id, sp)
	r.mu.Unlock()
	return nil
}

// Check returns an error wrapping ErrRevoked when t's id is on the list at
// now, or the error reading the list (fail closed: a list that cannot be
// read revokes everything).
func (r *Revocations) Check(t Token, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.reloadLocked(); err != nil {
		return err
	}
	if sp, ok := r.ids[t.id]; ok && sp.holds(now.Unix()) {
		return fmt.Errorf("%w: token %s is on the revocation list", ErrRevoked, t.ID())
	}
	return nil
}

// reloadLocked rereads the file when it changed.
func (r *Revocations) reloadLocked() error {
	fi, err := os.Stat(r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // nothing revoked yet (entries added by Revoke stay)
	}
	if err != nil {
		return fmt.Errorf("token: revocation list: %w", err)
	}
	if fi.Size() == r.size && fi.ModTime().Equal(r.mtime) && r.loadErr == nil {
		return nil
	}
	b, err := os.ReadFile(r.path)
	if err != nil {
		r.loadErr = fmt.Errorf("token: revocation list: %w", err)
		return r.loadErr
	}
	r.loadErr = nil
	r.size, r.mtime = fi.Size(), fi.ModTime()
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		f := strings.Fields(string(line))
		if len(f) < 2 || len(f) > 3 {
			continue
		}
		id, err := ParseID(f[0])
		if err != nil {
			continue
		}
		var sp span
		if sp.until, err = strconv.ParseInt(f[1], 10, 64); err != nil || sp.until < 0 {
			continue
		}
		if len(f) == 3 {
			if sp.from, err = strconv.ParseInt(f[2], 10, 64); err != nil || sp.from < 0 {
				continue
			}
		}
		r.mergeLocked(id, sp)
	}
	return nil
}

// mergeLocked widens id's entry by sp: the earliest from, the latest until
// (0 is unbounded on either side).
func (r *Revocations) mergeLocked(id [idSize]byte, sp span) {
	old, ok := r.ids[id]
	if ok {
		if old.from == 0 || sp.from != 0 && old.from < sp.from {
			sp.from = old.from
		}
		if old.until == 0 || sp.until != 0 && old.until > sp.until {
			sp.until = old.until
		}
	}
	r.ids[id] = sp
}
