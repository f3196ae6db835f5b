package ronsig

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"
)

func key(n byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, ed25519.SeedSize))
}

type verdict struct {
	Target    string   `json:"target"`
	Labels    []string `json:"labels"`
	Weight    uint64   `json:"weight"`
	Note      string   `json:"note"`
	Signature string   `json:"signature,omitempty"`
}

func TestMessageIsDomainAndCanonicalJSON(t *testing.T) {
	msg, err := Message("test v1\n", verdict{Target: "b3:ab", Labels: []string{"spam", "<ok>"}, Weight: 1 << 53, Note: "é\u2028"})
	if err != nil {
		t.Fatal(err)
	}
	want := "test v1\n" + `{"labels":["spam","<ok>"],"note":"é\u2028","target":"b3:ab","weight":9007199254740992}`
	if string(msg) != want {
		t.Fatalf("got  %s\nwant %s", msg, want)
	}
	// The same statement from a map, keys in another order: the same bytes.
	again, err := Message("test v1\n", map[string]any{"weight": uint64(1 << 53), "target": "b3:ab", "note": "é\u2028", "labels": []string{"spam", "<ok>"}})
	if err != nil || !bytes.Equal(again, msg) {
		t.Fatalf("%s %v", again, err)
	}
	if _, err := Message("x", []int{1}); err == nil || !strings.HasPrefix(err.Error(), "ronsig: ") {
		t.Fatalf("a JSON array is not a statement: %v", err)
	}
	if _, err := Message("x", func() {}); err == nil {
		t.Fatal("a func does not encode")
	}
}

func TestSignVerify(t *testing.T) {
	priv := key(1)
	k := FormatKey(priv.Public().(ed25519.PublicKey))
	if !strings.HasPrefix(k, KeyPrefix) || len(k) != len(KeyPrefix)+64 {
		t.Fatalf("key %q", k)
	}
	msg, _ := Message("test v1\n", verdict{Target: "b3:ab"})
	sig := Sign(priv, msg)
	if len(sig) != 128 || strings.ToLower(sig) != sig {
		t.Fatalf("signature %q", sig)
	}
	if !Verify(k, sig, msg) {
		t.Fatal("a good signature does not verify")
	}
	other, _ := Message("test v2\n", verdict{Target: "b3:ab"})
	tampered, _ := Message("test v1\n", verdict{Target: "b3:ac"})
	for name, c := range map[string]struct {
		key, sig string
		msg      []byte
	}{
		"other domain":    {k, sig, other},
		"other statement": {k, sig, tampered},
		"other key":       {FormatKey(key(2).Public().(ed25519.PublicKey)), sig, msg},
		"uppercase sig":   {k, strings.ToUpper(sig), msg},
		"short sig":       {k, sig[:126], msg},
		"no prefix":       {strings.TrimPrefix(k, KeyPrefix), sig, msg},
		"uppercase key":   {KeyPrefix + strings.ToUpper(k[len(KeyPrefix):]), sig, msg},
		"empty":           {"", "", msg},
	} {
		if Verify(c.key, c.sig, c.msg) {
			t.Errorf("%s: verifies", name)
		}
	}
}

func TestParse(t *testing.T) {
	pub := key(3).Public().(ed25519.PublicKey)
	if got, ok := ParseKey(FormatKey(pub)); !ok || !pub.Equal(got) {
		t.Fatalf("round trip: %x %v", got, ok)
	}
	for _, s := range []string{"", KeyPrefix, "ed25519:zz", KeyPrefix + strings.Repeat("a", 62), KeyPrefix + strings.Repeat("a", 66), "ed448:" + strings.Repeat("a", 64), " " + FormatKey(pub)} {
		if _, ok := ParseKey(s); ok {
			t.Errorf("ParseKey(%q) ok", s)
		}
	}
	if _, ok := ParseSignature(strings.Repeat("0f", 64)); !ok {
		t.Fatal("a signature-shaped string does not parse")
	}
	for _, s := range []string{"", "abcd", strings.Repeat("0F", 64), strings.Repeat("0g", 64), strings.Repeat("00", 65)} {
		if _, ok := ParseSignature(s); ok {
			t.Errorf("ParseSignature(%q) ok", s)
		}
	}
}
