package cid

import (
	"errors"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func TestLabel(t *testing.T) {
	c := Sum([]byte("hello"))
	l := c.Label()
	if len(l) != LabelLen || strings.ToLower(l) != l || strings.ContainsAny(l, "0189=") {
		t.Fatalf("label %q", l)
	}
	if got, err := ParseLabel(l); err != nil || got != c {
		t.Fatalf("ParseLabel(%q) = %v, %v", l, got, err)
	}
	// The last character carries 4 stray bits: only the spelling with them
	// zero is a CID's label, so one CID has one origin.
	last := l[len(l)-1]
	for _, ch := range "abcdefghijklmnopqrstuvwxyz234567" {
		if byte(ch) == last {
			continue
		}
		alt := l[:len(l)-1] + string(ch)
		if got, err := ParseLabel(alt); err == nil && got == c {
			t.Fatalf("%q parses to the same CID as %q", alt, l)
		}
	}
	for _, bad := range []string{"", l[:51], l + "a", strings.ToUpper(l), l[:51] + "1", l[:10] + "-" + l[11:], c.Hex()} {
		if _, err := ParseLabel(bad); !errors.Is(err, ErrInvalidCID) {
			t.Errorf("ParseLabel(%q): %v, want ErrInvalidCID", bad, err)
		}
	}
}

func TestLabelRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var c CID
		copy(c[:], rapid.SliceOfN(rapid.Byte(), Size, Size).Draw(t, "hash"))
		got, err := ParseLabel(c.Label())
		if err != nil || got != c {
			t.Fatalf("round trip of %x: %v, %v", c, got, err)
		}
	})
}

func FuzzParseLabel(f *testing.F) {
	f.Add(Sum(nil).Label())
	f.Add(strings.Repeat("a", LabelLen))
	f.Add(strings.Repeat("7", LabelLen))
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseLabel(s)
		if err != nil {
			return
		}
		if c.Label() != s {
			t.Fatalf("ParseLabel(%q) accepted a spelling that is not %q", s, c.Label())
		}
	})
}
