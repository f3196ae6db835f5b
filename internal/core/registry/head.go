package registry

import (
	"crypto/ed25519"
	"fmt"
	"time"
)

// Head announces a registry's latest entry.
type Head struct {
	V        int    `json:"v"`        // format version, 1
	Registry string `json:"registry"` // the genesis entry's ID
	Seq      uint64 `json:"seq"`      // grows with every head the maintainers sign
	Entries  uint64 `json:"entries"`  // how many entries the log has (the last one's seq + 1)
	Entry    string `json:"entry"`    // the last entry's ID
	Issued   string `json:"issued"`   // RFC 3339 UTC
	Expires  string `json:"expires"`  // RFC 3339 UTC; past it, the head is refused
}

// Message returns what a maintainer signs for this head.
func (h *Head) Message() []byte {
	b, err := canonical(h)
	if err != nil {
		panic(err)
	}
	return append([]byte(headDomain), b...)
}

// ExpiresAt returns the head's expiry.
func (h *Head) ExpiresAt() time.Time {
	t, _ := time.Parse(time.RFC3339, h.Expires)
	return t
}

// Check checks the head's fields.
func (h *Head) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: head %d: %s", ErrMalformed, h.Seq, fmt.Sprintf(format, args...))
	}
	if h.V != 1 {
		return bad("format version %d, want 1", h.V)
	}
	if !validCID(h.Registry) || !validCID(h.Entry) {
		return bad("registry and entry must be b3:<64 lowercase hex>")
	}
	if h.Seq < 1 || h.Seq > MaxSeq || h.Entries < 1 || h.Entries > MaxSeq {
		return bad("seq and entries must be 1 to 2^53-1")
	}
	issued, err1 := time.Parse(time.RFC3339, h.Issued)
	expires, err2 := time.Parse(time.RFC3339, h.Expires)
	if err1 != nil || err2 != nil || !expires.After(issued) {
		return bad("issued and expires must be RFC 3339 times, expires after issued")
	}
	return nil
}

// SignedHead is a head with its maintainers' signatures, as it travels,
// and the CID of an object carrying the head's last entry. That CID is a
// hint to fetch by, outside what is signed (an object's CID changes with
// every co-signature): the object fetched must carry the entry the head
// names, or the head is refused.
type SignedHead struct {
	Head       Head        `json:"head"`
	Object     string      `json:"object"`
	Signatures []Signature `json:"signatures"`
}

// ParseHead decodes a signed head in canonical form and checks its fields
// and its signatures' shape (whether they count needs the log, see
// Log.CheckHead).
func ParseHead(b []byte) (*SignedHead, error) {
	var sh SignedHead
	if err := decodeCanonical(b, &sh); err != nil {
		return nil, err
	}
	if err := sh.Head.Check(); err != nil {
		return nil, err
	}
	if !validCID(sh.Object) {
		return nil, fmt.Errorf("%w: head %d: object must be b3:<64 lowercase hex>", ErrMalformed, sh.Head.Seq)
	}
	if err := checkSignatures(sh.Signatures); err != nil {
		return nil, err
	}
	return &sh, nil
}

// Encode returns the signed head's canonical bytes.
func (sh *SignedHead) Encode() []byte {
	if sh.Signatures == nil {
		sh.Signatures = []Signature{}
	}
	b, err := canonical(sh)
	if err != nil {
		panic(err)
	}
	return b
}

// Sign adds priv's signature of the head.
func (sh *SignedHead) Sign(priv ed25519.PrivateKey) {
	sh.Signatures = addSignature(sh.Signatures, priv, sh.Head.Message())
}
