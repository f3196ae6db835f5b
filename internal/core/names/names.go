package names

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/ronhost/ronhost/internal/codes"
	"github.com/ronhost/ronhost/internal/core/cid"
)

// Sentinel errors; every error of this package wraps one of them (or a
// Pebble or file system error).
var (
	ErrMalformed    = codes.New(codes.Invalid, "names: malformed record")
	ErrBadSignature = codes.New(codes.Invalid, "names: bad signature (not made by the key in the name)")
	ErrExpired      = codes.New(codes.NotFound, "names: expired")
	ErrStale        = codes.New(codes.Conflict, "names: an equal or newer record exists")
	ErrNotFound     = codes.New(codes.NotFound, "names: no record for this name")
	ErrCorrupt      = errors.New("names: a stored record is corrupt")
)

// Limits.
const (
	MaxRecord = 4096 // bytes of a record's JSON
	MaxLabel  = 63
	KeyChars  = 52 // an ed25519 public key in unpadded base32
)

// Domain starts every signed message.
const Domain = "ronhost name record v1\n"

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Record is a signed binding of Name to Address.
type Record struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Seq     uint64 `json:"seq"`
	Expires int64  `json:"expires"` // Unix seconds; 0 never expires
	Sig     []byte `json:"sig"`
}

// NameFor returns the name "<label>.<key>" for pub. It does not check the
// label (Sign and Verify do).
func NameFor(pub ed25519.PublicKey, label string) string {
	return label + "." + b32.EncodeToString(pub)
}

// ParseName splits a name into its label and public key, checking both.
// Its errors wrap ErrMalformed.
func ParseName(name string) (label string, pub ed25519.PublicKey, err error) {
	dot := len(name) - KeyChars - 1
	if dot < 1 || name[dot] != '.' {
		return "", nil, fmt.Errorf("%w: name %.120q is not <label>.<52-character key>", ErrMalformed, name)
	}
	label, key := name[:dot], name[dot+1:]
	if err := CheckLabel(label); err != nil {
		return "", nil, fmt.Errorf("%w: name %q: %v", ErrMalformed, name, err)
	}
	b, err := b32.DecodeString(key)
	if err != nil || len(b) != ed25519.PublicKeySize || b32.EncodeToString(b) != key {
		return "", nil, fmt.Errorf("%w: name %q: the key is not an ed25519 public key in lowercase base32", ErrMalformed, name)
	}
	return label, ed25519.PublicKey(b), nil
}

// CheckLabel reports whether label is [a-z0-9-]{1,63}, not starting or
// ending with '-'. Its errors are plain descriptions.
func CheckLabel(label string) error {
	if label == "" {
		return errors.New("the label is empty")
	}
	if len(label) > MaxLabel {
		return fmt.Errorf("the label is longer than %d characters", MaxLabel)
	}
	if label[0] == '-' || label[len(label)-1] == '-' {
		return fmt.Errorf("the label %q starts or ends with '-'", label)
	}
	for i := 0; i < len(label); i++ {
		if ch := label[i]; !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
			return fmt.Errorf("the label %q may hold only a-z, 0-9 and '-'", label)
		}
	}
	return nil
}

// message is what a record's signature covers.
func (r Record) message() []byte {
	b := make([]byte, 0, len(Domain)+len(r.Name)+len(r.Address)+64)
	b = append(b, Domain...)
	b = append(append(append(b, "name="...), r.Name...), '\n')
	b = append(append(append(b, "address="...), r.Address...), '\n')
	b = append(strconv.AppendUint(append(b, "seq="...), r.Seq, 10), '\n')
	b = append(strconv.AppendInt(append(b, "expires="...), r.Expires, 10), '\n')
	return b
}

// Sign returns the record binding NameFor(priv's public key, label) to
// address, signed by priv. The address is stored in its canonical crab://
// form. Errors wrap ErrMalformed.
func Sign(priv ed25519.PrivateKey, label, address string, seq uint64, expires int64) (Record, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return Record{}, fmt.Errorf("%w: the private key is %d bytes, not %d", ErrMalformed, len(priv), ed25519.PrivateKeySize)
	}
	if err := CheckLabel(label); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	a, err := cid.ParseAddress(address)
	if err != nil {
		return Record{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	r := Record{Name: NameFor(priv.Public().(ed25519.PublicKey), label), Address: a.String(), Seq: seq, Expires: expires}
	if err := r.checkFields(); err != nil {
		return Record{}, err
	}
	r.Sig = ed25519.Sign(priv, r.message())
	return r, nil
}

// check checks everything but the signature and the expiry.
func (r Record) check() error {
	if err := r.checkFields(); err != nil {
		return err
	}
	if len(r.Sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: the signature is %d bytes, not %d", ErrMalformed, len(r.Sig), ed25519.SignatureSize)
	}
	return nil
}

// checkFields checks the signed fields' form.
func (r Record) checkFields() error {
	if _, _, err := ParseName(r.Name); err != nil {
		return err
	}
	a, err := cid.ParseAddress(r.Address)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if a.String() != r.Address {
		return fmt.Errorf("%w: the address must be written %q", ErrMalformed, a.String())
	}
	if r.Expires < 0 {
		return fmt.Errorf("%w: expires is negative (%d)", ErrMalformed, r.Expires)
	}
	return nil
}

// verifySig checks the record's form and signature, not its expiry.
func (r Record) verifySig() error {
	if err := r.check(); err != nil {
		return err
	}
	_, pub, _ := ParseName(r.Name)
	if !ed25519.Verify(pub, r.message(), r.Sig) {
		return fmt.Errorf("%w: record for %s", ErrBadSignature, r.Name)
	}
	return nil
}

// Verify checks the name's syntax, that the key in the name made the
// signature, that the address parses (in its canonical form), and that the
// record has not expired at now.
func (r Record) Verify(now time.Time) error {
	if err := r.verifySig(); err != nil {
		return err
	}
	if r.Expired(now) {
		return fmt.Errorf("%w: the record for %s expired at %s", ErrExpired, r.Name, time.Unix(r.Expires, 0).UTC().Format(time.RFC3339))
	}
	return nil
}

// Expired reports whether the record has expired at now (from its Expires
// second on; never when Expires is 0).
func (r Record) Expired(now time.Time) bool {
	return r.Expires != 0 && !now.Before(time.Unix(r.Expires, 0))
}

// Newer reports whether a wins over b: a higher Seq, or at equal Seq
// lexicographically greater signature bytes. It is a strict order on
// distinct records, so every node converges on the same record.
func Newer(a, b Record) bool {
	if a.Seq != b.Seq {
		return a.Seq > b.Seq
	}
	return bytes.Compare(a.Sig, b.Sig) > 0
}

// ParseRecord decodes a record's JSON (at most MaxRecord bytes, no unknown
// fields, nothing after it) and checks its form, not its signature or
// expiry (Verify does). Errors wrap ErrMalformed.
func ParseRecord(b []byte) (Record, error) {
	if len(b) > MaxRecord {
		return Record{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxRecord)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var r Record
	if err := d.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return Record{}, fmt.Errorf("%w: data after the record", ErrMalformed)
	}
	if err := r.check(); err != nil {
		return Record{}, err
	}
	return r, nil
}
