package token

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRevocations(t *testing.T) {
	k, _ := NewKey()
	now := time.Unix(1_800_000_000, 0)
	a, _ := Mint(k, Expires(now.Add(time.Hour)))
	b, _ := Mint(k)
	child := b.Attenuate(Methods("GET")) // shares b's id
	path := filepath.Join(t.TempDir(), "revoked")
	r := NewRevocations(path)
	for _, tk := range []Token{a, b, child} {
		if err := r.Check(tk, now); err != nil {
			t.Fatalf("nothing revoked yet: %v", err)
		}
	}

	until, ok := a.Expiry()
	if !ok || !until.Equal(now.Add(time.Hour)) {
		t.Fatalf("Expiry() = %v, %v", until, ok)
	}
	if err := r.Revoke(a.IDBytes(), until); err != nil {
		t.Fatal(err)
	}
	if err := r.Check(a, now); !errors.Is(err, ErrRevoked) {
		t.Fatalf("a revoked token: %v", err)
	}
	// Past the entry's date the token's own expiry refuses it; the entry
	// no longer matters.
	if err := r.Check(a, now.Add(2*time.Hour)); err != nil {
		t.Fatalf("an entry past its date: %v", err)
	}

	// Another process (the CLI) revokes b for good: a running node's list
	// sees it at the next check, and so every token attenuated from b.
	other := NewRevocations(path)
	if err := other.Revoke(b.IDBytes(), time.Time{}); err != nil {
		t.Fatal(err)
	}
	for _, tk := range []Token{b, child} {
		if err := r.Check(tk, now.Add(1000*time.Hour)); !errors.Is(err, ErrRevoked) {
			t.Fatalf("revoked by another process: %v", err)
		}
	}
	// Forever wins over a date, whatever the order of the lines.
	if err := other.Revoke(b.IDBytes(), now); err != nil {
		t.Fatal(err)
	}
	if err := NewRevocations(path).Check(child, now.Add(time.Hour)); !errors.Is(err, ErrRevoked) {
		t.Fatalf("a dated line after a permanent one: %v", err)
	}

	// A revocation that holds from a later time (a replaced token's grace).
	c, _ := Mint(k)
	if err := r.RevokeFrom(c.IDBytes(), now.Add(time.Minute), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := NewRevocations(path).Check(c, now); err != nil {
		t.Fatalf("before its grace ends: %v", err)
	}
	if err := NewRevocations(path).Check(c, now.Add(time.Minute)); !errors.Is(err, ErrRevoked) {
		t.Fatalf("once its grace ended: %v", err)
	}

	// A torn last line is skipped; the others still hold.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("0123abc")
	f.Close()
	if err := NewRevocations(path).Check(b, now); !errors.Is(err, ErrRevoked) {
		t.Fatalf("after a torn line: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the list's mode: %v %v", fi.Mode(), err)
	}

	// A list that cannot be read revokes everything: fail closed.
	bad := filepath.Join(t.TempDir(), "dir")
	if err := os.Mkdir(bad, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := NewRevocations(bad).Check(a, now); err == nil {
		t.Fatal("an unreadable list let a token through")
	}

	if _, err := ParseID(a.ID()); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"", "00", a.ID() + "00", "zz" + a.ID()[2:]} {
		if _, err := ParseID(s); !errors.Is(err, ErrMalformed) {
			t.Fatalf("ParseID(%q): %v", s, err)
		}
	}
}
