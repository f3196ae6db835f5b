package modtld

import (
	"crypto/ed25519"
	"errors"
	"fmt"

	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/ronsig"
)

// Domain-separation lines: the first bytes of every signed message, so a
// .mod signature can never be replayed as another kind of statement.
const (
	DomainModerator = "ronhost .mod moderator v1\n"
	DomainVerdict   = "ronhost .mod verdict v1\n"
)

// SigningMessage returns the bytes every signature in t is over:
//
//	DomainModerator or DomainVerdict (by the kind of t), then
//	the SDK's canonical JSON (ronsig.Message: compact, object keys sorted
//	by bytes, strings escaped as encoding/json does without HTML escaping,
//	integers in decimal) of the normalized [mod] table with every
//	"signature" member removed.
//
// t must be normalized (what Validate writes back): defaults written out,
// labels sorted, the verdict's time in UTC, its moderators sorted by key.
// All moderators of a verdict sign the same message, which covers the
// verdict, every moderator's key, payout and weight, and treasury_bps.
func SigningMessage(t Table) ([]byte, error) {
	domain := DomainVerdict
	switch {
	case t.Moderator != nil && t.Verdict != nil:
		return nil, errors.New("modtld: a table holds a moderator entry or a verdict, not both")
	case t.Moderator != nil:
		domain = DomainModerator
		m := *t.Moderator
		m.Signature = ""
		t.Moderator = &m
	case t.Verdict != nil:
		v := *t.Verdict
		v.Moderators = append([]Signer(nil), v.Moderators...)
		for i := range v.Moderators {
			v.Moderators[i].Signature = ""
		}
		t.Verdict = &v
	default:
		return nil, errors.New("modtld: an empty table")
	}
	msg, err := ronsig.Message(domain, t)
	if err != nil {
		return nil, fmt.Errorf("modtld: %w", err)
	}
	return msg, nil
}

// verify checks every signature in the normalized table t.
func verify(t Table, errs *ron.Errors) {
	msg, err := SigningMessage(t)
	if err != nil {
		errs.AddErr(TLD, err)
		return
	}
	check := func(path, key, sig string) {
		if !ronsig.Verify(key, sig, msg) {
			errs.Addf(path, CodeSignature, "the signature does not verify with %s over the normalized [mod] table", key)
		}
	}
	if t.Moderator != nil {
		check("mod.moderator.signature", t.Moderator.Key, t.Moderator.Signature)
		return
	}
	for _, s := range t.Verdict.Moderators {
		check(fmt.Sprintf("mod.verdict.moderators[%d].signature", s.at), s.Key, s.Signature)
	}
}

// PublicKey formats an ed25519 public key as a .mod key ("ed25519:<hex>").
func PublicKey(pub ed25519.PublicKey) string { return ronsig.FormatKey(pub) }

// Sign fills in the signatures of the normalized table t: the moderator
// entry's with its key's private key, or each verdict moderator's with the
// private key of the same public key from privs. It is for tools and tests;
// the plugin only verifies.
func Sign(t *Table, privs ...ed25519.PrivateKey) error {
	msg, err := SigningMessage(*t)
	if err != nil {
		return err
	}
	byKey := map[string]ed25519.PrivateKey{}
	for _, p := range privs {
		byKey[PublicKey(p.Public().(ed25519.PublicKey))] = p
	}
	sign := func(key string) (string, error) {
		p, ok := byKey[key]
		if !ok {
			return "", fmt.Errorf("modtld: no private key for %s", key)
		}
		return ronsig.Sign(p, msg), nil
	}
	if t.Moderator != nil {
		sig, err := sign(t.Moderator.Key)
		if err != nil {
			return err
		}
		t.Moderator.Signature = sig
		return nil
	}
	for i := range t.Verdict.Moderators {
		sig, err := sign(t.Verdict.Moderators[i].Key)
		if err != nil {
			return err
		}
		t.Verdict.Moderators[i].Signature = sig
	}
	return nil
}
