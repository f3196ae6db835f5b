package registry

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/ronsig"
)

// Sentinel errors callers test with errors.Is.
var (
	// ErrMalformed: bytes that are not an entry, entry object, head or
	// proposal in canonical form.
	ErrMalformed = codes.New(codes.Invalid, "registry: malformed")
	// ErrInvalid: a well-formed entry that breaks a rule of its operation
	// (binding a revoked module, upgrading an unbound TLD, ...).
	ErrInvalid = codes.New(codes.Rejected, "registry: invalid entry")
	// ErrThreshold: fewer valid maintainer signatures than the threshold.
	ErrThreshold = codes.New(codes.Rejected, "registry: below the signature threshold")
	// ErrChain: an entry that does not follow its predecessor (sequence
	// number, prev, or a prev_object that does not carry prev).
	ErrChain = codes.New(codes.Rejected, "registry: broken chain")
	// ErrFork: two different valid entries with the same predecessor.
	ErrFork = codes.New(codes.Conflict, "registry: fork")
	// ErrRollback: a head older than the one already accepted.
	ErrRollback = codes.New(codes.Conflict, "registry: rollback")
	// ErrConflict: a different head with the sequence number of the one accepted.
	ErrConflict = codes.New(codes.Conflict, "registry: conflicting head")
	// ErrExpired: a head past its expiry (a frozen registry).
	ErrExpired = codes.New(codes.Rejected, "registry: expired head")
	// ErrOtherRegistry: a head or entry of another registry.
	ErrOtherRegistry = codes.New(codes.NotFound, "registry: another registry")
	// ErrHalted: the log saw a fork and accepts nothing more.
	ErrHalted = codes.New(codes.Conflict, "registry: halted after a fork")
)

// Operations of an entry.
const (
	OpGenesis = "genesis"
	OpBind    = "bind"
	OpUpgrade = "upgrade"
	OpRevoke  = "revoke"
	OpRotate  = "rotate"
)

// Limits.
const (
	// MaxObject bounds an entry object, a head and a proposal.
	MaxObject = 64 << 10
	// MaxMaintainers bounds a maintainer set.
	MaxMaintainers = 32
	// MaxReason bounds a revocation's reason, in bytes.
	MaxReason = 1024
	// MaxText bounds a name or a version, in bytes.
	MaxText = 64
	// MaxModule bounds a bound module's size.
	MaxModule = 1 << 30
	// MaxSeq bounds sequence numbers (JSON integers stay exact up to 2^53-1).
	MaxSeq = 1<<53 - 1
	// ABI is the plugin ABI this format knows; a bind names the ABI its
	// module needs, and a node refuses one it does not run.
	ABI = 1
)

// Signature messages' domains.
const (
	entryDomain = "ronhost registry entry v1\n"
	headDomain  = "ronhost registry head v1\n"
)

// Entry is one entry of a registry's log. Fields an operation does not use
// are empty.
type Entry struct {
	V    int    `json:"v"`              // format version, 1
	Seq  uint64 `json:"seq"`            // position in the log; the genesis is 0
	Prev string `json:"prev,omitempty"` // the predecessor's ID; empty for the genesis
	Time string `json:"time"`           // when it was proposed, RFC 3339 UTC (informative)
	Op   string `json:"op"`

	Name        string   `json:"name,omitempty"`        // genesis: the registry's name
	Maintainers []string `json:"maintainers,omitempty"` // genesis, rotate: ed25519:<hex>, sorted
	Threshold   int      `json:"threshold,omitempty"`   // genesis, rotate

	TLD       string `json:"tld,omitempty"`       // bind, upgrade
	Plugin    string `json:"plugin,omitempty"`    // bind, upgrade, revoke: b3:<hex> of the module
	Size      int64  `json:"size,omitempty"`      // bind, upgrade: the module's bytes
	Version   string `json:"version,omitempty"`   // bind, upgrade
	Publisher string `json:"publisher,omitempty"` // bind, upgrade: ed25519:<hex>, optional
	ABI       int    `json:"abi,omitempty"`       // bind, upgrade: the ABI the module needs

	Reason string `json:"reason,omitempty"` // revoke
}

// Canonical returns the entry's canonical bytes (what its ID hashes and its
// signatures sign, less the domain).
func (e *Entry) Canonical() []byte {
	b, err := canonical(e)
	if err != nil {
		panic(err) // an Entry always encodes
	}
	return b
}

// ID is the entry's identity: "b3:<hex>" of its canonical bytes.
func (e *Entry) ID() string { return cid.Sum(e.Canonical()).String() }

// Message returns what a maintainer signs for this entry.
func (e *Entry) Message() []byte { return append([]byte(entryDomain), e.Canonical()...) }

// canonical encodes v as the SDK's canonical JSON (see ronsig.Message).
func canonical(v any) ([]byte, error) { return ronsig.Message("", v) }

// decodeCanonical decodes b into v strictly (no unknown member, nothing
// after it) and checks b is v's canonical encoding.
func decodeCanonical(b []byte, v any) error {
	if len(b) > MaxObject {
		return fmt.Errorf("%w: %d bytes, more than %d", ErrMalformed, len(b), MaxObject)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if d.More() {
		return fmt.Errorf("%w: data after the object", ErrMalformed)
	}
	c, err := canonical(v)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if !bytes.Equal(c, b) {
		return fmt.Errorf("%w: not in canonical form (compact JSON, keys sorted, empty members left out)", ErrMalformed)
	}
	return nil
}

// ParseEntry decodes an entry in canonical form and checks its fields
// (Check).
func ParseEntry(b []byte) (*Entry, error) {
	var e Entry
	if err := decodeCanonical(b, &e); err != nil {
		return nil, err
	}
	if err := e.Check(); err != nil {
		return nil, err
	}
	return &e, nil
}

// validKey says whether s is an ed25519 key as ronsig writes it.
func validKey(s string) bool { _, ok := ronsig.ParseKey(s); return ok }

// validCID says whether s is a CID in its canonical spelling.
func validCID(s string) bool {
	c, err := cid.Parse(s)
	return err == nil && c.String() == s
}

// validText says whether s is 1..max bytes of printable UTF-8 without
// control characters.
func validText(s string, max int) bool {
	if s == "" || len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// Check checks the entry's fields for its operation, without the log
// around it.
func (e *Entry) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: entry %d (%s): %s", ErrMalformed, e.Seq, e.Op, fmt.Sprintf(format, args...))
	}
	if e.V != 1 {
		return bad("format version %d, want 1", e.V)
	}
	if e.Seq > MaxSeq {
		return bad("seq is over 2^53-1")
	}
	if t, err := time.Parse(time.RFC3339, e.Time); err != nil || !strings.HasSuffix(e.Time, "Z") || t.Year() < 2000 {
		return bad("time %q is not RFC 3339 UTC", e.Time)
	}
	if e.Seq == 0 {
		if e.Op != OpGenesis || e.Prev != "" {
			return bad("the entry at seq 0 must be the genesis, without prev")
		}
	} else if e.Op == OpGenesis || !validCID(e.Prev) {
		return bad("an entry after the genesis needs prev, the ID of its predecessor")
	}
	has := func(fields ...string) error {
		set := map[string]bool{
			"name": e.Name != "", "maintainers": e.Maintainers != nil, "threshold": e.Threshold != 0,
			"tld": e.TLD != "", "plugin": e.Plugin != "", "size": e.Size != 0, "version": e.Version != "",
			"publisher": e.Publisher != "", "abi": e.ABI != 0, "reason": e.Reason != "",
		}
		for _, f := range fields {
			delete(set, f)
		}
		for f, present := range set {
			if present {
				return bad("%q has no place in a %s entry", f, e.Op)
			}
		}
		return nil
	}
	switch e.Op {
	case OpGenesis, OpRotate:
		fields := []string{"maintainers", "threshold"}
		if e.Op == OpGenesis {
			fields = append(fields, "name")
			if !validText(e.Name, MaxText) {
				return bad("the name must be 1 to %d printable bytes", MaxText)
			}
		}
		if err := has(fields...); err != nil {
			return err
		}
		if n := len(e.Maintainers); n == 0 || n > MaxMaintainers {
			return bad("%d maintainers, want 1 to %d", n, MaxMaintainers)
		}
		for i, k := range e.Maintainers {
			if !validKey(k) {
				return bad("maintainer %q is not an ed25519 key (ed25519:<64 lowercase hex>)", k)
			}
			if i > 0 && e.Maintainers[i-1] >= k {
				return bad("maintainers must be sorted and distinct")
			}
		}
		if e.Threshold < 1 || e.Threshold > len(e.Maintainers) {
			return bad("threshold %d is not 1 to %d", e.Threshold, len(e.Maintainers))
		}
	case OpBind, OpUpgrade:
		if err := has("tld", "plugin", "size", "version", "publisher", "abi"); err != nil {
			return err
		}
		if !ron.ValidTLD(e.TLD) {
			return bad("%q is not a TLD ([a-z0-9-]{1,32})", e.TLD)
		}
		if !validCID(e.Plugin) {
			return bad("plugin %q is not b3:<64 lowercase hex>", e.Plugin)
		}
		if e.Size <= 0 || e.Size > MaxModule {
			return bad("size %d is not 1 to %d", e.Size, MaxModule)
		}
		if !validText(e.Version, MaxText) {
			return bad("the version must be 1 to %d printable bytes", MaxText)
		}
		if e.Publisher != "" && !validKey(e.Publisher) {
			return bad("publisher %q is not an ed25519 key", e.Publisher)
		}
		if e.ABI < 1 {
			return bad("abi %d: name the plugin ABI the module needs (1)", e.ABI)
		}
	case OpRevoke:
		if err := has("plugin", "reason"); err != nil {
			return err
		}
		if !validCID(e.Plugin) {
			return bad("plugin %q is not b3:<64 lowercase hex>", e.Plugin)
		}
		if !validText(e.Reason, MaxReason) {
			return bad("the reason must be 1 to %d printable bytes", MaxReason)
		}
	default:
		return bad("unknown operation %q", e.Op)
	}
	return nil
}

// Signature is one maintainer's signature.
type Signature struct {
	Key string `json:"key"` // ed25519:<hex>
	Sig string `json:"sig"` // 128 lowercase hex
}

// checkSignatures checks the list's shape: well-formed, sorted by key,
// distinct keys.
func checkSignatures(sigs []Signature) error {
	if len(sigs) > 2*MaxMaintainers {
		return fmt.Errorf("%w: %d signatures", ErrMalformed, len(sigs))
	}
	for i, s := range sigs {
		if !validKey(s.Key) {
			return fmt.Errorf("%w: signature key %q", ErrMalformed, s.Key)
		}
		if _, ok := ronsig.ParseSignature(s.Sig); !ok {
			return fmt.Errorf("%w: signature by %s is not 128 lowercase hex", ErrMalformed, s.Key)
		}
		if i > 0 && sigs[i-1].Key >= s.Key {
			return fmt.Errorf("%w: signatures must be sorted by key, one per key", ErrMalformed)
		}
	}
	return nil
}

// countValid counts the signatures of msg by distinct members of set.
func countValid(sigs []Signature, set []string, msg []byte) int {
	n := 0
	for _, s := range sigs {
		if slices.Contains(set, s.Key) && ronsig.Verify(s.Key, s.Sig, msg) {
			n++
		}
	}
	return n
}

// addSignature adds or replaces key's signature, keeping the list sorted.
func addSignature(sigs []Signature, priv ed25519.PrivateKey, msg []byte) []Signature {
	s := Signature{Key: ronsig.FormatKey(priv.Public().(ed25519.PublicKey)), Sig: ronsig.Sign(priv, msg)}
	sigs = slices.DeleteFunc(slices.Clone(sigs), func(x Signature) bool { return x.Key == s.Key })
	i, _ := slices.BinarySearchFunc(sigs, s.Key, func(x Signature, k string) int { return strings.Compare(x.Key, k) })
	return slices.Insert(sigs, i, s)
}

// Object is an entry object: what is stored and fetched by CID.
type Object struct {
	Entry      Entry       `json:"entry"`
	PrevObject string      `json:"prev_object,omitempty"` // CID of the object carrying Entry.Prev
	Signatures []Signature `json:"signatures"`
}

// ParseObject decodes an entry object in canonical form and checks its
// entry's fields and its signatures' shape (not whether they count: that
// needs the log, see Log.Append).
func ParseObject(b []byte) (*Object, error) {
	var o Object
	if err := decodeCanonical(b, &o); err != nil {
		return nil, err
	}
	if err := o.Entry.Check(); err != nil {
		return nil, err
	}
	if (o.Entry.Seq == 0) != (o.PrevObject == "") || (o.PrevObject != "" && !validCID(o.PrevObject)) {
		return nil, fmt.Errorf("%w: prev_object must name the predecessor's object (and only after the genesis)", ErrMalformed)
	}
	if err := checkSignatures(o.Signatures); err != nil {
		return nil, err
	}
	return &o, nil
}

// Encode returns the object's canonical bytes; their BLAKE3 is its CID.
func (o *Object) Encode() []byte {
	if o.Signatures == nil {
		o.Signatures = []Signature{}
	}
	b, err := canonical(o)
	if err != nil {
		panic(err)
	}
	return b
}

// CID is the object's content address.
func (o *Object) CID() string { return cid.Sum(o.Encode()).String() }

// Sign adds priv's signature of the entry.
func (o *Object) Sign(priv ed25519.PrivateKey) {
	o.Signatures = addSignature(o.Signatures, priv, o.Entry.Message())
}
