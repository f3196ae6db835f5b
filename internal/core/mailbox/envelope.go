package mailbox

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/curve25519"
)

// DefaultMaxBody is the default cap on a message body.
const DefaultMaxBody = 64 << 10

// MaxContentType bounds a message's content type.
const MaxContentType = 255

// DefaultContentType is the content type of a message sent without one.
const DefaultContentType = "application/octet-stream"

// maxEnvelope is the largest envelope accepted for bodies of at most
// maxBody bytes: the base64 of the body and the inner header, plus the
// JSON header (about 96 KiB for the default 64 KiB body).
func maxEnvelope(maxBody int) int {
	return base64.StdEncoding.EncodedLen(maxBody+innerOverhead+MaxContentType+chacha20poly1305.Overhead) + 2048
}

// innerOverhead is the size of the inner plaintext without content type
// and body: version, recipient keys, signature, content type length.
const innerOverhead = 1 + 64 + ed25519.SignatureSize + 1

const (
	envelopeVersion = 1
	innerVersion    = 1
	sealInfo        = "ronhost mailbox seal v1"
	messageDomain   = "ronhost mailbox message v1\n"
	envelopeDomain  = "ronhost mailbox envelope v1\n"
	receiptDomain   = "ronhost mailbox receipt v1\n"
)

// Envelope is a sealed message as it travels and as it is stored. Its JSON
// form:
//
//	{"v":1, "id":"<32 hex>", "from":"<sender address>", "to":"<recipient keys>",
//	 "created":<unix s>, "expires":<unix s>, "epk":"<base64 32 bytes>", "sealed":"<base64>"}
//
// The header (every field but sealed) is in the clear and bound to the
// ciphertext as associated data. Only the canonical form is accepted: the
// fields in that order, no white space, JSON strings as Go's encoding/json
// writes them, standard base64 with padding; so no byte of an envelope can
// change without it being refused.
type Envelope struct {
	Version int    `json:"v"`
	ID      string `json:"id"`
	From    string `json:"from"`
	To      string `json:"to"`
	Created int64  `json:"created"`
	Expires int64  `json:"expires"`
	EPK     []byte `json:"epk"`
	Sealed  []byte `json:"sealed"`

	from Address
	to   Keys
}

// Sender returns the parsed sender address.
func (e *Envelope) Sender() Address { return e.from }

// Recipient returns the parsed recipient keys.
func (e *Envelope) Recipient() Keys { return e.to }

// Expired reports whether e has expired at now.
func (e *Envelope) Expired(now time.Time) bool { return now.Unix() >= e.Expires }

// header returns the associated data: the header fields, one per line
// (none can hold a newline).
func (e *Envelope) header() []byte {
	var b bytes.Buffer
	b.WriteString(envelopeDomain)
	e.signedHeader(&b)
	b.WriteString(hex.EncodeToString(e.EPK))
	return b.Bytes()
}

func (e *Envelope) signedHeader(b *bytes.Buffer) {
	b.WriteString("id=" + e.ID + "\n")
	b.WriteString("from=" + e.From + "\n")
	b.WriteString("to=" + e.To + "\n")
	b.WriteString("created=" + strconv.FormatInt(e.Created, 10) + "\n")
	b.WriteString("expires=" + strconv.FormatInt(e.Expires, 10) + "\n")
}

// signedBytes is what the sender signs: the header without the ephemeral
// key, the content type and the body.
func (e *Envelope) signedBytes(contentType string, body []byte) []byte {
	var b bytes.Buffer
	b.WriteString(messageDomain)
	e.signedHeader(&b)
	b.WriteString("content-type=" + contentType + "\n")
	b.Write(body)
	return b.Bytes()
}

// Marshal returns the JSON form of e.
func (e *Envelope) Marshal() []byte {
	b, err := json.Marshal(e)
	if err != nil {
		panic(err) // plain fields only
	}
	return b
}

// ParseEnvelope parses and checks the JSON form of an envelope of at most
// maxBytes bytes (0: the default cap). It checks the header's syntax, not
// the seal: only the recipient can (Identity.Open). Errors wrap
// ErrTooLarge or ErrBadEnvelope.
func ParseEnvelope(b []byte, maxBytes int) (*Envelope, error) {
	if maxBytes <= 0 {
		maxBytes = maxEnvelope(DefaultMaxBody)
	}
	if len(b) > maxBytes {
		return nil, fmt.Errorf("%w: envelope of %d bytes (at most %d)", ErrTooLarge, len(b), maxBytes)
	}
	var e Envelope
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEnvelope, err)
	}
	if d.More() {
		return nil, fmt.Errorf("%w: data after the envelope", ErrBadEnvelope)
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	if !bytes.Equal(e.Marshal(), b) {
		return nil, fmt.Errorf("%w: not in canonical form (fields in order, no spaces, standard padded base64)", ErrBadEnvelope)
	}
	return &e, nil
}

func (e *Envelope) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadEnvelope}, args...)...)
	}
	if e.Version != envelopeVersion {
		return bad("version %d (this node reads %d)", e.Version, envelopeVersion)
	}
	if !validID(e.ID) {
		return bad("id %.40q is not 32 lowercase hex digits", e.ID)
	}
	var err error
	if e.from, err = ParseAddress(e.From); err != nil {
		return bad("from: %v", err)
	}
	if e.to, err = ParseKeys(e.To); err != nil {
		return bad("to: %v", err)
	}
	if e.Created <= 0 || e.Expires <= e.Created {
		return bad("created %d, expires %d", e.Created, e.Expires)
	}
	if len(e.EPK) != curve25519.PointSize {
		return bad("epk is %d bytes, not %d", len(e.EPK), curve25519.PointSize)
	}
	if len(e.Sealed) < innerOverhead+chacha20poly1305.Overhead {
		return bad("sealed part of %d bytes is too short", len(e.Sealed))
	}
	return nil
}

// validID reports whether id is 16 bytes in lowercase hex.
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// newID returns a new random message id.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("mailbox: message id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func checkContentType(ct string) error {
	if len(ct) > MaxContentType {
		return fmt.Errorf("%w: content type longer than %d bytes", ErrBadEnvelope, MaxContentType)
	}
	for _, c := range []byte(ct) {
		if c < 0x20 || c > 0x7e {
			return fmt.Errorf("%w: content type must be printable ASCII", ErrBadEnvelope)
		}
	}
	return nil
}

// Seal signs and seals a message from id (at address from) to the
// recipient to: the inner plaintext (the recipient's keys, the sender's
// signature over the header, content type and body, the content type and
// the body) is encrypted with ChaCha20-Poly1305 under a key derived with
// HKDF-SHA256 from an ephemeral X25519 exchange with to.Box, the header as
// associated data.
func (id *Identity) Seal(msgID string, from Address, to Keys, created, expires time.Time, contentType string, body []byte) (*Envelope, error) {
	if from.Keys != id.keys {
		return nil, fmt.Errorf("mailbox: seal: the sender address is not this identity's")
	}
	if contentType == "" {
		contentType = DefaultContentType
	}
	if err := checkContentType(contentType); err != nil {
		return nil, err
	}
	e := &Envelope{
		Version: envelopeVersion, ID: msgID, From: from.String(), To: to.String(),
		Created: created.Unix(), Expires: expires.Unix(),
	}
	var esk [32]byte
	if _, err := rand.Read(esk[:]); err != nil {
		return nil, fmt.Errorf("mailbox: seal: %w", err)
	}
	epk, err := curve25519.X25519(esk[:], curve25519.Basepoint)
	if err != nil {
		return nil, fmt.Errorf("mailbox: seal: %w", err)
	}
	e.EPK = epk
	sig := ed25519.Sign(id.sign, e.signedBytes(contentType, body))
	inner := make([]byte, 0, innerOverhead+len(contentType)+len(body))
	inner = append(inner, innerVersion)
	inner = append(inner, to.Sign[:]...)
	inner = append(inner, to.Box[:]...)
	inner = append(inner, sig...)
	inner = append(inner, byte(len(contentType)))
	inner = append(inner, contentType...)
	inner = append(inner, body...)
	if err := e.encrypt(esk[:], to, inner); err != nil {
		return nil, err
	}
	if err := e.check(); err != nil {
		return nil, fmt.Errorf("mailbox: seal: %w", err)
	}
	return e, nil
}

// encrypt seals inner to to.Box with the ephemeral private key esk (whose
// public key is e.EPK).
func (e *Envelope) encrypt(esk []byte, to Keys, inner []byte) error {
	aead, err := sealKey(esk, to.Box[:], e.EPK, to.Box[:])
	if err != nil {
		return err
	}
	var nonce [chacha20poly1305.NonceSize]byte // each key seals once
	e.Sealed = aead.Seal(nil, nonce[:], inner, e.header())
	return nil
}

// sealKey derives the AEAD from the X25519 exchange of priv and pub, bound
// to the ephemeral and recipient public keys.
func sealKey(priv, pub, epk, rpk []byte) (interface {
	Seal(dst, nonce, plaintext, ad []byte) []byte
	Open(dst, nonce, ciphertext, ad []byte) ([]byte, error)
}, error) {
	shared, err := curve25519.X25519(priv, pub)
	if err != nil { // a low-order point
		return nil, fmt.Errorf("%w: key exchange: %v", ErrBadEnvelope, err)
	}
	salt := append(append(make([]byte, 0, 64), epk...), rpk...)
	key, err := hkdf.Key(sha256.New, shared, salt, sealInfo, chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("mailbox: hkdf: %w", err)
	}
	return chacha20poly1305.New(key)
}

// Opened is an envelope's verified content.
type Opened struct {
	ContentType string
	Body        []byte
}

// Open decrypts and verifies an envelope sealed to id: the header must name
// id's keys as recipient (else ErrNotForUs), the seal must open under the
// header (else ErrBadEnvelope), the inner recipient must be id (else
// ErrNotForUs: a recipient re-sealing a message it received to someone
// else) and the signature must verify with the sender's key in the header
// (else ErrBadEnvelope). It does not check expiry.
func (id *Identity) Open(e *Envelope) (*Opened, error) {
	if e.to != id.keys {
		return nil, fmt.Errorf("%w: the envelope is addressed to %s", ErrNotForUs, e.To)
	}
	aead, err := sealKey(id.box[:], e.EPK, e.EPK, id.keys.Box[:])
	if err != nil {
		return nil, err
	}
	var nonce [chacha20poly1305.NonceSize]byte
	inner, err := aead.Open(nil, nonce[:], e.Sealed, e.header())
	if err != nil {
		return nil, fmt.Errorf("%w: the seal does not open (tampered, or sealed to another key)", ErrBadEnvelope)
	}
	if len(inner) < innerOverhead || inner[0] != innerVersion {
		return nil, fmt.Errorf("%w: inner message version", ErrBadEnvelope)
	}
	var inTo Keys
	copy(inTo.Sign[:], inner[1:33])
	copy(inTo.Box[:], inner[33:65])
	if inTo != id.keys {
		return nil, fmt.Errorf("%w: the message inside was sent to %s (forwarded)", ErrNotForUs, inTo)
	}
	sig := inner[65 : 65+ed25519.SignatureSize]
	n := int(inner[innerOverhead-1])
	rest := inner[innerOverhead:]
	if len(rest) < n {
		return nil, fmt.Errorf("%w: inner content type", ErrBadEnvelope)
	}
	ct, body := string(rest[:n]), rest[n:]
	if err := checkContentType(ct); err != nil {
		return nil, err
	}
	if !ed25519.Verify(e.from.Keys.Sign[:], e.signedBytes(ct, body), sig) {
		return nil, fmt.Errorf("%w: bad sender signature", ErrBadEnvelope)
	}
	return &Opened{ContentType: ct, Body: body}, nil
}

// Receipt is a recipient's signed acknowledgement that it stored a message.
// Sig is the recipient's ed25519 signature of
//
//	"ronhost mailbox receipt v1\n" "id=" ID "\n" "to=" To "\n" "received=" <unix ns> "\n"
type Receipt struct {
	ID       string    `json:"id"`
	To       string    `json:"to"` // the recipient's keys
	Received time.Time `json:"received"`
	Sig      []byte    `json:"sig"`
}

func (r *Receipt) signed() []byte {
	return []byte(receiptDomain + "id=" + r.ID + "\nto=" + r.To + "\nreceived=" + strconv.FormatInt(r.Received.UnixNano(), 10) + "\n")
}

func (id *Identity) signReceipt(msgID string, received time.Time) Receipt {
	r := Receipt{ID: msgID, To: id.keys.String(), Received: time.Unix(0, received.UnixNano()).UTC()}
	r.Sig = ed25519.Sign(id.sign, r.signed())
	return r
}

// Verify checks that r acknowledges message msgID and is signed by the
// recipient to.
func (r *Receipt) Verify(msgID string, to Keys) error {
	if r.ID != msgID || r.To != to.String() {
		return fmt.Errorf("%w: receipt for %s at %s, want %s at %s", ErrBadReceipt, r.ID, r.To, msgID, to)
	}
	if !ed25519.Verify(to.Sign[:], r.signed(), r.Sig) {
		return fmt.Errorf("%w: bad signature", ErrBadReceipt)
	}
	return nil
}
