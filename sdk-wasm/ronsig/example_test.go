package ronsig_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"

	"github.com/ronhost/ronhost/sdk-wasm/ronsig"
)

// A plugin defines what is signed (a statement without its signature) and
// a domain line; tools sign, the plugin verifies in Validate.
func Example() {
	type review struct {
		Target    string `json:"target"`
		Verdict   string `json:"verdict"`
		Key       string `json:"key"`
		Signature string `json:"signature,omitempty"`
	}
	const domain = "example .rev review v1\n"
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))

	r := review{Target: "b3:0f", Verdict: "good", Key: ronsig.FormatKey(priv.Public().(ed25519.PublicKey))}
	msg, _ := ronsig.Message(domain, r) // Signature is empty: left out
	r.Signature = ronsig.Sign(priv, msg)

	// Verifying: the message of the statement without its signature.
	unsigned := r
	unsigned.Signature = ""
	msg, _ = ronsig.Message(domain, unsigned)
	fmt.Println(ronsig.Verify(r.Key, r.Signature, msg))
	unsigned.Verdict = "bad" // tampered with
	msg, _ = ronsig.Message(domain, unsigned)
	fmt.Println(ronsig.Verify(r.Key, r.Signature, msg))
	// Output:
	// true
	// false
}
