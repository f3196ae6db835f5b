package algtld

import (
	"crypto/ed25519"
	"fmt"

	ron "github.com/ronhost/ronhost/sdk-wasm"
	"github.com/ronhost/ronhost/sdk-wasm/ronsig"
)

// DomainAudit is the first line of every signed audit message, so an audit
// signature can never be replayed as another kind of statement.
const DomainAudit = "ronhost .alg audit v1\n"

// AuditMessage returns the bytes an auditor signs: DomainAudit, then the
// SDK's canonical JSON (ronsig.Message: compact, object keys sorted by
// bytes, strings escaped as encoding/json does without HTML escaping,
// integers in decimal) of the normalized audit without its
// "signature" member (and without "report" when it has none):
//
//	ronhost .alg audit v1
//	{"auditor":"...","code":"b3:...","date":"2026-02-10","key":"ed25519:...","payout":"...","report":"b3:...","result":"pass","version":"2.1.0"}
//
// The message covers the code CID and version audited, not the manifest
// listing the audit, so later manifests can carry the audit unchanged.
func AuditMessage(a Audit) ([]byte, error) {
	a.Signature = ""
	msg, err := ronsig.Message(DomainAudit, a)
	if err != nil {
		return nil, fmt.Errorf("algtld: %w", err)
	}
	return msg, nil
}

// verify checks the signature of every audit in the normalized table t.
func verify(t Table, errs *ron.Errors) {
	for _, a := range t.Audits {
		msg, err := AuditMessage(a)
		if err != nil {
			errs.AddErr(fmt.Sprintf("alg.audits[%d]", a.at), err)
			continue
		}
		if !ronsig.Verify(a.Key, a.Signature, msg) {
			errs.Addf(fmt.Sprintf("alg.audits[%d].signature", a.at), CodeSignature, "the signature does not verify with %s over the normalized audit", a.Key)
		}
	}
}

// PublicKey formats an ed25519 public key as a .alg key ("ed25519:<hex>").
func PublicKey(pub ed25519.PublicKey) string { return ronsig.FormatKey(pub) }

// Sign sets a.Key to priv's public key and a.Signature to priv's signature
// of AuditMessage(a). a must be normalized (see Validate). It is for tools
// and tests; the plugin only verifies.
func Sign(a *Audit, priv ed25519.PrivateKey) error {
	a.Key = PublicKey(priv.Public().(ed25519.PublicKey))
	msg, err := AuditMessage(*a)
	if err != nil {
		return err
	}
	a.Signature = ronsig.Sign(priv, msg)
	return nil
}
