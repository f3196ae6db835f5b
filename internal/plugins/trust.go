package plugins

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// A publisher signs a plugin's hash with ed25519. Keys are written
// "ed25519:<64 hex>"; a signature is a small JSON document, usually kept
// beside the module as NAME.wasm.sig:
//
//	{"plugin":"b3:<hex>","publisher":"ed25519:<hex>","signature":"<128 hex>"}
//
// The signed message is signContext followed by the plugin hash, so a
// signature over a plugin can never be mistaken for one over anything else.
const signContext = "ronhost plugin signature v1\n"

const (
	pubPrefix  = "ed25519:"
	seedPrefix = "ronhost-ed25519-seed:"
)

// PublicKey is a publisher's ed25519 public key.
type PublicKey ed25519.PublicKey

// String renders the key as "ed25519:<hex>".
func (k PublicKey) String() string { return pubPrefix + hex.EncodeToString(k) }

// ParsePublicKey parses "ed25519:<64 hex>".
func ParsePublicKey(s string) (PublicKey, error) {
	h, ok := strings.CutPrefix(strings.TrimSpace(s), pubPrefix)
	b, err := hex.DecodeString(h)
	if !ok || err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("plugins: %q is not a public key (want ed25519:<64 hex digits>)", s)
	}
	return PublicKey(b), nil
}

// PrivateKey is a publisher's signing key.
type PrivateKey ed25519.PrivateKey

// GenerateKey makes a new publisher key pair.
func GenerateKey() (PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("plugins: generating key: %w", err)
	}
	return PrivateKey(priv), nil
}

// Public returns the key's public half.
func (k PrivateKey) Public() PublicKey {
	return PublicKey(ed25519.PrivateKey(k).Public().(ed25519.PublicKey))
}

// MarshalText renders the key as one line to keep in a 0600 file.
func (k PrivateKey) MarshalText() []byte {
	return []byte(seedPrefix + hex.EncodeToString(ed25519.PrivateKey(k).Seed()) + "\n")
}

// ParsePrivateKey parses what MarshalText wrote.
func ParsePrivateKey(b []byte) (PrivateKey, error) {
	h, ok := strings.CutPrefix(strings.TrimSpace(string(b)), seedPrefix)
	seed, err := hex.DecodeString(h)
	if !ok || err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("plugins: not a ronhost private key file (want %s<64 hex digits>)", seedPrefix)
	}
	return PrivateKey(ed25519.NewKeyFromSeed(seed)), nil
}

// Signature is a publisher's signature over a plugin hash.
type Signature struct {
	Plugin    string `json:"plugin"`
	Publisher string `json:"publisher"`
	Signature string `json:"signature"`
}

// Sign signs the plugin hash with k.
func Sign(k PrivateKey, pluginHash string) Signature {
	sig := ed25519.Sign(ed25519.PrivateKey(k), []byte(signContext+pluginHash))
	return Signature{Plugin: pluginHash, Publisher: k.Public().String(), Signature: hex.EncodeToString(sig)}
}

// ParseSignature decodes a signature document.
func ParseSignature(b []byte) (Signature, error) {
	var s Signature
	if err := decodeStrict(bytes.TrimSpace(b), &s); err != nil {
		return s, fmt.Errorf("%w: not a signature document: %v", ErrBadSignature, err)
	}
	return s, nil
}

// Marshal encodes the signature document.
func (s Signature) Marshal() []byte {
	b, _ := json.MarshalIndent(s, "", "  ")
	return append(b, '\n')
}

// Verify checks the signature is the publisher's over pluginHash.
func (s Signature) Verify(pluginHash string) (PublicKey, error) {
	if s.Plugin != pluginHash {
		return nil, fmt.Errorf("%w: it signs %s, the plugin is %s", ErrBadSignature, s.Plugin, pluginHash)
	}
	pub, err := ParsePublicKey(s.Publisher)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	sig, err := hex.DecodeString(s.Signature)
	if err != nil || !ed25519.Verify(ed25519.PublicKey(pub), []byte(signContext+pluginHash), sig) {
		return nil, fmt.Errorf("%w: the signature does not verify for %s", ErrBadSignature, s.Publisher)
	}
	return pub, nil
}

// TrustPolicy decides whether a plugin may be installed.
type TrustPolicy struct {
	Trusted       []PublicKey // publishers whose signed plugins install
	AllowUnsigned bool        // the operator accepts unsigned or untrusted plugins
}

// Check returns nil when the plugin with hash may be installed given its
// signature (nil when unsigned). A bad signature is refused even with
// AllowUnsigned: it means the module or its signature was tampered with.
func (tp TrustPolicy) Check(hash string, sig *Signature) error {
	if sig == nil {
		if tp.AllowUnsigned {
			return nil
		}
		return fmt.Errorf("%w: %s has no signature (sign it, or install with --allow-unsigned)", ErrUnsigned, hash)
	}
	pub, err := sig.Verify(hash)
	if err != nil {
		return err
	}
	for _, t := range tp.Trusted {
		if bytes.Equal(t, pub) {
			return nil
		}
	}
	if tp.AllowUnsigned {
		return nil
	}
	return fmt.Errorf("%w: %s is signed by %s, which is not in the node's trusted publishers (add it to [plugins] trusted_publishers, or install with --allow-unsigned)", ErrUntrusted, hash, sig.Publisher)
}

// CheckReplaceBuiltin returns nil when the plugin with hash may take a TLD
// that a built-in plugin serves: only when signed by a trusted publisher,
// or when the operator said so explicitly (replace). Being allowed to
// install unsigned plugins is not enough to replace a built-in.
func (tp TrustPolicy) CheckReplaceBuiltin(tld, hash string, sig *Signature, replace bool) error {
	if replace {
		return nil
	}
	if sig != nil {
		if pub, err := sig.Verify(hash); err == nil {
			for _, t := range tp.Trusted {
				if bytes.Equal(t, pub) {
					return nil
				}
			}
		}
	}
	who := "unsigned"
	if sig != nil {
		who = "signed by " + sig.Publisher + ", not a trusted publisher"
	}
	return fmt.Errorf("%w: .%s is served by the built-in plugin; %s (%s) replaces it only when signed by a trusted publisher, or with --replace-builtin",
		ErrReplacesBuiltin, tld, hash, who)
}
