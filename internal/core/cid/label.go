package cid

import (
	"encoding/base32"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// LabelLen is the length of a CID's DNS label: 32 bytes in base32, 52
// characters (a DNS label holds at most 63, so the 64-hex form does not fit).
const LabelLen = 52

// label is RFC 4648 base32 in lower case without padding: the alphabet of a
// DNS label that browsers never change (host names are lowercased).
var label = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Label returns c as one DNS label: the 52 lower-case base32 characters
// (a-z, 2-7) of its hash. An origin per address is named by it
// (<label>.<tld>.<gateway domain>).
func (c CID) Label() string { return label.EncodeToString(c[:]) }

// ParseLabel parses a CID's DNS label. Only the canonical spelling is
// accepted (lower case, 52 characters, the unused low bits of the last
// character zero), so each CID has one label and so one origin.
func ParseLabel(s string) (CID, error) {
	var c CID
	if len(s) != LabelLen {
		return c, cidError(s, fmt.Sprintf("a CID label has %d base32 characters, not %d", LabelLen, len(s)))
	}
	n, err := label.Decode(c[:], []byte(s))
	if err != nil || n != Size {
		return CID{}, cidError(s, "a CID label is lower-case base32 (a-z, 2-7)")
	}
	if c.Label() != s {
		return CID{}, cidError(s, "not the canonical label of a CID (its last character has stray bits)")
	}
	return c, nil
}

// ErrInvalidDomain is wrapped by CheckDomain's errors.
var ErrInvalidDomain = errors.New("cid: invalid domain")

// MaxDomain bounds a gateway domain so that <label>.<tld>.<domain> stays
// within DNS's 253 characters.
const MaxDomain = 253 - LabelLen - 1 - MaxTLD - 1

// CheckDomain checks a host name under which addresses get their origins
// (a gateway domain) or that names a node, and returns it normalized: lower
// case, without a trailing dot. It must be a DNS name (labels of a-z, 0-9
// and '-', 1 to 63 characters, not starting or ending with '-'), not an IP
// address, without a port or scheme, and at most MaxDomain characters.
func CheckDomain(name string) (string, error) {
	n := strings.TrimSuffix(strings.ToLower(name), ".")
	if _, err := netip.ParseAddr(n); err == nil {
		return "", fmt.Errorf("%w %q: an IP address, not a name", ErrInvalidDomain, name)
	}
	if n == "" || len(n) > MaxDomain {
		return "", fmt.Errorf("%w %q: a domain has 1 to %d characters", ErrInvalidDomain, name, MaxDomain)
	}
	for l := range strings.SplitSeq(n, ".") {
		if !dnsLabel(l) {
			return "", fmt.Errorf("%w %q: the label %q is not a-z, 0-9 and '-' (1 to 63, not starting or ending with '-'); give a bare name, without scheme or port",
				ErrInvalidDomain, name, l)
		}
	}
	return n, nil
}

func dnsLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
